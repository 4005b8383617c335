"""Reading Alipay's answers (signed envelopes) and notifications (signed forms, UTF-8 or GBK)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from paycore import (
    GatewayError,
    MalformedAmount,
    MalformedNotification,
    NotificationRequest,
    OrderNotFound,
    PaymentStatus,
    ProtocolError,
    SignatureError,
    toolkit,
)
from paycore_alipay._envelope import read_envelope
from paycore_alipay._signing import verify

__all__ = [
    "SHANGHAI",
    "TRADE_STATUSES",
    "AnswerKey",
    "answer",
    "gateway_time",
    "received_fields",
    "same",
    "text",
    "yuan",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUCCESS = "10000"

#: ``trade_status`` of notifications and queries
TRADE_STATUSES = {
    "WAIT_BUYER_PAY": PaymentStatus.PENDING,
    "TRADE_SUCCESS": PaymentStatus.PAID,
    "TRADE_FINISHED": PaymentStatus.PAID,
    "TRADE_CLOSED": PaymentStatus.CLOSED,
}
#: what a notification's ``charset`` may say
CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "gbk": "gbk", "gb2312": "gbk"}
#: fields only one method's answer holds, and that method
_MARKERS = {
    "qr_code": "alipay.trade.precreate",
    "trade_status": "alipay.trade.query",
    "fund_change": "alipay.trade.refund",
    "refund_status": "alipay.trade.fastpay.refund.query",
}
#: every field a success of these methods may hold: an answer that closes a trade is small and moves the
#: trade for good, so anything more is another method's answer renamed (a refund query's leaves out its marker)
_ONLY_FIELDS = {
    "alipay.trade.close": frozenset({"code", "msg", "sub_code", "sub_msg", "out_trade_no", "trade_no"}),
}
#: sub codes that mean "there is no such trade"
_NOT_FOUND = frozenset({"ACQ.TRADE_NOT_EXIST"})


def text(data: Mapping[str, Any], name: str) -> str:
    """A scalar field as text ("" when absent); JSON numbers are Decimal, kept exact."""
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ProtocolError(f"Alipay answered {name!r} as {type(value).__name__}, not text")
    return str(value)


@dataclass(frozen=True)
class AnswerKey:
    """What Alipay's answers are verified with: the key, the setting it comes from, its certificate's SN."""

    public_key: rsa.RSAPublicKey
    setting: str
    #: certificate mode: the SN of the configured alipay_cert (answers name the certificate they are signed with)
    cert_sn: str | None = None


def answer(response: httpx.Response, method: str, key: AnswerKey, *, about: str) -> dict[str, Any]:
    """The verified response object of ``method``'s answer; a refusal as GatewayError.

    Only the method's own, signed ``<method>_response`` with code 10000 is a
    success. Alipay's ``error_response`` is a refusal whatever it says (one that
    says 10000 is not Alipay's: ProtocolError), and an unsigned refusal is never
    read as "no such trade" (which tells reconciliation the order never arrived), nor is
    a signed one about another order than ``about``. The ``<method>_response`` name is
    outside the signature: a success holding the fields of another method's answer is
    that answer, renamed, and refused.
    """
    try:
        envelope = read_envelope(response.content, method)
    except ValueError as exc:
        page = toolkit.clip(response.content.decode("utf-8", "replace").strip(), 80)
        raise ProtocolError(f"Alipay answered {method} with HTTP {response.status_code}: {exc} ({page!r})") from None
    data = envelope.response
    code = text(data, "code")
    if envelope.error and code == SUCCESS:
        raise ProtocolError(f"Alipay answered {method} with an error_response that claims success")
    if envelope.sign is None:
        if code == SUCCESS:
            raise SignatureError(f"Alipay's answer to {method} claims success without a signature")
        # Alipay leaves some refusals unsigned (an unknown app_id, say): a refusal moves no money.
        raise _refusal(data, method, verified=False, about=about)
    if not verify(envelope.response_text, envelope.sign, key.public_key):
        if key.cert_sn is not None and envelope.cert_sn not in (None, key.cert_sn):
            # Alipay renews its certificate: the answer names the new one.
            raise SignatureError(
                f"Alipay signed its answer to {method} with certificate {toolkit.clip(envelope.cert_sn)!r}, not the "
                f"configured alipay_cert ({key.cert_sn}): download Alipay's current public key certificate"
            )
        raise SignatureError(f"Alipay's answer to {method} is not signed by the configured {key.setting}")
    if envelope.error or code != SUCCESS:
        raise _refusal(data, method, verified=True, about=about)
    foreign = sorted(name for name, owner in _MARKERS.items() if owner != method and name in data)
    allowed = _ONLY_FIELDS.get(method)
    if allowed is not None:
        foreign = sorted(set(foreign).union(name for name in data if name not in allowed))
    if foreign:
        raise ProtocolError(
            f"Alipay's answer to {method} holds {toolkit.clip(', '.join(foreign), 200)}: another method's answer"
        )
    return data


def _refusal(data: Mapping[str, Any], method: str, *, verified: bool, about: str) -> GatewayError:
    sub_code = text(data, "sub_code")
    message = text(data, "sub_msg") or text(data, "msg")
    kind = OrderNotFound if verified and sub_code in _NOT_FOUND else GatewayError
    if kind is OrderNotFound and text(data, "out_trade_no") not in ("", about):
        raise ProtocolError(f"Alipay answered {method} with a refusal about another order")
    return toolkit.gateway_refusal(method, message, code=sub_code or text(data, "code"), kind=kind)


def same(data: Mapping[str, Any], name: str, expected: str, method: str, *, what: str = "order") -> None:
    """ProtocolError unless the answer names ``expected`` as ``name``.

    A signature proves Alipay wrote the answer, not that it answers this request:
    a signed answer about another order or refund (replayed, or misrouted) is refused.
    """
    if text(data, name) != expected:
        raise ProtocolError(f"Alipay answered {method} about another {what} ({name} is not {toolkit.clip(expected)!r})")


def yuan(raw: str, name: str, *, notification: bool) -> Decimal:
    """Yuan with at most 2 decimals, positive; MalformedAmount (notification) or ProtocolError (answer)."""
    value = toolkit.plain_amount(raw, places=2)
    if value is None or value <= 0:
        message = f"Alipay's {name} {toolkit.clip(raw, 20)!r} is not yuan with 2 decimals"
        raise MalformedAmount(message) if notification else ProtocolError(message)
    return value


def gateway_time(raw: str, name: str, *, notification: bool) -> datetime | None:
    if not raw:
        return None
    try:
        return toolkit.gateway_time(raw, SHANGHAI)
    except ValueError:
        message = f"Alipay's {name} {toolkit.clip(raw, 32)!r} is not yyyy-MM-dd HH:mm:ss"
        raise MalformedNotification(message) if notification else ProtocolError(message) from None


def received_fields(request: NotificationRequest) -> tuple[dict[str, str], str]:
    """The fields of a notification (POSTed form) or return (query), decoded in their ``charset``; and the charset.

    Each field once. The charset is read from the raw pairs first (its own value
    is ASCII), then every value is decoded with it: a GBK notification signs its
    GBK bytes.
    """
    if request.form is not None:
        parsed = dict(request.form)
        if CHARSETS.get(parsed.get("charset", "utf-8").lower()) != "utf-8":
            # The framework decoded the body already, with its own idea of the charset: the GBK bytes
            # Alipay signed are gone. Refused as such, not as a signature that fails for no clear reason.
            raise MalformedNotification(
                "a notification in a charset other than UTF-8 must reach paycore as its raw body, "
                "not a form a framework parsed"
            )
        return parsed, "utf-8"
    raw = request.body if request.body else request.query.encode("ascii", "replace")
    try:
        body = raw.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedNotification("an Alipay notification is URL-encoded ASCII") from None
    # The charset is ASCII: read off the raw pairs without decoding the whole body twice (verification is hot).
    declared = (
        [unquote_plus(pair[8:]) for pair in body.split("&") if pair.startswith("charset=")]
        if "charset=" in body
        else []
    )
    charset = CHARSETS.get(declared[0].lower() if declared else "utf-8")
    if charset is None or len(declared) > 1:
        raise MalformedNotification("an Alipay notification declares one charset, UTF-8 or GBK")
    try:
        pairs = toolkit.form_pairs(body, encoding=charset)
    except UnicodeDecodeError:
        raise MalformedNotification(f"a field is not valid {charset}") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise MalformedNotification(f"field {toolkit.clip(name)!r} is given more than once")
        fields[name] = value
    if CHARSETS.get(fields.get("charset", "utf-8").lower()) != charset:
        # A charset field the raw scan did not see (its name percent-encoded): two readings, refused.
        raise MalformedNotification("the notification's charset field is written in two ways")
    return fields, charset
