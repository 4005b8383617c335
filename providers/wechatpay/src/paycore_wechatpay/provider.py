"""The WeChat Pay (API v3) provider's hooks: signed JSON requests, answers and notifications verified over headers.

Requests carry ``Authorization: WECHATPAY2-SHA256-RSA2048 ...`` (the merchant's
API key signs method, path, timestamp, nonce and body); answers and notifications
are verified over their ``Wechatpay-*`` headers with the platform's key (public-key
mode) or certificates (certificate mode: fetched, and fetched again before they
expire or when a message names a serial not known yet); a notification's resource
is opened with the APIv3 key. Amounts are whole fen.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import httpx

import paycore
from paycore import crypto, toolkit
from paycore.sandbox import Sandbox, SandboxOptions
from paycore_wechatpay._certificates import load_certificates, read_downloaded, serial_key
from paycore_wechatpay._notifications import (
    REFUND_EVENTS,
    Event,
    check_merchant,
    open_event,
    payment_status,
    read_envelope,
)
from paycore_wechatpay._orders import (
    ENDPOINTS,
    checked_order_id,
    fen,
    next_action,
    order_body,
    payment_of,
    refund_of,
)
from paycore_wechatpay._platform import PlatformKeys, platform_keys
from paycore_wechatpay._reading import object_at, optional_yuan, text, time_of, yuan
from paycore_wechatpay._signing import SCHEMA, authorization, message
from paycore_wechatpay._verifying import UnknownSerial, read_answer, signed_headers, verify_signed
from paycore_wechatpay.settings import WechatpaySettings

__all__ = ["WechatpayProvider"]

_USER_AGENT = "paycore-wechatpay"
#: failure reasons the merchant's side caused (the platform should try again later): answered 500, the rest 400
_TRANSIENT = frozenset({"busy", "callback failed", "lookup failed", "store failed"})


class WechatpayProvider(paycore.Provider[WechatpaySettings]):
    """WeChat Pay API v3: Native (QR), H5, JSAPI, mini programs and App; query, close, refunds."""

    settings_model = WechatpaySettings
    provider_name = "wechatpay"
    channels = frozenset(ENDPOINTS)
    currencies = frozenset({"CNY"})
    create_flows = frozenset({paycore.CreateFlow.SERVER})
    #: H5 sends the buyer's IP in scene_info; JSAPI and mini programs pay as the payer's openid
    channel_order_fields = MappingProxyType(
        {
            paycore.Channel.WECHAT_H5: frozenset({"client_ip"}),
            paycore.Channel.WECHAT_JSAPI: frozenset({"payer_id"}),
            paycore.Channel.WECHAT_MINI_PROGRAM: frozenset({"payer_id"}),
        }
    )

    def __init__(self, settings: WechatpaySettings, *, name: str, account: str) -> None:
        super().__init__(settings, name=name, account=account)
        self._private_key = crypto.load_private_key(settings.private_key.get_secret_value(), "private_key")
        self._apiv3_key = settings.apiv3_key.get_secret_value().encode("ascii")
        key_id = settings.platform_public_key_id
        mode = "certificates" if key_id is None else f"public_key {key_id}"
        self._keys: PlatformKeys = platform_keys(
            settings.base_url, settings.mchid, settings.apiv3_key.get_secret_value(), mode
        )
        if settings.platform_public_key is not None and key_id is not None:
            public_key = crypto.load_public_key(settings.platform_public_key, "platform_public_key", owner="WeChat Pay")
            self._keys.add_public_key(key_id, public_key)
        elif settings.platform_certificates is not None:
            self._keys.add_certificates(
                load_certificates(settings.platform_certificates, "platform_certificates"), fetched=False
            )
        self._ack = paycore.Reply(status=204)

    # -- requests and answers ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> httpx.Request:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.settings.platform_public_key_id is not None:
            headers["Wechatpay-Serial"] = self.settings.platform_public_key_id
        request = httpx.Request(method, self.settings.base_url + path, content=body, headers=headers)
        # Signed over the path and query exactly as they go on the wire, and the body exactly as sent.
        request.headers["Authorization"] = authorization(
            mchid=self.settings.mchid,
            serial_no=self.settings.merchant_serial_no,
            key=self._private_key,
            method=method,
            path=request.url.raw_path.decode("ascii"),
            body=body,
        )
        return request

    def _call(
        self, method: str, path: str, payload: dict[str, Any] | None = None, *, what: str, asked_order: bool = False
    ) -> paycore.Flow[Any]:
        """One signed request and its verified answer; certificate mode fetches certificates first when due."""
        if self._keys.needs_refresh():
            yield from self._fetch_certificates()
        response = yield self._request(method, path, payload)
        try:
            return read_answer(response, self._keys, what=what, asked_order=asked_order)
        except UnknownSerial:
            if not self._keys.certificate_mode:
                raise
        # A serial not known yet: the platform has rotated its certificate. Fetch, then verify once more.
        yield from self._fetch_certificates()
        return read_answer(response, self._keys, what=what, asked_order=asked_order)

    def _fetch_certificates(self) -> paycore.Flow[None]:
        """``GET /v3/certificates``: every certificate opened with the APIv3 key, the answer verified with them."""
        response = yield self._request("GET", "/v3/certificates")
        if response.status_code != 200:
            read_answer(response, self._keys, what="certificates")  # raises the refusal it carries
            raise paycore.ProtocolError(f"WeChat Pay answered the certificates request with {response.status_code}")
        try:
            data = toolkit.load_json(response.content)
            certificates = read_downloaded(data if isinstance(data, dict) else {}, self._apiv3_key, datetime.now(UTC))
        except ValueError as exc:
            raise paycore.ProtocolError(f"WeChat Pay's certificates answer cannot be used: {exc}") from None
        fetched = {certificate.serial: certificate.public_key for certificate in certificates}
        signed = signed_headers(response.headers.get, paycore.SignatureError)
        verify_signed(
            signed,
            response.content,
            lambda serial: fetched.get(serial_key(serial)) or self._keys.key(serial),
            what="certificates answer",
        )
        if not self._keys.first_use_of(signed.nonce, int(signed.timestamp)):
            raise paycore.SignatureError("the WeChat Pay certificates answer replays one already received")
        self._keys.add_certificates(certificates, fetched=True)

    # -- create, query, close ---------------------------------------------------------------------------

    @paycore.hookimpl
    def create_payment(self, order: paycore.Order, flow: paycore.CreateFlow) -> paycore.Flow[paycore.Payment]:
        settings = self.settings
        body = order_body(order, appid=settings.appid, mchid=settings.mchid)
        endpoint = ENDPOINTS[paycore.Channel(order.channel)]
        data = yield from self._call("POST", f"/v3/pay/transactions/{endpoint}", body, what=f"{endpoint} create")
        if not isinstance(data, dict):
            raise paycore.ProtocolError(f"WeChat Pay answered the {endpoint} create with no body")
        action = next_action(order, data, appid=settings.appid, mchid=settings.mchid, key=self._private_key)
        return paycore.Payment(
            order_id=order.order_id,
            status=paycore.PaymentStatus.PENDING,
            amount=order.amount,
            currency="CNY",
            next_action=action,
            provider=self.name,
            account=self.account,
            raw=data,
        )

    def _order_path(self, order_id: str) -> str:
        return f"/v3/pay/transactions/out-trade-no/{checked_order_id(order_id)}"

    @paycore.hookimpl
    def query_payment(self, order_id: str) -> paycore.Flow[paycore.Payment]:
        path = f"{self._order_path(order_id)}?mchid={self.settings.mchid}"
        data = yield from self._call("GET", path, what="query", asked_order=True)
        if not isinstance(data, dict):
            raise paycore.ProtocolError("WeChat Pay answered the query with no body")
        return payment_of(
            data,
            order_id,
            appid=self.settings.appid,
            mchid=self.settings.mchid,
            name=self.name,
            account=self.account,
        )

    @paycore.hookimpl
    def close_payment(self, order_id: str) -> paycore.Flow[paycore.Payment]:
        data = yield from self._call(
            "POST", f"{self._order_path(order_id)}/close", {"mchid": self.settings.mchid}, what="close"
        )
        if data is not None:
            raise paycore.ProtocolError("WeChat Pay answered a close with a body: a close answers 204, empty")
        return paycore.Payment(
            order_id=order_id, status=paycore.PaymentStatus.CLOSED, provider=self.name, account=self.account
        )

    # -- refunds ------------------------------------------------------------------------------------------

    @paycore.hookimpl
    def refund_payment(
        self, order_id: str, refund_id: str, amount: Decimal, reason: str | None, order_amount: Decimal | None
    ) -> paycore.Flow[paycore.Refund]:
        if order_amount is None:
            raise paycore.InvalidRequest(
                "WeChat Pay refunds name the order's total: pass order_amount= to refund() (the order's amount)"
            )
        body: dict[str, Any] = {
            "out_trade_no": checked_order_id(order_id),
            "out_refund_no": refund_id,
            "amount": {"refund": fen(amount, "refunds"), "total": fen(order_amount, "orders"), "currency": "CNY"},
        }
        if self.settings.refund_notify_url is not None:
            body["notify_url"] = self.settings.refund_notify_url
        if reason:
            if len(reason) > 80:
                raise paycore.InvalidRequest("a WeChat Pay refund reason has at most 80 characters")
            body["reason"] = reason
        data = yield from self._call("POST", "/v3/refund/domestic/refunds", body, what="refund")
        refund = self._refund(data, order_id, refund_id)
        if refund.amount != amount:
            raise paycore.ProtocolError(f"WeChat Pay holds refund {refund_id!r} for {refund.amount}, not {amount}")
        return refund

    @paycore.hookimpl
    def query_refund(self, order_id: str, refund_id: str) -> paycore.Flow[paycore.Refund]:
        path = f"/v3/refund/domestic/refunds/{refund_id}"  # refund_id: the core's REFUND_ID_PATTERN
        data = yield from self._call("GET", path, what="refund query")
        return self._refund(data, order_id, refund_id)

    def _refund(self, data: Any, order_id: str, refund_id: str) -> paycore.Refund:
        if not isinstance(data, dict):
            raise paycore.ProtocolError("WeChat Pay answered a refund with no body")
        return refund_of(data, order_id, refund_id, paycore.ProtocolError, name=self.name, account=self.account)

    # -- what WeChat Pay sends ----------------------------------------------------------------------------

    def _event(self, request: paycore.NotificationRequest) -> Event:
        if request.method != "POST":
            raise paycore.MalformedNotification("WeChat Pay notifies by POST")
        signed = signed_headers(request.header, paycore.MissingField)
        try:
            verify_signed(signed, request.body, self._keys.key, what="notification")
        except UnknownSerial:
            self._keys.ask_refresh()  # the next request fetches the certificates; the platform resends
            raise
        return open_event(read_envelope(request), self._apiv3_key)

    @paycore.hookimpl
    def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
        event = self._event(request)
        resource, problem = event.resource, paycore.MalformedNotification
        check_merchant(resource, self.settings.mchid, None if event.is_refund else self.settings.appid)
        order_id = text(resource, "out_trade_no", paycore.MissingField)
        amount = object_at(resource, "amount", paycore.MissingField)
        total = yuan(amount, "total", problem)
        raw = {"id": event.envelope.get("id"), "event_type": event.event_type, "resource": resource}
        if event.is_refund:
            refund_id = text(resource, "out_refund_no", paycore.MissingField)
            if resource.get("refund_status") != event.event_type.partition(".")[2]:
                raise problem(f"a {event.event_type} notification whose refund_status says otherwise")
            refund = refund_of(resource, order_id, refund_id, problem, name=self.name, account=self.account)
            succeeded = REFUND_EVENTS[event.event_type] is paycore.RefundStatus.SUCCEEDED
            return paycore.Notification(
                order_id=order_id,
                status=paycore.PaymentStatus.REFUNDED if succeeded else paycore.PaymentStatus.UNKNOWN,
                amount=total,
                currency="CNY",
                transaction_id=text(resource, "transaction_id", problem, required=False) or None,
                provider=self.name,
                account=self.account,
                raw=raw,
                ack=self._ack,
                refund=refund,
            )
        if (text(amount, "currency", problem, required=False) or "CNY") != "CNY":
            raise problem("the WeChat Pay notification is not in CNY")
        payer_total = optional_yuan(amount, "payer_total", problem)
        return paycore.Notification(
            order_id=order_id,
            status=payment_status(event),
            amount=total,
            currency="CNY",
            paid_amount=total if payer_total is None else payer_total,
            transaction_id=text(resource, "transaction_id", paycore.MissingField),
            paid_at=time_of(resource, "success_time", problem),
            attach=text(resource, "attach", problem, required=False) or None,
            provider=self.name,
            account=self.account,
            raw=raw,
            ack=self._ack,
        )

    @paycore.hookimpl
    def failure_reply(self, reason: str) -> paycore.Reply:
        # Any 4xx or 5xx makes the platform resend; the message is the core's short reason (never "ok").
        status = 500 if reason in _TRANSIENT else 400
        body = json.dumps({"code": "FAIL", "message": reason}, ensure_ascii=False)
        return paycore.Reply(body=body, status=status, content_type="application/json")

    @paycore.hookimpl
    def notification_order_id(self, request: paycore.NotificationRequest) -> str | None:
        # Encrypted: only this account's APIv3 key reads the order id (for routing; nothing trusted here).
        try:
            event = open_event(read_envelope(request), self._apiv3_key)
        except paycore.PaycoreError:
            return None
        order_id = event.resource.get("out_trade_no")
        return order_id if isinstance(order_id, str) and order_id else None

    @paycore.hookimpl
    def explain_signature(self, request: paycore.NotificationRequest) -> paycore.SignatureExplanation:
        values = {name: request.header(name) or "" for name in ("wechatpay-timestamp", "wechatpay-nonce")}
        serial = request.header("wechatpay-serial") or ""
        received = request.header("wechatpay-signature") or None
        signed = message(values["wechatpay-timestamp"], values["wechatpay-nonce"], request.body)
        key = self._keys.key(serial) if serial else None
        matched = received is not None and key is not None and crypto.rsa_sha256_verify(signed, received, key)
        candidate = paycore.SignatureCandidate(
            label=SCHEMA,
            signed_text=signed.decode("utf-8", "replace"),
            digest="",  # checked with the platform's key, never recomputed
            key_id=serial or "no Wechatpay-Serial",
            matched=matched,
        )
        known = ", ".join(self._keys.serials()) or "none yet"
        return paycore.SignatureExplanation(
            rule="Wechatpay-Timestamp, Wechatpay-Nonce and the body exactly as received, each followed by a "
            "newline; SHA256withRSA (PKCS#1 v1.5) checked with the platform key Wechatpay-Serial names "
            f"(this account knows: {known})",
            received=received,
            candidates=(candidate,),
        )

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        from paycore_wechatpay.sandbox import WechatpaySandbox

        return WechatpaySandbox(options)
