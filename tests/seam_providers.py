"""Three small providers unlike juhe, written against paycore's public API only (tests, not shipped).

- `GetPay`: notifies by GET with the fields in the query string, acknowledged ``success``;
  needs the buyer's IP; a signed browser return.
- `HookPay`: signs a JSON notification over headers (timestamp, nonce) with HMAC-SHA256,
  answered 204, or 400 with a JSON ``{"code": "FAIL", "message": ...}``; answers
  create with parameters for an in-app JS bridge, and needs the payer's id there.
- `QrPay`: answers create with a QR code's content.

Each ships a minimal sandbox (`MiniSandbox`) so that the demo's round trip runs on it
over real sockets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import urlencode

import httpx
import pydantic

import paycore
from paycore import toolkit
from paycore.sandbox import Sandbox, SandboxOptions
from paycore.testing import LoopbackServer

KEY = "seam-provider-test-key"


class SeamSettings(paycore.ProviderSettings):
    base_url: str
    merchant_id: str = "m1"
    secret_key: Annotated[pydantic.SecretStr, pydantic.Field(min_length=1)] = pydantic.SecretStr(KEY)


def md5_sign(fields: dict[str, str], key: str) -> str:
    text = "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name != "sign" and fields[name])
    return hashlib.md5((text + key).encode()).hexdigest()  # the protocols' own digest


def hook_signature(timestamp: str, nonce: str, body: bytes, key: str) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


class _Base(paycore.Provider[SeamSettings]):
    settings_model = SeamSettings

    @property
    def key(self) -> str:
        return self.settings.secret_key.get_secret_value()

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = toolkit.load_json(response.content)
        except ValueError:
            raise paycore.ProtocolError(f"gateway answered HTTP {response.status_code} without JSON") from None
        if not isinstance(data, dict):
            raise paycore.ProtocolError("gateway answered JSON that is not an object")
        if data.get("code") != 0:
            raise toolkit.gateway_refusal("request", data.get("msg"), code=data.get("code"))
        return data

    def _create_request(self, order: paycore.Order) -> httpx.Request:
        fields = {
            "merchant_id": self.settings.merchant_id,
            "order_id": order.order_id,
            "amount": toolkit.format_amount(order.amount),
            "notify_url": order.notify_url,
            "return_url": order.return_url,
            "client_ip": order.client_ip or "",
            "payer_id": order.payer_id or "",
        }
        fields["sign"] = md5_sign(fields, self.key)
        return httpx.Request("POST", f"{self.settings.base_url}/create", data=fields)

    @paycore.hookimpl
    def query_payment(self, order_id: str) -> paycore.Flow[paycore.Payment]:
        fields = {"merchant_id": self.settings.merchant_id, "order_id": order_id}
        fields["sign"] = md5_sign(fields, self.key)
        data = self._answer((yield httpx.Request("POST", f"{self.settings.base_url}/query", data=fields)))
        return paycore.Payment(
            order_id=order_id,
            status=paycore.PaymentStatus(data["status"]),
            amount=toolkit.plain_amount(data["amount"]),
            currency="CNY",
            provider=self.name,
            account=self.account,
            raw=data,
        )

    def _notification(self, fields: dict[str, Any], ack: paycore.Reply) -> paycore.Notification:
        if fields.get("merchant_id") != self.settings.merchant_id:
            raise paycore.MerchantMismatch("notification for another merchant")
        amount = toolkit.plain_amount(str(fields.get("amount", "")), places=2)
        if amount is None or amount <= 0:
            raise paycore.MalformedAmount("notification amount is not a positive amount")
        return paycore.Notification(
            order_id=str(fields["order_id"]),
            status=paycore.PaymentStatus.PAID if fields.get("status") == "paid" else paycore.PaymentStatus.FAILED,
            amount=amount,
            currency="CNY",
            paid_amount=amount,
            transaction_id=str(fields.get("trade_no") or "") or None,
            provider=self.name,
            account=self.account,
            raw=fields,
            ack=ack,
        )


class GetPay(_Base):
    """Notifications are GET query strings, signed with MD5; acknowledged ``success``."""

    provider_name = "getpay"
    channels = frozenset({paycore.Channel.ALIPAY_PAGE, paycore.Channel.WECHAT_H5})
    required_order_fields = frozenset({"client_ip"})

    @paycore.hookimpl
    def create_payment(self, order: paycore.Order, flow: paycore.CreateFlow) -> paycore.Flow[paycore.Payment]:
        data = self._answer((yield self._create_request(order)))
        return paycore.Payment(
            order_id=order.order_id,
            status=paycore.PaymentStatus.PENDING,
            amount=order.amount,
            next_action=paycore.Redirect(url=data["pay_url"]),
            provider=self.name,
            account=self.account,
        )

    def _signed_query(self, request: paycore.NotificationRequest) -> dict[str, str]:
        fields = request.query_fields()
        if not fields.get("sign") or not fields.get("order_id"):
            raise paycore.MissingField("query lacks sign or order_id")
        toolkit.unambiguous_pairs(fields)
        if not toolkit.signature_matches(fields["sign"], md5_sign(fields, self.key)):
            raise paycore.SignatureError("bad signature")
        return fields

    @paycore.hookimpl
    def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
        if request.method != "GET":
            raise paycore.MalformedNotification("this gateway notifies by GET")
        return self._notification(self._signed_query(request), paycore.Reply(body="success"))

    @paycore.hookimpl
    def failure_reply(self, reason: str) -> paycore.Reply:
        return paycore.Reply(body="fail")

    @paycore.hookimpl
    def parse_return(self, request: paycore.NotificationRequest) -> paycore.BrowserReturn:
        fields = self._signed_query(request)
        return paycore.BrowserReturn(
            order_id=fields["order_id"],
            claimed_status=paycore.PaymentStatus.PAID if fields.get("status") == "paid" else "unknown",
            amount=toolkit.plain_amount(fields.get("amount", "")),
            signature_checked=True,
            provider=self.name,
            account=self.account,
            raw=fields,
        )

    @paycore.hookimpl
    def notification_order_id(self, request: paycore.NotificationRequest) -> str | None:
        try:
            return request.query_fields().get("order_id")
        except paycore.MalformedNotification:
            return None

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        return MiniSandbox(options, create=_redirect_answer, notify=_get_notification)


class HookPay(_Base):
    """Notifications are JSON, signed over headers with HMAC-SHA256; answered 204, or 400 with JSON."""

    provider_name = "hookpay"
    channels = frozenset({paycore.Channel.WECHAT_JSAPI, paycore.Channel.WECHAT_QR})
    channel_order_fields: ClassVar[Mapping[paycore.Channel, frozenset[str]]] = {
        paycore.Channel.WECHAT_JSAPI: frozenset({"payer_id"})
    }
    max_age = 300

    @paycore.hookimpl
    def create_payment(self, order: paycore.Order, flow: paycore.CreateFlow) -> paycore.Flow[paycore.Payment]:
        data = self._answer((yield self._create_request(order)))
        parameters = data["bridge"]
        if not isinstance(parameters, dict):
            raise paycore.ProtocolError("bridge parameters are not an object")
        return paycore.Payment(
            order_id=order.order_id,
            status=paycore.PaymentStatus.PENDING,
            amount=order.amount,
            next_action=paycore.SdkParameters(sdk="hookpay_bridge", parameters=parameters),
            provider=self.name,
            account=self.account,
        )

    @paycore.hookimpl
    def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
        timestamp, nonce, signature = (request.header(f"x-hook-{name}") for name in ("timestamp", "nonce", "signature"))
        if not timestamp or not nonce or not signature:
            raise paycore.MissingField("notification lacks its signature headers")
        expected = hook_signature(timestamp, nonce, request.body, self.key)
        if not toolkit.signature_matches(signature, expected):
            raise paycore.SignatureError("bad signature")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.max_age:
            raise paycore.SignatureError("notification timestamp is stale: a replay")
        try:
            fields = toolkit.load_json(request.body)
        except ValueError:
            raise paycore.MalformedNotification("notification body is not JSON") from None
        if not isinstance(fields, dict) or not isinstance(fields.get("order_id"), str):
            raise paycore.MalformedNotification("notification is not an object with an order_id")
        return self._notification(fields, paycore.Reply(status=204))

    @paycore.hookimpl
    def failure_reply(self, reason: str) -> paycore.Reply:
        body = json.dumps({"code": "FAIL", "message": reason})
        return paycore.Reply(body=body, status=400, content_type="application/json")

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        return MiniSandbox(options, create=_bridge_answer, notify=_hook_notification)


class QrPay(_Base):
    """Create answers a QR code's content; notifications are POSTed forms acknowledged ``OK``."""

    provider_name = "qrpay"
    channels = frozenset({paycore.Channel.WECHAT_QR, paycore.Channel.ALIPAY_QR})

    @paycore.hookimpl
    def create_payment(self, order: paycore.Order, flow: paycore.CreateFlow) -> paycore.Flow[paycore.Payment]:
        data = self._answer((yield self._create_request(order)))
        return paycore.Payment(
            order_id=order.order_id,
            status=paycore.PaymentStatus.PENDING,
            amount=order.amount,
            next_action=paycore.QrCode(content=data["qr"]),
            provider=self.name,
            account=self.account,
        )

    @paycore.hookimpl
    def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
        fields = request.form_fields()
        toolkit.unambiguous_pairs(fields)
        if not fields.get("sign") or not toolkit.signature_matches(fields["sign"], md5_sign(fields, self.key)):
            raise paycore.SignatureError("bad or missing signature")
        return self._notification(fields, paycore.Reply(body="OK"))

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        return MiniSandbox(options, create=_qr_answer, notify=_form_notification)


