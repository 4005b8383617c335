"""Reading what the gateway sends: notification bodies, amounts, times, signatures.

A notification body is built by the gateway with plain string concatenation::

    memberid=…&orderid=…&transaction_id=…&amount=…[&true_amount=…]&datetime=…&returncode=…&sign=…&attach=…

so an ``attach`` holding ``&`` or ``=`` spills into fake fields after it. Since
``attach`` comes last, everything after ``attach=`` is its value; before it, the
first occurrence of each key wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

from paycore import MalformedAmount, MalformedNotification, SignatureError
from paycore.toolkit import clip, first_match, plain_amount_in, signature_matches, utf8
from paycore.toolkit import gateway_time as any_gateway_time
from paycore_juhe._signing import digest, signing_string
from paycore_juhe.settings import SETTLEMENT_CURRENCY

__all__ = [
    "UNPAID_TIME",
    "gateway_time",
    "parse_amount",
    "parse_form_body",
    "signed_fields",
]

#: ``time_end`` of an unpaid order on the reference gateway: Unix time 0 in UTC+8.
UNPAID_TIME = "1970-01-01 08:00:00"
_UNSIGNED = ("sign", "attach")
#: The names the protocol's messages use; any other signed name must be a plain word.
_PROTOCOL_NAMES = frozenset(
    {
        "memberid",
        "orderid",
        "transaction_id",
        "amount",
        "true_amount",
        "datetime",
        "returncode",
        "time_end",
        "trade_state",
    }
)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


def _decode(raw: str) -> str:
    # Bodies arrive raw (concatenated) or form-encoded, depending on the platform;
    # unquote_plus reads both, as signed values never hold '+' or '%'. Most values
    # hold neither, and skipping the call for them halves the cost of a parse.
    if "%" not in raw and "+" not in raw:
        return raw
    return unquote_plus(raw, encoding="utf-8", errors="strict")


def parse_form_body(body: bytes | Mapping[str, str]) -> dict[str, str]:
    """Parse a notification body; ``attach`` takes the rest of the body, as sent.

    A field given twice before ``attach`` is refused: a first-wins and a last-wins
    parser (PHP's) would read the body differently, and a verifier accepts one reading.
    """
    if not isinstance(body, bytes):  # bytes first: the ABC check on Mapping is the slower one
        if not all(isinstance(key, str) and isinstance(value, str) for key, value in body.items()):
            raise MalformedNotification("a notification mapping must hold strings only")
        return dict(body)
    raw = body.strip()
    if raw.startswith(b"\xef\xbb\xbf"):  # a BOM, as PHP files saved with one emit it
        raw = raw[3:]
    # attach is cut off as bytes: it is unsigned, so text in it that cannot be read
    # must not cost the merchant a genuine notification.
    attach_bytes: bytes | None
    if raw.startswith(b"attach="):
        head_bytes, attach_bytes = b"", raw[7:]
    else:
        cut = raw.find(b"&attach=")
        head_bytes, attach_bytes = (raw, None) if cut == -1 else (raw[:cut], raw[cut + 8 :])
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNotification("the notification body is not UTF-8 form data") from None
    attach = None if attach_bytes is None else _lenient(attach_bytes)
    if "%" in head or "+" in head:
        fields = _parse_encoded(head)  # an encoded name may spell "attach": read part by part
        if attach is not None:
            # an encoded attach earlier took the rest of the head: the rest of the body too
            fields["attach"] = f"{fields['attach']}&attach={attach}" if "attach" in fields else attach
        return fields
    # The common case, a raw body: no value to decode before attach.
    parts = head.split("&")
    try:
        fields = dict([part.split("=", 1) for part in parts])
        complete = len(fields) == len(parts) and "" not in fields
    except ValueError:  # a part without '='
        complete = False
    if not complete:
        fields = _named_pairs(parts)
    if attach is not None:
        fields["attach"] = attach
    return fields


def _lenient(raw: bytes) -> str:
    """An unsigned value as best it can be read: decoded if it decodes, else as received."""
    text = raw.decode("utf-8", "replace")
    try:
        return _decode(text)
    except UnicodeDecodeError:
        return text


def _named_pairs(parts: list[str]) -> dict[str, str]:
    """The ``name=value`` parts, part by part: nameless or '='-less parts dropped, repeats refused."""
    fields: dict[str, str] = {}
    for part in parts:
        name, separator, value = part.partition("=")
        if name in fields:
            _refuse_repeated([*fields, name])
        if separator and name:
            fields[name] = value
    return fields


def _parse_encoded(text: str) -> dict[str, str]:
    parts = text.split("&")
    fields: dict[str, str] = {}
    for index, part in enumerate(parts):
        raw_name, separator, value = part.partition("=")
        name = _decoded(raw_name)
        if name == "attach":
            # Unsigned and sent last, unencoded: the rest of the body is its value.
            fields["attach"] = _decoded("&".join(parts[index:]).partition("=")[2])
            break
        if name in fields:
            _refuse_repeated([*fields, name])
        if separator and name:
            fields[name] = _decoded(value)
    return fields


def _decoded(raw: str) -> str:
    try:
        return _decode(raw)
    except UnicodeDecodeError:
        raise MalformedNotification("the notification body is not UTF-8 form data") from None


def _refuse_repeated(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise MalformedNotification(f"field {clip(name)!r} is given more than once")
        seen.add(name)


def parse_amount(fields: Mapping[str, str], name: str) -> Decimal:
    """A positive Decimal from ``fields[name]``, else MalformedNotification."""
    raw = fields.get(name, "")
    # The platform stores four decimals (9.9000): the order's yuan are written with two.
    amount = plain_amount_in(raw, SETTLEMENT_CURRENCY)
    if amount is None:
        raise MalformedAmount(f"{name} {raw[:32]!r} is not a decimal amount")
    if amount <= 0:
        raise MalformedAmount(f"{name} {raw!r} is not a positive amount")
    return amount


def gateway_time(raw: str, zone: ZoneInfo) -> datetime:
    """A time the gateway wrote, in the account's zone; ValueError when it is in no known format.

    The reference software writes ``date("YmdHis")`` (``20261128231027``); other
    platforms ``2026-11-28 23:10:27``. Both are read, in the account's zone; no juhe
    platform writes an offset, so the toolkit's ISO 8601 form is refused here.
    """
    if "T" in raw:
        raise ValueError("not a juhe gateway time")
    return any_gateway_time(raw, zone)


def _ambiguity(fields: Mapping[str, str]) -> str:
    """Which signed name or value of ``fields`` could re-cut the signed string (for the message)."""
    for name, value in fields.items():
        if name in _UNSIGNED or value == "":
            continue
        if not _PLAIN_NAME.fullmatch(name):
            return f"field name {clip(name)!r} is not a plain name"
        if "&" in value or "=" in value:
            return f"{clip(name)} holds '&' or '='"
    return "a field holds '&' or '='"  # unreachable: the caller found one


def _plain_names(names: Iterable[str]) -> bool:
    return _PROTOCOL_NAMES.issuperset(names) or all(_PLAIN_NAME.fullmatch(name) for name in names)


def _digest_of(text: str, key: str) -> bytes:
    # Encoded before the key is appended: no error raised here can hold it.
    encoded = utf8(text)
    if encoded is None:
        raise MalformedNotification("a field is not valid Unicode text")
    return digest(encoded, key).encode("ascii")


def signed_fields(fields: Mapping[str, str], key: str) -> dict[str, str] | None:
    """The fields that ``fields['sign']`` covers, under the first signing rule that matches; else None.

    Rules, in order: the reference (every field but ``sign`` and ``attach``, PHP-empty
    values dropped); ``attach`` included; ``"0"`` kept; both. Each candidate still
    needs the key, so accepting them costs no security, and the caller reads only
    what the matching rule signed: a present field that rule dropped changes nothing.

    One reading only: the string joins ``k=v`` with ``&`` over decoded values, so a
    signed name or value holding ``&`` or ``=`` (or a name that is not a plain
    ``[A-Za-z0-9_]`` word) could re-cut the fields without changing the string. Such
    a message is refused with SignatureError, whatever its sign; no genuine message
    holds one (names are the protocol's, values are ids, amounts, codes and times).
    """
    # C-level dict and join operations: this is the hot path of every notification.
    reference = dict(fields)
    for name in _UNSIGNED:
        reference.pop(name, None)
    zeros: dict[str, str] = {}
    if "" in reference.values() or "0" in reference.values():
        zeros = {name: value for name, value in reference.items() if value == "0"}
        reference = {name: value for name, value in reference.items() if value and value != "0"}
    text = "&".join(map("=".join, sorted(reference.items())))
    # Exactly one '=' per field and one '&' between fields: no value holds either.
    separators_ok = text.count("=") == len(reference) and text.count("&") == max(len(reference) - 1, 0)
    if not separators_ok or not _plain_names(reference) or not _plain_names(zeros):
        raise SignatureError(f"{_ambiguity(fields)}, which makes the signed string ambiguous: refused")
    # Normalized once for every candidate: compared in constant time, either case.
    received = fields.get("sign", "").strip().upper().encode("ascii", "replace")
    # The reference rule first, inline: nearly every genuine notification matches it,
    # and this is the hot path of every notification.
    if signature_matches(received, _digest_of(text, key)):
        return reference
    tried: list[dict[str, str]] = []

    def expected() -> Iterator[bytes]:
        # Each other rule's digest is computed only when the rules before it did not match.
        for signed_text, rule in _other_rules(reference, zeros, fields.get("attach", "")):
            tried.append(rule)
            yield _digest_of(signed_text, key)

    matched = first_match(received, expected())
    return None if matched is None else tried[matched]


def _other_rules(reference: dict[str, str], zeros: dict[str, str], attach: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Each signing rule but the reference one: its string and the fields it covers."""
    # attach is signed by some platforms only; an attach that could re-cut the string
    # is simply never read as signed (it stays unsigned under the reference rule).
    signable_attach = attach != "" and "&" not in attach and "=" not in attach
    candidates = []
    if signable_attach and attach != "0":
        candidates.append({**reference, "attach": attach})
    if zeros or attach == "0":
        kept = {**reference, **zeros}
        if zeros:
            candidates.append(kept)
        if signable_attach:
            candidates.append({**kept, "attach": attach})
    for candidate in candidates:
        yield signing_string(candidate, keep_zero=True), candidate
