"""Verifying what the platform signs: answers and notifications carry their signature in five headers.

``Wechatpay-Timestamp``, ``Wechatpay-Nonce``, ``Wechatpay-Signature``,
``Wechatpay-Serial`` and ``Wechatpay-Signature-Type``; the signed text is
``TIMESTAMP\\nNONCE\\nBODY\\n`` with the body byte for byte. A timestamp more than
five minutes off the clock, a serial the account does not know, or a header
missing, is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from paycore import GatewayError, OrderNotFound, PaycoreError, ProtocolError, SignatureError, crypto, toolkit
from paycore_wechatpay._platform import ANSWER_MAX_AGE, PlatformKeys
from paycore_wechatpay._signing import SCHEMA, message

__all__ = ["SIGNED_HEADERS", "SignedHeaders", "UnknownSerial", "read_answer", "signed_headers", "verify_signed"]

SIGNED_HEADERS = (
    "wechatpay-timestamp",
    "wechatpay-nonce",
    "wechatpay-signature",
    "wechatpay-serial",
    "wechatpay-signature-type",
)
#: error codes that say the order asked about does not exist (only read so on a query of that order)
_NOT_FOUND = frozenset({"ORDER_NOT_EXIST"})


class UnknownSerial(SignatureError):
    """Signed by a key the account does not know (yet): certificate mode fetches the certificates and tries again."""


class SignedHeaders(NamedTuple):
    """The signature headers of one message (a tuple: built on every message, and cheaply)."""

    timestamp: str
    nonce: str
    signature: str
    serial: str


def signed_headers(header: Callable[[str], str | None], missing: type[PaycoreError]) -> SignedHeaders:
    """The signature headers of a message (``header`` looks one up by its lower-case name)."""
    values = {name: header(name) for name in SIGNED_HEADERS}
    absent = [name for name, value in values.items() if not value]
    if absent:
        raise missing(f"the WeChat Pay message lacks the {', '.join(absent)} header")
    if values["wechatpay-signature-type"] != SCHEMA:
        raise SignatureError(f"the WeChat Pay message is not signed with {SCHEMA}")
    return SignedHeaders(
        str(values["wechatpay-timestamp"]),
        str(values["wechatpay-nonce"]),
        str(values["wechatpay-signature"]),
        str(values["wechatpay-serial"]),
    )


def verify_signed(
    signed: SignedHeaders, body: bytes, key_of: Callable[[str], rsa.RSAPublicKey | None], *, what: str
) -> None:
    """Refuse unless ``body`` is signed, now, by the key ``key_of`` gives for the serial it names:
    SignatureError (UnknownSerial for a serial it knows no key of)."""
    if not crypto.is_fresh(signed.timestamp, ANSWER_MAX_AGE):
        raise SignatureError(f"the WeChat Pay {what}'s timestamp is more than {ANSWER_MAX_AGE // 60} minutes off")
    key = key_of(signed.serial)
    if key is None:
        raise UnknownSerial(f"the WeChat Pay {what} is signed by a key this account does not know (Wechatpay-Serial)")
    if not crypto.rsa_sha256_verify(message(signed.timestamp, signed.nonce, body), signed.signature, key):
        raise SignatureError(f"the WeChat Pay {what} is not signed by the platform key it names")


def read_answer(response: httpx.Response, keys: PlatformKeys, *, what: str, asked_order: bool = False) -> Any:
    """A verified answer's JSON (None for an empty 2xx), or the typed refusal it carries.

    A 4xx/5xx ``{code, message}`` is a `paycore.GatewayError` with that code; it is
    an `paycore.OrderNotFound` only when ``asked_order`` (a query of the order) and
    the refusal is signed: an unsigned "no such order" must not close an order. A
    nonce seen before is a replayed answer, refused.
    """
    if response.status_code >= 400:
        raise _refusal(response, keys, what=what, asked_order=asked_order)
    if not 200 <= response.status_code < 300:
        raise ProtocolError(f"WeChat Pay answered the {what} with HTTP {response.status_code}")
    signed = signed_headers(response.headers.get, SignatureError)
    verify_signed(signed, response.content, keys.key, what=f"{what} answer")
    if not keys.first_use_of(signed.nonce, int(signed.timestamp)):
        raise SignatureError(f"the WeChat Pay {what} answer replays an answer already received (its nonce)")
    if not response.content:
        return None
    try:
        data = toolkit.load_json(response.content)
    except ValueError as exc:
        raise ProtocolError(f"WeChat Pay answered the {what} with {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"WeChat Pay answered the {what} with JSON that is not an object")
    return data


def _refusal(response: httpx.Response, keys: PlatformKeys, *, what: str, asked_order: bool) -> GatewayError:
    try:
        data = toolkit.load_json(response.content) if response.content else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    code, reason = data.get("code"), data.get("message") or f"HTTP {response.status_code}"
    try:
        headers = signed_headers(response.headers.get, SignatureError)
        verify_signed(headers, response.content, keys.key, what=what)
    except PaycoreError:
        signed = False
    else:
        # A signed refusal names no order: replayed, one "no such order" would answer every query for five
        # minutes. Its nonce is spent like an answer's.
        if not keys.first_use_of(headers.nonce, int(headers.timestamp)):
            raise SignatureError(f"the WeChat Pay {what} refusal replays one already received (its nonce)")
        signed = True
    kind = OrderNotFound if asked_order and signed and code in _NOT_FOUND else GatewayError
    return toolkit.gateway_refusal(f"{what} request", reason, code=code, kind=kind)
