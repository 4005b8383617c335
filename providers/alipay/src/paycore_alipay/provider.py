"""The Alipay provider's hooks: RSA2-signed requests and links, signed envelopes, signed notifications."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote, urlencode

import httpx

import paycore
from paycore import toolkit
from paycore.sandbox import Sandbox, SandboxOptions
from paycore_alipay._answers import (
    SHANGHAI,
    TRADE_STATUSES,
    AnswerKey,
    answer,
    gateway_time,
    received_fields,
    same,
    text,
    yuan,
)
from paycore_alipay._certs import load_certificate, root_cert_sn
from paycore_alipay._keys import load_private_key, load_public_key
from paycore_alipay._signing import sign, sign_content, verify
from paycore_alipay.settings import AlipaySettings

__all__ = ["AlipayProvider"]

#: browser payments: the API method and its product code, by channel
_BROWSER = {
    paycore.Channel.ALIPAY_PAGE: ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
    paycore.Channel.ALIPAY_WAP: ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
}
_PRECREATE = "alipay.trade.precreate"
#: a refund query's ``refund_status``: only REFUND_SUCCESS is done; none means not (yet) done
_REFUND_STATUSES = {"REFUND_SUCCESS": paycore.RefundStatus.SUCCEEDED, "": paycore.RefundStatus.PENDING}
_NOTIFICATION_UNSIGNED = frozenset({"sign", "sign_type"})
#: characters Alipay's document forbids in a subject
_SUBJECT_FORBIDDEN = "/=&"


class AlipayProvider(paycore.Provider[AlipaySettings]):
    """Alipay's open platform (RSA2): QR codes, page and WAP payments, query, close, refunds."""

    settings_model = AlipaySettings
    provider_name = "alipay"
    channels = frozenset({paycore.Channel.ALIPAY_QR, *_BROWSER})
    # total_amount is yuan; trade_currency (settling in another currency) needs a contract paycore does not speak.
    currencies = frozenset({"CNY"})
    #: server: browser payments are signed links; form: signed forms. QR codes are precreated either way
    create_flows = frozenset(paycore.CreateFlow)
    #: Alipay's limit for total_amount
    max_order_amount = Decimal("100000000")

    def __init__(self, settings: AlipaySettings, *, name: str, account: str) -> None:
        super().__init__(settings, name=name, account=account)
        self._private_key = load_private_key(settings.private_key.get_secret_value())
        #: certificate mode: the SNs every request carries, and the SN of the certificate answers are signed with
        self._cert_params: dict[str, str] = {}
        self._alipay_cert_sn: str | None = None
        if settings.alipay_public_key is not None:
            self._public_key = load_public_key(settings.alipay_public_key)
        else:
            app_cert, alipay_cert = settings.app_cert or "", settings.alipay_cert or ""
            alipay = load_certificate(alipay_cert, "alipay_cert")
            self._public_key = alipay.public_key
            self._alipay_cert_sn = alipay.sn
            self._cert_params = {
                "app_cert_sn": load_certificate(app_cert, "app_cert").sn,
                "alipay_root_cert_sn": root_cert_sn(settings.alipay_root_cert or ""),
            }
        self._key_name = "alipay_public_key" if settings.alipay_public_key is not None else "alipay_cert"
        self._verifier = AnswerKey(self._public_key, self._key_name, self._alipay_cert_sn)
        self._ack = paycore.Reply(body="success")

    # -- requests ---------------------------------------------------------------------------------------

    def _signed(self, method: str, biz: dict[str, str], order: paycore.Order | None = None) -> dict[str, str]:
        params = {
            "app_id": self.settings.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **self._cert_params,
        }
        if order is not None:
            params["notify_url"] = order.notify_url
            params["return_url"] = order.return_url
        params["sign"] = sign(sign_content(params), self._private_key)
        return params

    def _post(self, method: str, biz: dict[str, str], order: paycore.Order | None = None) -> httpx.Request:
        return httpx.Request(
            "POST", self.settings.gateway, params={"charset": "utf-8"}, data=self._signed(method, biz, order)
        )

    def _trade_biz(self, order: paycore.Order) -> dict[str, str]:
        try:
            total = toolkit.format_amount(order.amount, 2)
        except ValueError:
            raise paycore.InvalidRequest(f"Alipay takes yuan with at most 2 decimals, not {order.amount}") from None
        if any(char in order.subject for char in _SUBJECT_FORBIDDEN) or len(order.subject) > 256:
            raise paycore.InvalidRequest("an Alipay subject has at most 256 characters and no '/', '=' or '&'")
        biz = {"out_trade_no": order.order_id, "total_amount": total, "subject": order.subject}
        if order.attach:
            passback = quote(order.attach, safe="")  # Alipay wants it URL-encoded, and gives it back so
            if len(passback) > 512:
                raise paycore.InvalidRequest("an Alipay attach (passback_params) is at most 512 characters encoded")
            biz["passback_params"] = passback
        if order.description:
            if any(char in order.description for char in _SUBJECT_FORBIDDEN):
                raise paycore.InvalidRequest("an Alipay description (body) has no '/', '=' or '&'")
            biz["body"] = order.description[:128]
        if order.expires_at is not None:
            biz["time_expire"] = order.expires_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        return biz

    # -- create, query, close ---------------------------------------------------------------------------

    @paycore.hookimpl
    def create_payment(self, order: paycore.Order, flow: paycore.CreateFlow) -> paycore.Flow[paycore.Payment]:
        biz = self._trade_biz(order)
        pending: dict[str, Any] = {
            "order_id": order.order_id,
            "status": paycore.PaymentStatus.PENDING,
            "amount": order.amount,
            "currency": "CNY",
            "provider": self.name,
            "account": self.account,
        }
        browser = _BROWSER.get(order.channel) if isinstance(order.channel, paycore.Channel) else None
        if browser is not None:
            method, product_code = browser
            params = self._signed(method, {**biz, "product_code": product_code}, order)
            if flow is paycore.CreateFlow.FORM:
                form_action = f"{self.settings.gateway}?{urlencode({'charset': 'utf-8'})}"
                return paycore.Payment(**pending, next_action=paycore.PaymentForm(action=form_action, fields=params))
            return paycore.Payment(
                **pending, next_action=paycore.Redirect(url=f"{self.settings.gateway}?{urlencode(params)}")
            )
        # A QR code has no browser form: it is precreated whatever the flow (an account's create_flow = "form"
        # still takes QR orders).
        data = answer((yield self._post(_PRECREATE, biz, order)), _PRECREATE, self._verifier, about=order.order_id)
        same(data, "out_trade_no", order.order_id, _PRECREATE)
        try:
            action = paycore.QrCode(content=text(data, "qr_code"))
        except (ValueError, paycore.PaycoreError):
            raise paycore.ProtocolError("Alipay answered a precreate without a usable qr_code") from None
        return paycore.Payment(**pending, next_action=action, raw=data)

    @paycore.hookimpl
    def query_payment(self, order_id: str) -> paycore.Flow[paycore.Payment]:
        method = "alipay.trade.query"
        data = answer((yield self._post(method, {"out_trade_no": order_id})), method, self._verifier, about=order_id)
        same(data, "out_trade_no", order_id, method)
        status = TRADE_STATUSES.get(text(data, "trade_status"))
        if status is None:
            raise paycore.ProtocolError(f"Alipay answered an unknown trade_status {text(data, 'trade_status')!r:.40}")
        total = yuan(text(data, "total_amount"), "total_amount", notification=False)
        paid = status is paycore.PaymentStatus.PAID
        received = text(data, "receipt_amount")
        return paycore.Payment(
            order_id=order_id,
            status=status,
            amount=total,
            currency="CNY",
            paid_amount=(yuan(received, "receipt_amount", notification=False) if received else total) if paid else None,
            transaction_id=text(data, "trade_no") or None,
            paid_at=gateway_time(text(data, "send_pay_date"), "send_pay_date", notification=False) if paid else None,
            provider=self.name,
            account=self.account,
            raw=data,
        )

    @paycore.hookimpl
    def close_payment(self, order_id: str) -> paycore.Flow[paycore.Payment]:
        method = "alipay.trade.close"
        data = answer((yield self._post(method, {"out_trade_no": order_id})), method, self._verifier, about=order_id)
        same(data, "out_trade_no", order_id, method)
        return paycore.Payment(
            order_id=order_id,
            status=paycore.PaymentStatus.CLOSED,
            transaction_id=text(data, "trade_no") or None,
            provider=self.name,
            account=self.account,
            raw=data,
        )

    # -- refunds ------------------------------------------------------------------------------------------

    @paycore.hookimpl
    def refund_payment(
        self, order_id: str, refund_id: str, amount: Decimal, reason: str | None
    ) -> paycore.Flow[paycore.Refund]:
        method = "alipay.trade.refund"
        biz = {"out_trade_no": order_id, "refund_amount": f"{amount:.2f}", "out_request_no": refund_id}
        if amount != amount.quantize(Decimal("0.01")):
            raise paycore.InvalidRequest(f"Alipay refunds yuan with at most 2 decimals, not {amount}")
        if reason:
            biz["refund_reason"] = reason
        data = answer((yield self._post(method, biz)), method, self._verifier, about=order_id)
        same(data, "out_trade_no", order_id, method)
        # refund_fee is the trade's refunded total: it holds this refund, or the answer is not about it.
        if yuan(text(data, "refund_fee"), "refund_fee", notification=False) < amount:
            raise paycore.ProtocolError(f"Alipay's refund_fee is less than the {amount} refunded")
        # Alipay's refund answer names no out_request_no: a genuine answer about another refund of the order
        # (replayed) verifies as well, and fund_change N (asked again, or not done yet) settles nothing. So the
        # refund query, which names the refund, decides — as Alipay's document prescribes for N. One request more.
        refund = yield from self.query_refund(order_id, refund_id)
        if refund.amount != amount:
            raise paycore.ProtocolError(f"Alipay holds refund {refund_id!r} for {refund.amount}, not {amount}")
        return refund

    @paycore.hookimpl
    def query_refund(self, order_id: str, refund_id: str) -> paycore.Flow[paycore.Refund]:
        method = "alipay.trade.fastpay.refund.query"
        biz = {"out_trade_no": order_id, "out_request_no": refund_id}
        data = answer((yield self._post(method, biz)), method, self._verifier, about=order_id)
        if not text(data, "out_request_no") and not text(data, "refund_amount"):
            # Alipay answers success with no refund in it for an out_request_no it never received.
            raise paycore.GatewayError(f"Alipay knows no refund {refund_id!r} of order {order_id!r}")
        same(data, "out_request_no", refund_id, method, what="refund")
        same(data, "out_trade_no", order_id, method)
        # REFUND_SUCCESS is the only status Alipay names; without one the refund is not done (yet, or at all).
        status = _REFUND_STATUSES.get(text(data, "refund_status"))
        if status is None:
            raise paycore.ProtocolError(f"Alipay answered an unknown refund_status {text(data, 'refund_status')!r:.40}")
        return paycore.Refund(
            order_id=order_id,
            refund_id=refund_id,
            status=status,
            amount=yuan(text(data, "refund_amount"), "refund_amount", notification=False),
            currency="CNY",
            transaction_id=text(data, "trade_no") or None,
            refunded_at=gateway_time(text(data, "gmt_refund_pay"), "gmt_refund_pay", notification=False),
            provider=self.name,
            account=self.account,
            raw=data,
        )

    # -- what Alipay sends ------------------------------------------------------------------------------

    def _verified(self, request: paycore.NotificationRequest) -> dict[str, str]:
        fields, charset = received_fields(request)
        signature = fields.get("sign")
        if not signature:
            raise paycore.MissingField("the Alipay message is not signed")
        if fields.get("sign_type", "RSA2") != "RSA2":
            raise paycore.SignatureError("the Alipay message is not signed with RSA2")
        # The signed string joins raw "k=v" pairs: a value holding "&" or "=" could stand for two fields.
        toolkit.unambiguous_pairs({name: value for name, value in fields.items() if name not in _NOTIFICATION_UNSIGNED})
        content = sign_content(fields, _NOTIFICATION_UNSIGNED)
        try:
            signed = content.encode(charset)
        except UnicodeEncodeError:
            raise paycore.MalformedNotification(f"a field cannot be written in {charset}") from None
        if not verify(signed, signature, self._public_key):
            raise paycore.SignatureError(f"the Alipay message is not signed by the configured {self._key_name}")
        if fields.get("app_id") != self.settings.app_id:
            raise paycore.MerchantMismatch("the Alipay message is for another app_id")
        seller = self.settings.seller_id
        if seller is not None and fields.get("seller_id") != seller:
            raise paycore.MerchantMismatch("the Alipay message is for another seller_id")
        return fields

    @paycore.hookimpl
    def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
        fields = self._verified(request)
        missing = [name for name in ("out_trade_no", "trade_status", "total_amount") if not fields.get(name)]
        if missing:
            raise paycore.MissingField(f"the Alipay notification lacks {', '.join(missing)}")
        status = TRADE_STATUSES.get(fields["trade_status"])
        if status is None:
            raise paycore.MalformedNotification(f"unknown trade_status {fields['trade_status']!r:.40}")
        total = yuan(fields["total_amount"], "total_amount", notification=True)
        # Every amount sent must be exact yuan, or the notification is refused; receipt_amount is what was paid.
        received = (
            yuan(fields["receipt_amount"], "receipt_amount", notification=True)
            if fields.get("receipt_amount")
            else total
        )
        if fields.get("buyer_pay_amount"):
            yuan(fields["buyer_pay_amount"], "buyer_pay_amount", notification=True)
        paid = status is paycore.PaymentStatus.PAID
        return paycore.Notification(
            order_id=fields["out_trade_no"],
            status=status,
            amount=total,
            currency="CNY",
            paid_amount=received if paid else None,
            transaction_id=fields.get("trade_no") or None,
            paid_at=gateway_time(fields.get("gmt_payment", ""), "gmt_payment", notification=True) if paid else None,
            attach=unquote(fields["passback_params"]) if fields.get("passback_params") else None,
            provider=self.name,
            account=self.account,
            raw=fields,
            ack=self._ack,
        )

    @paycore.hookimpl
    def failure_reply(self, reason: str) -> paycore.Reply:
        return paycore.Reply(body="fail")

    @paycore.hookimpl
    def parse_return(self, request: paycore.NotificationRequest) -> paycore.BrowserReturn:
        fields = self._verified(request)
        if not fields.get("out_trade_no"):
            raise paycore.MissingField("the Alipay return lacks out_trade_no")
        total = fields.get("total_amount")
        return paycore.BrowserReturn(
            order_id=fields["out_trade_no"],
            # Alipay sends the buyer back after paying; the claim is still only for display.
            claimed_status=paycore.PaymentStatus.PAID,
            amount=toolkit.plain_amount(total, places=2) if total else None,
            signature_checked=True,
            provider=self.name,
            account=self.account,
            raw=fields,
        )

    @paycore.hookimpl
    def notification_order_id(self, request: paycore.NotificationRequest) -> str | None:
        try:
            fields, _ = received_fields(request)
        except paycore.MalformedNotification:
            return None
        return fields.get("out_trade_no") or None

    @paycore.hookimpl
    def explain_signature(self, request: paycore.NotificationRequest) -> paycore.SignatureExplanation:
        fields, charset = received_fields(request)
        content = sign_content(fields, _NOTIFICATION_UNSIGNED)
        received = fields.get("sign") or None
        try:
            matched = received is not None and verify(content.encode(charset), received, self._public_key)
        except UnicodeEncodeError:
            matched = False
        candidate = paycore.SignatureCandidate(
            label=f"RSA2 over {charset}",
            signed_text=content,
            digest="",  # RSA2 signatures are checked with Alipay's key, never recomputed
            key_id=self._key_name if self._alipay_cert_sn is None else f"{self._key_name} {self._alipay_cert_sn}",
            matched=matched,
            dropped=tuple(
                sorted(name for name, value in fields.items() if name in _NOTIFICATION_UNSIGNED or not value)
            ),
        )
        return paycore.SignatureExplanation(
            rule="every parameter but sign and sign_type with a non-empty value, sorted by name, joined "
            "name=value&name=value with decoded values, in the message's charset; SHA256withRSA (PKCS#1 v1.5) "
            "checked with Alipay's public key",
            received=received,
            candidates=(candidate,),
        )

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        from paycore_alipay.sandbox import AlipaySandbox

        return AlipaySandbox(options)
