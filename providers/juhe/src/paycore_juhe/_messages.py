"""Reading what the gateway sends: notification bodies, amounts, times, signatures.

A notification body is built by the gateway with plain string concatenation::

    memberid=…&orderid=…&transaction_id=…&amount=…[&true_amount=…]&datetime=…&returncode=…&sign=…&attach=…

so an ``attach`` holding ``&`` or ``=`` spills into fake fields after it. Since
``attach`` comes last, everything after ``attach=`` is its value; before it, the
first occurrence of each key wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

from paycore import MalformedAmount, MalformedNotification
from paycore_juhe._signing import sign, signature_matches

__all__ = [
    "UNPAID_TIME",
    "parse_amount",
    "parse_form_body",
    "parse_gateway_time",
    "plain_amount",
    "verify_fields",
]

#: ``time_end`` of an unpaid order on the reference gateway: Unix time 0 in UTC+8.
UNPAID_TIME = "1970-01-01 08:00:00"
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_UNSIGNED = ("sign", "attach")
_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,8})?")


def _decode(raw: str) -> str:
    # Bodies arrive raw (concatenated) or form-encoded, depending on the platform;
    # unquote_plus reads both, as signed values never hold '+' or '%'. Most values
    # hold neither, and skipping the call for them halves the cost of a parse.
    if "%" not in raw and "+" not in raw:
        return raw
    return unquote_plus(raw, encoding="utf-8", errors="strict")


def parse_form_body(body: bytes | Mapping[str, str]) -> dict[str, str]:
    """Parse a notification body; ``attach`` takes the rest of the body, as sent."""
    if isinstance(body, Mapping):
        if not all(isinstance(key, str) and isinstance(value, str) for key, value in body.items()):
            raise MalformedNotification("a notification mapping must hold strings only")
        return dict(body)
    try:
        parts = body.decode("utf-8").strip().split("&")
        fields: dict[str, str] = {}
        for index, part in enumerate(parts):
            raw_key, separator, value = part.partition("=")
            key = _decode(raw_key)
            if key == "attach":
                # Unsigned and sent last, unencoded: the rest of the body is its value.
                fields["attach"] = _decode("&".join(parts[index:]).partition("=")[2])
                break
            if separator and key and key not in fields:
                fields[key] = _decode(value)
    except (UnicodeDecodeError, ValueError):
        raise MalformedNotification("the notification body is not UTF-8 form data") from None
    return fields


def plain_amount(raw: str) -> Decimal | None:
    """``raw`` as a Decimal if it is written as gateways write amounts (``300.0000``), else None.

    Exponents, signs, NaN and absurd sizes are refused: no gateway writes them.
    """
    if not _AMOUNT.fullmatch(raw):
        return None
    return Decimal(raw)


def parse_amount(fields: Mapping[str, str], name: str) -> Decimal:
    """A positive Decimal from ``fields[name]``, else MalformedNotification."""
    raw = fields.get(name, "")
    amount = plain_amount(raw)
    if amount is None:
        raise MalformedAmount(f"{name} {raw[:32]!r} is not a decimal amount")
    if amount <= 0:
        raise MalformedAmount(f"{name} {raw!r} is not a positive amount")
    return amount


def parse_gateway_time(raw: str | None, zone: ZoneInfo) -> datetime | None:
    """The gateway's ``YYYY-MM-DD HH:MM:SS`` in the account's zone; None if absent or unpaid."""
    if not raw or raw == UNPAID_TIME or not _TIME.fullmatch(raw):
        return None
    try:
        # fromisoformat reads "YYYY-MM-DD HH:MM:SS" in C, several times faster than strptime.
        return datetime.fromisoformat(raw).replace(tzinfo=zone)
    except ValueError:
        return None


def verify_fields(fields: Mapping[str, str], key: str) -> bool:
    """Whether ``fields['sign']`` signs ``fields`` under any rule a platform is known to use.

    The reference rule first (every field but ``sign`` and ``attach``, PHP-empty
    values dropped); then ``attach`` included, and ``"0"`` kept, as some platforms do.
    Each candidate still needs the key, so accepting them costs no security.
    """
    received = fields.get("sign", "")
    without_attach = {name: value for name, value in fields.items() if name not in _UNSIGNED}
    with_attach = {name: value for name, value in fields.items() if name != "sign"}

    def candidates() -> Iterator[str]:
        yield sign(without_attach, key)
        if "attach" in fields:
            yield sign(with_attach, key)
        if "0" in without_attach.values():
            yield sign(without_attach, key, keep_zero=True)
            if "attach" in fields:
                yield sign(with_attach, key, keep_zero=True)

    return signature_matches(received, candidates())
