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
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

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
    Refund,
    RefundStatus,
)
from paycore.provider import Provider, ProviderSettings
from paycore.signatures import KEY_PLACEHOLDER, SignatureCandidate, SignatureExplanation

__all__ = ["FakeProvider", "FakeSettings", "fake_sign"]


def fake_sign(fields: Mapping[str, str], secret: str) -> str:
    """HMAC-SHA256 over ``k=v`` pairs sorted by key, ``sign`` itself excluded."""
    message = "&".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "sign")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class FakeSettings(ProviderSettings):
    """Settings of the fake provider; all have defaults."""

    base_url: Annotated[str, pydantic.AfterValidator(toolkit.base_url)] = "https://fake-gateway.invalid"
    merchant_id: str = "fake-merchant"
    secret_key: Annotated[pydantic.SecretStr, pydantic.Field(min_length=1)] = pydantic.SecretStr("fake-secret")
    ack: str = "ok"


class FakeProvider(Provider[FakeSettings]):
    """A provider for tests, speaking to `FakeGateway`. Never for production."""

    settings_model = FakeSettings
    channels = frozenset(Channel)
    create_flows = frozenset(CreateFlow)
    # Several, so that a suite can try orders in other currencies than yuan.
    currencies = frozenset({"CNY", "EUR", "HKD", "JPY", "USD"})
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
            code = answer.get("code")
            kind = OrderNotFound if message == "no such order" else GatewayError
            raise kind(
                f"fake gateway refused: {message}",
                gateway_message=message,
                gateway_code=str(code) if code is not None else None,
            )
        return answer

    def _payment(self, order: Mapping[str, Any], raw: dict[str, Any]) -> Payment:
        try:
            return Payment(
                order_id=str(order["order_id"]),
                status=PaymentStatus(order["status"]),
                amount=Decimal(str(order["amount"])),
                currency=order["currency"],
                paid_amount=Decimal(str(order.get("paid_amount") or order["amount"]))
                if order["status"] == "paid"
                else None,
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
            "amount": toolkit.format_amount(order.amount, toolkit.minor_units(order.currency)),
            "currency": order.currency,
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
                currency=order.currency,
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
    def refund_payment(self, order_id: str, refund_id: str, amount: Decimal, reason: str | None) -> Flow[Refund]:
        fields = {"order_id": order_id, "refund_id": refund_id, "amount": f"{amount:.2f}"}
        if reason:
            fields["reason"] = reason
        answer = self._answer((yield self._post("/orders/refund", fields)))
        return self._refund(order_id, answer.get("refund", {}), answer)

    @hookimpl
    def query_refund(self, order_id: str, refund_id: str) -> Flow[Refund]:
        answer = self._answer(
            (yield self._post("/orders/refund/query", {"order_id": order_id, "refund_id": refund_id}))
        )
        return self._refund(order_id, answer.get("refund", {}), answer)

    def _refund(self, order_id: str, refund: Mapping[str, Any], raw: dict[str, Any]) -> Refund:
        try:
            return Refund(
                order_id=order_id,
                refund_id=str(refund["refund_id"]),
                status=RefundStatus(refund["status"]),
                amount=Decimal(str(refund["amount"])),
                refunded_at=datetime.fromisoformat(refund["refunded_at"]) if refund.get("refunded_at") else None,
                provider=self.name,
                account=self.account,
                raw=raw,
            )
        except (KeyError, ValueError, InvalidOperation) as exc:
            raise ProtocolError(f"fake gateway answered a malformed refund ({type(exc).__name__})") from None

    @hookimpl
    def verify_notification(self, request: NotificationRequest) -> Notification:
        fields = request.form_fields()
        required = ("merchant_id", "order_id", "amount", "currency", "status", "sign")
        missing = [key for key in required if not fields.get(key)]
        if missing:
            raise MissingField(f"notification lacks {', '.join(missing)}")
        # The signed string joins raw "k=v" pairs: a value holding "&" or "=" could stand for two fields.
        toolkit.unambiguous_pairs({name: value for name, value in fields.items() if name != "sign"})
        expected = fake_sign(fields, self.settings.secret_key.get_secret_value())
        if not hmac.compare_digest(expected.encode(), fields["sign"].lower().encode()):
            raise SignatureError("notification signature does not match")
        if fields["merchant_id"] != self.settings.merchant_id:
            raise MerchantMismatch("notification is for another merchant id")
        try:
            amount = Decimal(fields["amount"])
            paid_amount = Decimal(fields.get("paid_amount") or fields["amount"])
            status = PaymentStatus(fields["status"])
        except (InvalidOperation, ValueError):
            raise MalformedNotification("notification carries a bad amount or status") from None
        if not all(value.is_finite() and value > 0 for value in (amount, paid_amount)):
            raise MalformedAmount("notification amount is not a positive number")
        return Notification(
            order_id=fields["order_id"],
            status=status,
            amount=amount,
            currency=fields["currency"],
            paid_amount=paid_amount if status is PaymentStatus.PAID else None,
            transaction_id=fields.get("transaction_id") or None,
            attach=fields.get("attach"),
            provider=self.name,
            account=self.account,
            raw=fields,
            ack=Reply(body=self.settings.ack),
        )

    @hookimpl
    def explain_signature(self, request: NotificationRequest) -> SignatureExplanation:
        fields = request.form_fields()
        expected = fake_sign(fields, self.settings.secret_key.get_secret_value())
        received = fields.get("sign") or None
        text = "&".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "sign")
        candidate = SignatureCandidate(
            label="fake",
            signed_text=f"HMAC-SHA256({KEY_PLACEHOLDER}, {text})",
            digest=expected,
            matched=received is not None and hmac.compare_digest(expected.encode(), received.lower().encode()),
        )
        return SignatureExplanation(
            rule="HMAC-SHA256 with the key over name=value pairs sorted by name, joined with &, sign left out",
            received=received,
            candidates=(candidate,),
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