# The sandboxes: one small gateway, three ways of answering create and of notifying.

Notify = Callable[[dict[str, str], str], httpx.Request]


def _redirect_answer(order: dict[str, str], base: str) -> dict[str, Any]:
    return {"code": 0, "pay_url": f"{base}/cashier/{order['order_id']}"}


def _bridge_answer(order: dict[str, str], base: str) -> dict[str, Any]:
    return {"code": 0, "bridge": {"appId": "wx-test", "package": f"prepay_id={order['order_id']}", "signType": "HMAC"}}


def _qr_answer(order: dict[str, str], base: str) -> dict[str, Any]:
    return {"code": 0, "qr": f"weixin://wxpay/bizpayurl?pr={order['order_id']}"}


def _get_notification(fields: dict[str, str], notify_url: str) -> httpx.Request:
    fields = {**fields, "sign": md5_sign(fields, KEY)}
    return httpx.Request("GET", notify_url, params=fields)


def _hook_notification(fields: dict[str, str], notify_url: str) -> httpx.Request:
    body = json.dumps(fields).encode()
    timestamp, nonce = str(int(time.time())), "n-" + fields["trade_no"]
    headers = {
        "content-type": "application/json",
        "x-hook-timestamp": timestamp,
        "x-hook-nonce": nonce,
        "x-hook-signature": hook_signature(timestamp, nonce, body, KEY),
    }
    return httpx.Request("POST", notify_url, content=body, headers=headers)


