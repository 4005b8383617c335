"""The fake gateway: in memory, deterministic, and able to fail in each way real gateways fail.

It is an ``httpx.MockTransport`` handler (or a `LoopbackServer` handler)::

    fake = FakeGateway()
    gateway = paycore.Gateway(FakeProvider, transport=httpx.MockTransport(fake))
    gateway.create(order)
    fake.set_faults(["underpay"], order_id=order.order_id)  # or for every order: no order_id
    body = fake.pay(order.order_id)          # settles it; the signed notification body it sends
    fake.resend(order.order_id)              # the same notification again (same transaction, same sign)
    fake.deliver(order.order_id)             # POSTs it to the order's notify_url over real HTTP

Faults (`FakeFault`) change what the gateway answers or sends; see the testing guide.
"""

from __future__ import annotations

import enum
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import httpx

from paycore.errors import InvalidRequest
from paycore.http import NotificationRequest
from paycore.testing._fake import FakeSettings, fake_sign

__all__ = ["Break", "FakeFault", "FakeGateway"]

#: How `FakeGateway.notification_request` can spoil a notification it builds.
Break = Literal["signature", "amount", "merchant", "unsigned"]

_CENT = Decimal("0.01")


class FakeFault(enum.StrEnum):
    """A way the fake gateway misbehaves, switched on globally or for one order."""

    #: create is refused: ``{"ok": false, "error": "declined", "code": "DECLINED"}`` → `paycore.GatewayError`
    DECLINE = "decline"
    #: every request is answered HTTP 502 with an HTML error page → `paycore.ProtocolError`
    GATEWAY_ERROR = "gateway_error"
    #: the connection is refused before anything is sent → ``TransportError(may_have_reached_gateway=False)``
    UNREACHABLE = "unreachable"
    #: the request is carried out, then the answer times out → ``TransportError(may_have_reached_gateway=True)``
    TIMEOUT_AFTER_SENDING = "timeout_after_sending"
    #: notifications are signed with another key → `paycore.SignatureError` at the merchant
    BAD_SIGNATURE = "bad_signature"
    #: each delivery is sent twice (`FakeGateway.deliver`)
    DUPLICATE = "duplicate"
    #: the buyer pays one cent less than the order (``paid_amount`` in notifications and queries)
    UNDERPAY = "underpay"
    #: the order is never settled: `FakeGateway.pay` refuses, queries answer pending, nothing is sent
    PENDING_FOREVER = "pending_forever"
    #: closing answers closed, yet the buyer's payment still goes through afterwards
    LATE_PAYMENT = "late_payment"


@dataclass
class _FakeOrder:
    order_id: str
    amount: str
    currency: str
    attach: str | None
    notify_url: str | None
    status: str = "pending"
    paid_amount: str | None = None
    transaction_id: str | None = None
    paid_at: str | None = None
    notification: bytes | None = None
    #: refund id → (amount, refunded at)
    refunds: dict[str, tuple[str, str]] = field(default_factory=dict)

    def as_json(self, base_url: str) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "amount": self.amount,
            "currency": self.currency,
            "paid_amount": self.paid_amount,
            "status": self.status,
            "transaction_id": self.transaction_id,
            "paid_at": self.paid_at,
            "pay_url": f"{base_url}/pay/{self.order_id}",
        }


