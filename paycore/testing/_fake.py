"""An in-memory fake gateway and the provider that speaks to it.

The fake protocol is paycore's own, small and signed (HMAC-SHA256), so that the
core can be tested end to end without any real provider::

    fake = FakeGateway()
    gateway = paycore.Gateway(FakeProvider, transport=httpx.MockTransport(fake))
    payment = gateway.create(order)
    body = fake.pay(order.order_id)              # the notification the fake sends
    notification = gateway.verify_notification(body)

Requests (JSON, POST): ``/orders`` creates, ``/orders/query`` queries,
``/orders/close`` closes. Answers are ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``. Notifications are form bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import pydantic

from paycore import toolkit
from paycore.errors import (
    GatewayError,
    MalformedAmount,
    MalformedNotification,
    MerchantMismatch,
    MissingField,
    OrderNotFound,
    ProtocolError,
    SignatureError,
)
from paycore.hookspecs import Flow, hookimpl
from paycore.http import NotificationRequest, Reply
from paycore.models import (
    BrowserReturn,
    Channel,
    CreateFlow,
    Notification,
    Order,
    Payment,
    PaymentForm,
    PaymentStatus,
)
from paycore.provider import Provider, ProviderSettings

__all__ = ["FakeGateway", "FakeProvider", "FakeSettings", "fake_sign"]


def fake_sign(fields: Mapping[str, str], secret: str) -> str:
    """HMAC-SHA256 over ``k=v`` pairs sorted by key, ``sign`` itself excluded."""
    message = "&".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "sign")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class FakeSettings(ProviderSettings):
    """Settings of the fake provider; all have defaults."""

    base_url: Annotated[str, pydantic.AfterValidator(toolkit.base_url)] = "https://fake-gateway.invalid"
    merchant_id: str = "fake-merchant"
    secret_key: pydantic.SecretStr = pydantic.SecretStr("fake-secret")
    ack: str = "ok"


class FakeProvider(Provider[FakeSettings]):
    """A provider for tests, speaking to `FakeGateway`. Never for production."""

    settings_model = FakeSettings
    channels = frozenset(Channel)
    create_flows = frozenset(CreateFlow)
    testing = True
    provider_name = "fake"

    def _signed(self, fields: dict[str, str]) -> dict[str, str]:
        fields["merchant_id"] = self.settings.merchant_id
        fields["sign"] = fake_sign(fields, self.settings.secret_key.get_secret_value())
        return fields

    def _post(self, path: str, fields: dict[str, str]) -> httpx.Request:
        return httpx.Request("POST", self.settings.base_url.rstrip("/") + path, json=self._signed(fields))

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        try:
            answer = response.json()
        except ValueError:
            raise ProtocolError(f"fake gateway answered HTTP {response.status_code} without JSON") from None
        if not isinstance(answer, dict) or "ok" not in answer:
            raise ProtocolError("fake gateway answered an unknown JSON shape")
        if answer["ok"] is not True:
            message = str(answer.get("error", "unknown error"))
            kind = OrderNotFound if message == "no such order" else GatewayError
            raise kind(f"fake gateway refused: {message}", gateway_message=message)
        return answer

    def _payment(self, order: Mapping[str, Any], raw: dict[str, Any]) -> Payment:
        try:
            return Payment(
                order_id=str(order["order_id"]),
                status=PaymentStatus(order["status"]),
                amount=Decimal(str(order["amount"])),
                paid_amount=Decimal(str(order["amount"])) if order["status"] == "paid" else None,
                transaction_id=order.get("transaction_id"),
                paid_at=datetime.fromisoformat(order["paid_at"]) if order.get("paid_at") else None,
                pay_url=order.get("pay_url"),
                provider=self.name,
                account=self.account,
                raw=raw,
            )
        except (KeyError, ValueError, InvalidOperation) as exc:
            raise ProtocolError(f"fake gateway answered a malformed order ({type(exc).__name__})") from None

    @hookimpl
    def create_payment(self, order: Order, flow: CreateFlow) -> Flow[Payment]:
        fields = {
            "order_id": order.order_id,
            "amount": f"{order.amount:.2f}",
            "channel": str(order.channel),
            "subject": order.subject,
            "notify_url": order.notify_url,
        }
        if order.attach is not None:
            fields["attach"] = order.attach
        if flow is CreateFlow.FORM:
            action = self.settings.base_url.rstrip("/") + "/pay"
            return Payment(
                order_id=order.order_id,
                status=PaymentStatus.PENDING,
                amount=order.amount,
                form=PaymentForm(action=action, fields=self._signed(fields)),
                provider=self.name,
                account=self.account,
            )
        answer = self._answer((yield self._post("/orders", fields)))
        return self._payment(answer.get("order", {}), answer)

    @hookimpl
    def query_payment(self, order_id: str) -> Flow[Payment]:
        answer = self._answer((yield self._post("/orders/query", {"order_id": order_id})))
        return self._payment(answer.get("order", {}), answer)

    @hookimpl
    def close_payment(self, order_id: str) -> Flow[Payment]:
        answer = self._answer((yield self._post("/orders/close", {"order_id": order_id})))
        return self._payment(answer.get("order", {}), answer)

    @hookimpl
    def verify_notification(self, request: NotificationRequest) -> Notification:
        fields = request.form_fields()
        missing = [key for key in ("merchant_id", "order_id", "amount", "status", "sign") if not fields.get(key)]
        if missing:
            raise MissingField(f"notification lacks {', '.join(missing)}")
        expected = fake_sign(fields, self.settings.secret_key.get_secret_value())
        if not hmac.compare_digest(expected.encode(), fields["sign"].lower().encode()):
            raise SignatureError("notification signature does not match")
        if fields["merchant_id"] != self.settings.merchant_id:
            raise MerchantMismatch("notification is for another merchant id")
        try:
            amount = Decimal(fields["amount"])
            status = PaymentStatus(fields["status"])
        except (InvalidOperation, ValueError):
            raise MalformedNotification("notification carries a bad amount or status") from None
        if not amount.is_finite() or amount <= 0:
            raise MalformedAmount("notification amount is not a positive number")
        return Notification(
            order_id=fields["order_id"],
            status=status,
            amount=amount,
            paid_amount=amount if status is PaymentStatus.PAID else None,
            transaction_id=fields.get("transaction_id") or None,
            attach=fields.get("attach"),
            provider=self.name,
            account=self.account,
            raw=fields,
            ack=Reply(body=self.settings.ack),
        )

    @hookimpl
    def failure_reply(self, reason: str) -> Reply:
        return Reply(body=f"fail: {reason}", status=400)

    @hookimpl
    def notification_order_id(self, request: NotificationRequest) -> str | None:
        try:
            return request.form_fields().get("order_id") or None
        except MalformedNotification:
            return None

    @hookimpl
    def parse_return(self, request: NotificationRequest) -> BrowserReturn:
        # The fake sends the buyer back with ?order_id=...&status=..., unsigned.
        fields = request.query_fields()
        if not fields.get("order_id"):
            raise MissingField("browser return lacks order_id")
        try:
            claimed = PaymentStatus(fields.get("status", "unknown"))
        except ValueError:
            claimed = PaymentStatus.UNKNOWN
        return BrowserReturn(
            order_id=fields["order_id"],
            claimed_status=claimed,
            signature_checked=False,
            provider=self.name,
            account=self.account,
            raw=fields,
        )


@dataclass
class _FakeOrder:
    order_id: str
    amount: str
    attach: str | None
    status: str = "pending"
    transaction_id: str | None = None
    paid_at: str | None = None

    def as_json(self, base_url: str) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "amount": self.amount,
            "status": self.status,
            "transaction_id": self.transaction_id,
            "paid_at": self.paid_at,
            "pay_url": f"{base_url}/pay/{self.order_id}",
        }


class FakeGateway:
    """The fake gateway, in memory: an ``httpx.MockTransport`` handler.

    It checks signatures and merchant ids like a real gateway. ``pay`` and
    ``fail`` settle an order and return the notification body it would send.
    """

    def __init__(self, settings: FakeSettings | None = None) -> None:
        self.settings = settings or FakeSettings()
        self.orders: dict[str, _FakeOrder] = {}
        self.requests: list[httpx.Request] = []
        self._transactions = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        routes = {"/orders": self._create, "/orders/query": self._query, "/orders/close": self._close}
        route = routes.get(request.url.path)
        if request.method != "POST" or route is None:
            return httpx.Response(404, text="not found")
        try:
            fields = json.loads(request.content)
        except ValueError:
            return self._error("body is not JSON")
        if not isinstance(fields, dict) or not all(isinstance(value, str) for value in fields.values()):
            return self._error("body is not a JSON object of strings")
        if not hmac.compare_digest(fake_sign(fields, self._secret()), str(fields.get("sign", ""))):
            return self._error("bad signature")
        if fields.get("merchant_id") != self.settings.merchant_id:
            return self._error("unknown merchant")
        return route(fields)

    def _secret(self) -> str:
        return self.settings.secret_key.get_secret_value()

    def _error(self, message: str) -> httpx.Response:
        return httpx.Response(200, json={"ok": False, "error": message})

    def _ok(self, order: _FakeOrder) -> httpx.Response:
        return httpx.Response(200, json={"ok": True, "order": order.as_json(self.settings.base_url)})

    def _create(self, fields: dict[str, str]) -> httpx.Response:
        order_id = fields.get("order_id", "")
        if order_id in self.orders:
            return self._error("duplicate order id")
        order = _FakeOrder(order_id=order_id, amount=fields.get("amount", ""), attach=fields.get("attach"))
        self.orders[order_id] = order
        return self._ok(order)

    def _query(self, fields: dict[str, str]) -> httpx.Response:
        order = self.orders.get(fields.get("order_id", ""))
        return self._ok(order) if order else self._error("no such order")

    def _close(self, fields: dict[str, str]) -> httpx.Response:
        order = self.orders.get(fields.get("order_id", ""))
        if order is None:
            return self._error("no such order")
        if order.status != "pending":
            return self._error(f"order is {order.status}")
        order.status = "closed"
        return self._ok(order)

    def _settle(self, order_id: str, status: str) -> bytes:
        order = self.orders[order_id]
        self._transactions += 1
        order.status = status
        order.transaction_id = f"FAKE{self._transactions:08d}"
        order.paid_at = datetime.now(UTC).isoformat() if status == "paid" else None
        fields = {
            "merchant_id": self.settings.merchant_id,
            "order_id": order.order_id,
            "amount": order.amount,
            "status": status,
            "transaction_id": order.transaction_id,
        }
        if order.attach is not None:
            fields["attach"] = order.attach
        fields["sign"] = fake_sign(fields, self._secret())
        return urlencode(fields).encode()

    def pay(self, order_id: str) -> bytes:
        """Mark ``order_id`` paid; return the signed notification body."""
        return self._settle(order_id, "paid")

    def fail(self, order_id: str) -> bytes:
        """Mark ``order_id`` failed; return the signed notification body."""
        return self._settle(order_id, "failed")