def _form_notification(fields: dict[str, str], notify_url: str) -> httpx.Request:
    return httpx.Request("POST", notify_url, content=urlencode({**fields, "sign": md5_sign(fields, KEY)}))


_Delivery = tuple[httpx.Request, httpx.Response]


class MiniSandbox:
    """A minimal gateway on a loopback socket: create, query, pay/fail (one notification each)."""

    def __init__(
        self, options: SandboxOptions, *, create: Callable[[dict[str, str], str], dict[str, Any]], notify: Notify
    ) -> None:
        self._create, self._notify = create, notify
        self.merchant_id = options.merchant_id or "m1"
        self.orders: dict[str, dict[str, str]] = {}
        #: each notification sent and the merchant's answer to it
        self.deliveries: list[tuple[httpx.Request, httpx.Response]] = []
        self._delivered_for: list[str] = []
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handle, host=options.host, port=options.port)

    @property
    def url(self) -> str:
        return self._server.url

    def account_settings(self) -> dict[str, Any]:
        return {"base_url": self.url, "merchant_id": self.merchant_id, "secret_key": KEY}

    def _handle(self, request: httpx.Request) -> httpx.Response:
        fields = paycore.NotificationRequest(body=request.read()).form_fields()
        if fields.get("sign") != md5_sign(fields, KEY):
            return httpx.Response(200, json={"code": 1, "msg": "bad sign"})
        with self._lock:
            if request.url.path == "/create":
                self.orders[fields["order_id"]] = {**fields, "status": "pending"}
                return httpx.Response(200, json=self._create(fields, self.url))
            order = self.orders.get(fields.get("order_id", ""))
        if request.url.path == "/query" and order is not None:
            return httpx.Response(200, json={"code": 0, "status": order["status"], "amount": order["amount"]})
        return httpx.Response(200, json={"code": 1, "msg": "no such order"})

    def _settle(self, order_id: str, status: str) -> None:
        with self._lock:
            order = self.orders[order_id]
            order["status"] = status
        fields = {
            "merchant_id": self.merchant_id,
            "order_id": order_id,
            "amount": order["amount"],
            "status": status,
            "trade_no": f"T{len(self.deliveries) + 1:06d}",
        }
        request = self._notify(fields, order["notify_url"])
        with httpx.Client(timeout=10) as client:
            self.deliveries.append((request, client.send(request)))
        self._delivered_for.append(order_id)

    def attempts(self, order_id: str | None = None) -> list[_Delivery]:
        """Each notification sent and the merchant's answer, oldest first (sent in pay/fail, once)."""
        return [
            delivery
            for delivery, delivered_for in zip(self.deliveries, self._delivered_for, strict=True)
            if order_id is None or delivered_for == order_id
        ]

    def wait_for_notifications(
        self, order_id: str, timeout: float = 30.0
    ) -> list[tuple[httpx.Request, httpx.Response]]:
        return self.attempts(order_id)  # delivered before pay/fail returned: nothing to wait for

    def pay(self, order_id: str) -> None:
        self._settle(order_id, "paid")

    def fail(self, order_id: str) -> None:
        self._settle(order_id, "failed")

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def serve_forever(self) -> None:  # pragma: no cover - for `paycore sandbox`, not used by the tests
        self._server.start()
        threading.Event().wait()

    def __enter__(self) -> MiniSandbox:
        self.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.stop()