class FakeGateway:
    """The fake gateway, in memory: an ``httpx.MockTransport`` handler.

    It checks signatures and merchant ids like a real gateway. `pay` and
    `fail` settle an order and return the notification body it sends;
    `orders`, `requests` and `deliveries` show what happened.
    """

    def __init__(self, settings: FakeSettings | None = None) -> None:
        self.settings = settings or FakeSettings()
        self.orders: dict[str, _FakeOrder] = {}
        #: every request received, in order
        self.requests: list[httpx.Request] = []
        #: every notification delivery attempted by `deliver`: (order id, the merchant's response or None)
        self.deliveries: list[tuple[str, httpx.Response | None]] = []
        self._faults: set[FakeFault] = set()
        self._order_faults: dict[str, set[FakeFault]] = {}
        self._transactions = 0

    # -- faults ---------------------------------------------------------------------------------------

    def set_faults(self, faults: Iterable[FakeFault | str] | str, *, order_id: str | None = None) -> None:
        """Switch faults on for every order, or for ``order_id`` only: one fault, or several.

        An empty list switches off the faults of that scope (the global ones, or the
        order's own: global faults still apply to the order). An order's faults may be
        set before the order is created. Unknown names are `paycore.InvalidRequest`.
        """
        if isinstance(faults, str):  # one fault (FakeFault is a str too), not its letters
            faults = [faults]
        try:
            chosen = {FakeFault(fault) for fault in faults}
        except ValueError:
            known = ", ".join(fault.value for fault in FakeFault)
            raise InvalidRequest(f"unknown fake fault in {sorted(map(str, faults))}; known: {known}") from None
        if order_id is None:
            self._faults = chosen
        else:
            self._order_faults[order_id] = chosen

    def faults(self, order_id: str | None = None) -> frozenset[FakeFault]:
        """The faults in force: the global ones, plus the order's own."""
        own = self._order_faults.get(order_id, set()) if order_id is not None else set()
        return frozenset(self._faults | own)

    # -- the HTTP side --------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        fields = _json_fields(request.content)
        faults = self.faults(fields.get("order_id") if fields else None)
        if FakeFault.UNREACHABLE in faults:
            raise httpx.ConnectError("fake gateway: connection refused (fault unreachable)", request=request)
        if FakeFault.GATEWAY_ERROR in faults:
            page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return httpx.Response(502, text=page, headers={"content-type": "text/html"})
        response = self._route(request, fields, faults)
        if FakeFault.TIMEOUT_AFTER_SENDING in faults:
            raise httpx.ReadTimeout("fake gateway: no answer in time (fault timeout_after_sending)", request=request)
        return response

    def _route(
        self, request: httpx.Request, fields: dict[str, str] | None, faults: frozenset[FakeFault]
    ) -> httpx.Response:
        routes = {
            "/orders": self._create,
            "/orders/query": self._query,
            "/orders/close": self._close,
            "/orders/refund": self._refund,
            "/orders/refund/query": self._refund_query,
        }
        if request.method == "GET" and request.url.path.startswith("/pay/"):
            return self._cashier(request.url.path.removeprefix("/pay/"))
        route: Callable[[dict[str, str]], httpx.Response] | None
        if request.url.path == "/pay" and request.method == "POST":
            # The form flow's action: the buyer's browser submits the signed form, as to a real gateway.
            fields = _form_fields(request.content)
            route = self._submitted
        else:
            route = routes.get(request.url.path)
        if request.method != "POST" or route is None:
            return httpx.Response(404, text="not found")
        if fields is None:
            return self._error("body is not a JSON object of strings")
        if not _sign_matches(fields, self._secret()):
            return self._error("bad signature")
        if fields.get("merchant_id") != self.settings.merchant_id:
            return self._error("unknown merchant")
        if route == self._create and FakeFault.DECLINE in faults:
            return self._error("declined", code="DECLINED")
        return route(fields)

    def _secret(self) -> str:
        return self.settings.secret_key.get_secret_value()

    def _error(self, message: str, *, code: str | None = None) -> httpx.Response:
        answer: dict[str, Any] = {"ok": False, "error": message}
        if code is not None:
            answer["code"] = code
        return httpx.Response(200, json=answer)

    def _ok(self, order: _FakeOrder) -> httpx.Response:
        return httpx.Response(200, json={"ok": True, "order": order.as_json(self.settings.base_url)})

    def _submitted(self, fields: dict[str, str]) -> httpx.Response:
        """A form the buyer's browser submitted: the order is made, and its cashier page shown."""
        made = self._create(fields)
        if not json.loads(made.content).get("ok"):
            return httpx.Response(400, text="<h1>refused</h1>", headers={"content-type": "text/html"})
        return self._cashier(fields.get("order_id", ""))

    def _cashier(self, order_id: str) -> httpx.Response:
        """The page behind an order's pay URL (the buyer pays there; tests call `pay`)."""
        if order_id not in self.orders:
            return httpx.Response(404, text="no such order")
        page = "<html><body><h1>fake cashier</h1><p>pay here</p></body></html>"
        return httpx.Response(200, text=page, headers={"content-type": "text/html"})

    def _create(self, fields: dict[str, str]) -> httpx.Response:
        order_id = fields.get("order_id", "")
        if order_id in self.orders:
            return self._error("duplicate order id")
        order = _FakeOrder(
            order_id=order_id,
            amount=fields.get("amount", ""),
            currency=fields.get("currency", ""),
            attach=fields.get("attach"),
            notify_url=fields.get("notify_url"),
        )
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

    def _refund_answer(self, refund_id: str, amount: str, refunded_at: str) -> httpx.Response:
        refund = {"refund_id": refund_id, "amount": amount, "status": "succeeded", "refunded_at": refunded_at}
        return httpx.Response(200, json={"ok": True, "refund": refund})

    def _refund(self, fields: dict[str, str]) -> httpx.Response:
        order = self.orders.get(fields.get("order_id", ""))
        if order is None:
            return self._error("no such order")
        refund_id, amount = fields.get("refund_id", ""), fields.get("amount", "")
        if refund_id in order.refunds:  # asked again: the same refund, made once
            known_amount, refunded_at = order.refunds[refund_id]
            if known_amount != amount:
                return self._error("refund id used before with another amount", code="REFUND_ID_REUSED")
            return self._refund_answer(refund_id, known_amount, refunded_at)
        if order.status not in ("paid", "refunded"):
            return self._error(f"order is {order.status}: nothing to refund", code="NOT_PAID")
        refunded = sum((Decimal(known) for known, _ in order.refunds.values()), Decimal(0))
        if refunded + Decimal(amount) > Decimal(order.paid_amount or order.amount):
            return self._error("refund exceeds what was paid", code="REFUND_EXCEEDS_PAID")
        refunded_at = datetime.now(UTC).isoformat()
        order.refunds[refund_id] = (amount, refunded_at)
        if refunded + Decimal(amount) == Decimal(order.paid_amount or order.amount):
            order.status = "refunded"
        return self._refund_answer(refund_id, amount, refunded_at)

    def _refund_query(self, fields: dict[str, str]) -> httpx.Response:
        order = self.orders.get(fields.get("order_id", ""))
        refund_id = fields.get("refund_id", "")
        if order is None or refund_id not in order.refunds:
            return self._error("no such refund")
        amount, refunded_at = order.refunds[refund_id]
        return self._refund_answer(refund_id, amount, refunded_at)

    # -- the buyer's side and the notifications -------------------------------------------------------

    def _order(self, order_id: str) -> _FakeOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise InvalidRequest(f"the fake gateway has no order {order_id!r}: create it first")
        return order

    def _settle(self, order_id: str, status: str) -> bytes:
        order = self._order(order_id)
        faults = self.faults(order_id)
        if FakeFault.PENDING_FOREVER in faults:
            raise InvalidRequest(f"order {order_id!r} stays pending forever (fault pending_forever)")
        if order.status == "closed" and FakeFault.LATE_PAYMENT not in faults:
            raise InvalidRequest(f"order {order_id!r} is closed: it cannot be settled (fault late_payment allows it)")
        if order.status == "paid":  # final; a failed attempt may still be followed by a payment
            raise InvalidRequest(f"order {order_id!r} is already paid: resend() repeats its notification")
        self._transactions += 1
        order.status = status
        order.transaction_id = f"FAKE{self._transactions:08d}"
        order.paid_at = datetime.now(UTC).isoformat() if status == "paid" else None
        if status == "paid":
            paid = Decimal(order.amount) - _CENT if FakeFault.UNDERPAY in faults else Decimal(order.amount)
            order.paid_amount = f"{max(paid, _CENT):.2f}"
        order.notification = self._notification_body(order, faults)
        return order.notification

    def _notification_fields(self, order: _FakeOrder) -> dict[str, str]:
        fields = {
            "merchant_id": self.settings.merchant_id,
            "order_id": order.order_id,
            "amount": order.amount,
            "currency": order.currency,
            "status": order.status,
            "transaction_id": order.transaction_id or "",
        }
        if order.paid_amount is not None:
            fields["paid_amount"] = order.paid_amount
        if order.attach is not None:
            fields["attach"] = order.attach
        return fields

    def _notification_body(self, order: _FakeOrder, faults: frozenset[FakeFault]) -> bytes:
        fields = self._notification_fields(order)
        key = self._secret() + "-wrong" if FakeFault.BAD_SIGNATURE in faults else self._secret()
        fields["sign"] = fake_sign(fields, key)
        return urlencode(fields).encode()

    def pay(self, order_id: str) -> bytes:
        """Settle ``order_id`` as paid, as the buyer's payment would; return the signed notification body."""
        return self._settle(order_id, "paid")

    def fail(self, order_id: str) -> bytes:
        """Settle ``order_id`` as failed; return the signed notification body."""
        return self._settle(order_id, "failed")

    def resend(self, order_id: str) -> bytes:
        """The order's last notification again, byte for byte: what a gateway's resend looks like."""
        body = self._order(order_id).notification
        if body is None:
            raise InvalidRequest(f"order {order_id!r} has not been settled: nothing to resend")
        return body

    def notification_request(
        self, order_id: str, *, path: str = "/notify", broken: Break | None = None
    ) -> NotificationRequest:
        """The order's notification as the merchant's endpoint receives it, or deliberately spoilt.

        ``broken``: ``"signature"`` (signed with another key), ``"amount"`` (changed
        after signing), ``"merchant"`` (another merchant id, correctly signed),
        ``"unsigned"`` (no ``sign`` field). The order must have been settled.
        """
        order = self._order(order_id)
        if order.notification is None:
            raise InvalidRequest(f"order {order_id!r} has not been settled: pay() or fail() it first")
        fields = self._notification_fields(order)
        secret = self._secret()
        if broken == "merchant":
            fields["merchant_id"] = self.settings.merchant_id + "-other"
        # The bad_signature fault spoils this notification as it spoils every one the fake sends.
        wrong = broken == "signature" or (broken is None and FakeFault.BAD_SIGNATURE in self.faults(order_id))
        fields["sign"] = fake_sign(fields, secret + "-wrong" if wrong else secret)
        if broken == "amount":
            fields["amount"] = f"{Decimal(order.amount) + 1:.2f}"
        elif broken == "unsigned":
            del fields["sign"]
        elif broken not in (None, "signature", "merchant"):
            raise InvalidRequest(f"unknown way to break a notification: {broken!r}")
        return NotificationRequest(
            method="POST",
            path=path,
            headers={"content-type": "application/x-www-form-urlencoded"},
            body=urlencode(fields).encode(),
        )

    def deliver(self, order_id: str, *, timeout: float = 10.0) -> list[httpx.Response | None]:
        """POST the order's last notification to its ``notify_url`` over real HTTP; the responses.

        Twice under the ``duplicate`` fault. A delivery that fails at the transport
        gives None (and is recorded in `deliveries`), as a gateway would try later.
        """
        order = self._order(order_id)
        body = self.resend(order_id)
        if not order.notify_url:
            raise InvalidRequest(f"order {order_id!r} was created without a notify_url")
        times = 2 if FakeFault.DUPLICATE in self.faults(order_id) else 1
        answers: list[httpx.Response | None] = []
        headers = {"content-type": "application/x-www-form-urlencoded"}
        # trust_env=False: a proxy from the environment must not stand between a test and its endpoint.
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            for _ in range(times):
                try:
                    response: httpx.Response | None = client.post(order.notify_url, content=body, headers=headers)
                except httpx.HTTPError:
                    response = None
                self.deliveries.append((order_id, response))
                answers.append(response)
        return answers


def _sign_matches(fields: dict[str, str], secret: str) -> bool:
    return hmac.compare_digest(fake_sign(fields, secret), fields.get("sign", ""))


def _json_fields(content: bytes) -> dict[str, str] | None:
    try:
        fields = json.loads(content)
    except ValueError:
        return None
    if not isinstance(fields, dict) or not all(isinstance(value, str) for value in fields.values()):
        return None
    return fields


def _form_fields(content: bytes) -> dict[str, str] | None:
    try:
        pairs = parse_qsl(content.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    fields = dict(pairs)
    return fields if len(fields) == len(pairs) else None
