"""The epay provider's hooks: signed links and forms, API create and query, GET notifications."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

import httpx

import paycore
from paycore import toolkit
from paycore.sandbox import Sandbox, SandboxOptions
from paycore.signatures import KEY_PLACEHOLDER
from paycore_epay._answers import (
    NOTIFIED_FIELDS,
    TRADE_STATUSES,
    amount_of,
    answer_object,
    paid_time,
    refused,
    required,
    text_of,
)
from paycore_epay._channels import CHANNELS
from paycore_epay._signing import UNSIGNED, sign, signed_string
from paycore_epay.settings import EpaySettings

__all__ = ["EpayProvider"]

# A raw "k=v&k=v" signed string: these would let a value be read as another field (see toolkit.unambiguous_pairs).
_SEPARATORS = "&="
#: Fields the most widely deployed platform stores as htmlspecialchars(addslashes(value)), and then notifies
#: and signs as stored: their '&' may only begin one of htmlspecialchars' five entities.
_ESCAPED_BY_PLATFORM = ("name", "param")
_ENTITY = re.compile(r"&(?:amp|quot|#039|lt|gt);")
#: epay's money is yuan: the protocol has no currency field.
SETTLEMENT_CURRENCY = "CNY"


class EpayProvider(paycore.Provider[EpaySettings]):
    """The "易支付" (epay v1) merchant protocol, for any platform running it."""

    settings_model = EpaySettings
    provider_name = "epay"
    channels = frozenset(CHANNELS)
    currencies = frozenset({SETTLEMENT_CURRENCY})
    #: server: ``mapi.php`` answers a pay URL, QR content or app link; form: a signed ``submit.php`` form
    create_flows = frozenset(paycore.CreateFlow)
    #: ``mapi.php`` (the server flow) requires the buyer's IP (``clientip``); the browser form does not
    flow_order_fields = MappingProxyType({paycore.CreateFlow.SERVER: frozenset({"client_ip"})})
    #: ``api.php`` takes the merchant key in its query string: masked in every URL httpx logs
    secret_parameters = frozenset({"key"})

    def __init__(self, settings: EpaySettings, *, name: str, account: str) -> None:
        super().__init__(settings, name=name, account=account)
        self._base = settings.base_url.rstrip("/")
        self._ack = paycore.Reply(body="success")

    @property
    def _key(self) -> str:
        return self.settings.secret_key.get_secret_value()

    def _signed(self, fields: dict[str, str]) -> dict[str, str]:
        return {**fields, "sign": sign(fields, self._key), "sign_type": "MD5"}

    def _order_fields(self, order: paycore.Order) -> dict[str, str]:
        """The signed fields of an order, or InvalidRequest before anything is sent."""
        if not isinstance(order.channel, paycore.Channel) or order.channel not in CHANNELS:
            raise paycore.InvalidRequest(f"epay does not sell channel {order.channel!r}")
        try:
            money = toolkit.format_amount(order.amount, 2)
        except ValueError:
            raise paycore.InvalidRequest(f"epay takes yuan with at most 2 decimals, not {order.amount}") from None
        kind, _ = CHANNELS[order.channel]
        fields = {
            "pid": self.settings.merchant_id,
            "type": kind,
            "out_trade_no": order.order_id,
            "notify_url": order.notify_url,
            "return_url": order.return_url,
            "name": order.subject,
            "money": money,
        }
        if order.attach:
            # Sent so that it comes back exactly as given: platforms store it escaped (see toolkit.encode_attach).
            fields["param"] = toolkit.encode_attach_if_altered(order.attach)
        for name in ("name", "notify_url", "return_url"):
            if any(separator in fields[name] for separator in _SEPARATORS):
                # Platforms that store it as sent would sign and notify it raw, and no notification about the
                # order could be verified. ('&' escaped by the others is "&amp;", which would verify.)
                shown = "subject" if name == "name" else name
                raise paycore.InvalidRequest(
                    f"epay signs {shown!r} raw: it cannot hold '&' or '=' (a query string in notify_url "
                    "or return_url included)"
                )
        return fields

    @paycore.hookimpl
    def create_payment(self, order: paycore.Order, flow: paycore.CreateFlow) -> paycore.Flow[paycore.Payment]:
        fields = self._order_fields(order)
        if flow is paycore.CreateFlow.FORM:
            return paycore.Payment(
                order_id=order.order_id,
                status=paycore.PaymentStatus.PENDING,
                amount=order.amount,
                currency=SETTLEMENT_CURRENCY,
                next_action=paycore.PaymentForm(action=f"{self._base}/submit.php", fields=self._signed(fields)),
                provider=self.name,
                account=self.account,
            )
        _, device = CHANNELS[order.channel]  # type: ignore[index]  # _order_fields checked it is a Channel
        fields.update(clientip=order.client_ip or "", device=device)
        response = yield httpx.Request("POST", f"{self._base}/mapi.php", data=self._signed(fields))
        data = answer_object(response, "create request")
        refusal = refused(data, "create request")
        if refusal is not None:
            raise refusal
        return paycore.Payment(
            order_id=order.order_id,
            status=paycore.PaymentStatus.PENDING,
            amount=order.amount,
            currency=SETTLEMENT_CURRENCY,
            transaction_id=text_of(data, "trade_no") or None,
            next_action=_next_action(data),
            provider=self.name,
            account=self.account,
            raw=data,
        )

    @paycore.hookimpl
    def query_payment(self, order_id: str) -> paycore.Flow[paycore.Payment]:
        params = {"act": "order", "pid": self.settings.merchant_id, "key": self._key, "out_trade_no": order_id}
        response = yield httpx.Request("GET", f"{self._base}/api.php", params=params)
        data = answer_object(response, "query")
        refusal = refused(data, "query", order_missing_means_not_found=True)
        if refusal is not None:
            raise refusal
        if text_of(data, "out_trade_no") != order_id:
            raise paycore.ProtocolError(f"epay answered a query about order {order_id!r} with another order")
        if text_of(data, "pid") not in ("", self.settings.merchant_id):
            raise paycore.ProtocolError("epay answered a query with another merchant's order")
        paid = text_of(data, "status") == "1"
        amount = amount_of(text_of(data, "money"), notification=False)
        return paycore.Payment(
            order_id=order_id,
            status=paycore.PaymentStatus.PAID if paid else paycore.PaymentStatus.PENDING,
            amount=amount,
            currency=SETTLEMENT_CURRENCY,
            paid_amount=amount if paid else None,
            transaction_id=text_of(data, "trade_no") or None,
            paid_at=paid_time(text_of(data, "endtime")) if paid else None,
            provider=self.name,
            account=self.account,
            raw=data,
        )

    def _verified_fields(self, request: paycore.NotificationRequest) -> dict[str, str]:
        """The fields of a signed GET (or POSTed form), every one covered by the signature, or raise."""
        fields = request.query_fields() if request.method == "GET" else request.form_fields()
        required(fields, NOTIFIED_FIELDS)
        toolkit.unambiguous_pairs(_entities_set_aside(fields), _SEPARATORS)
        if fields.get("sign_type", "MD5").upper() != "MD5":
            raise paycore.SignatureError("epay notification is not signed with MD5")
        if not toolkit.signature_matches(fields["sign"].lower(), sign(fields, self._key)):
            raise paycore.SignatureError("epay notification signature does not match this account's key")
        if fields["pid"] != self.settings.merchant_id:
            raise paycore.MerchantMismatch("epay notification is for another merchant id")
        return fields

    @paycore.hookimpl
    def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
        fields = self._verified_fields(request)
        status = TRADE_STATUSES.get(fields["trade_status"])
        if status is None:
            raise paycore.MalformedNotification(f"epay notified an unknown trade_status {fields['trade_status']!r:.40}")
        amount = amount_of(fields["money"], notification=True)
        return paycore.Notification(
            order_id=fields["out_trade_no"],
            status=status,
            amount=amount,
            currency=SETTLEMENT_CURRENCY,
            paid_amount=amount if status is paycore.PaymentStatus.PAID else None,
            transaction_id=fields["trade_no"],
            attach=toolkit.decode_attach(fields.get("param")),
            provider=self.name,
            account=self.account,
            raw=fields,
            ack=self._ack,
        )

    @paycore.hookimpl
    def explain_signature(self, request: paycore.NotificationRequest) -> paycore.SignatureExplanation:
        fields = request.query_fields() if request.method == "GET" else request.form_fields()
        digest = sign(fields, self._key)
        received = fields.get("sign")
        problem = None
        try:
            toolkit.unambiguous_pairs(_entities_set_aside(fields), _SEPARATORS)
        except paycore.MalformedNotification as exc:
            problem = str(exc)
        if fields.get("sign_type", "MD5").upper() != "MD5":
            problem = f"sign_type is {fields['sign_type']!r:.20}, not MD5"
        candidate = paycore.SignatureCandidate(
            label="epay v1",
            signed_text=signed_string(fields) + KEY_PLACEHOLDER,
            digest=digest,
            matched=received is not None and toolkit.signature_matches(received.lower(), digest),
            dropped=tuple(sorted(name for name, value in fields.items() if name in UNSIGNED or value == "")),
        )
        return paycore.SignatureExplanation(
            rule="every parameter but sign and sign_type, empty values left out, sorted by name, joined "
            "name=value&name=value with raw values, the key appended with no separator; MD5, lower-case hex",
            received=received,
            candidates=(candidate,),
            problem=problem,
        )

    @paycore.hookimpl
    def failure_reply(self, reason: str) -> paycore.Reply:
        return paycore.Reply(body="fail", status=400)

    @paycore.hookimpl
    def parse_return(self, request: paycore.NotificationRequest) -> paycore.BrowserReturn:
        # The buyer comes back with the notification's fields, signed the same way.
        fields = self._verified_fields(request)
        return paycore.BrowserReturn(
            order_id=fields["out_trade_no"],
            claimed_status=TRADE_STATUSES.get(fields["trade_status"], paycore.PaymentStatus.UNKNOWN),
            amount=toolkit.plain_amount(fields["money"], places=2),
            attach=toolkit.decode_attach(fields.get("param")),
            signature_checked=True,
            provider=self.name,
            account=self.account,
            raw=fields,
        )

    @paycore.hookimpl
    def notification_order_id(self, request: paycore.NotificationRequest) -> str | None:
        try:
            fields = request.query_fields() if request.method == "GET" else request.form_fields()
        except paycore.MalformedNotification:
            return None
        return fields.get("out_trade_no") or None

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        from paycore_epay.sandbox import EpaySandbox

        return EpaySandbox(options)


def _next_action(data: dict[str, Any]) -> paycore.NextAction:
    """What the buyer does: open ``payurl``, scan ``qrcode``, or open the wallet at ``urlscheme``."""
    payurl, qrcode, urlscheme = (text_of(data, name) for name in ("payurl", "qrcode", "urlscheme"))
    try:
        if payurl:
            return paycore.Redirect(url=payurl)
        if qrcode:
            return paycore.QrCode(content=qrcode)
        if urlscheme:
            return paycore.AppLink(url=urlscheme)
    except (ValueError, paycore.PaycoreError):
        raise paycore.ProtocolError("epay answered a pay URL, QR content or app link that is not usable") from None
    raise paycore.ProtocolError("epay accepted the order but answered no payurl, qrcode or urlscheme")


def _entities_set_aside(fields: dict[str, str]) -> dict[str, str]:
    """The signed fields as the separator check reads them: in ``name`` and ``param``, escaped characters set aside.

    A platform that stores ``Tom's`` as ``Tom\\&#039;s`` signs and notifies that text: its
    '&' begins an entity, ends at ';' and is followed by no ``name=``, so the signed
    string still has one reading. Any other '&', and any '=', is refused as before.
    """
    checked = {name: value for name, value in fields.items() if name != "sign"}
    for name in _ESCAPED_BY_PLATFORM:
        value = checked.get(name)
        if value is not None and "&" in value:
            checked[name] = _ENTITY.sub("", value)
    return checked
