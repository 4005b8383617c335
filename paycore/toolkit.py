"""Small, tested helpers that provider authors would otherwise copy.

Settings validators, currencies, strict reading and writing of amounts, exact JSON,
gateway times, constant-time signature matching, gateway refusals, and an ``attach``
encoding every platform hands back unchanged. Use the
validators in a provider's settings model::

    from typing import Annotated
    from pydantic import AfterValidator
    from paycore.toolkit import base_url

    class AcmeSettings(paycore.ProviderSettings):
        base_url: Annotated[str, AfterValidator(base_url)]

The readers raise ``ValueError`` (or return None) with a message that names the rule,
never the value (a URL may carry credentials, a field may hold anything): the
provider turns it into the paycore error its context calls for —
`paycore.MalformedNotification` in a notification, `paycore.ProtocolError` in
an answer.
"""

from __future__ import annotations

import functools
import hmac
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from decimal import Context, Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from paycore._attach import ATTACH_PREFIX, PLATFORM_ALTERED, decode_attach, encode_attach, encode_attach_if_altered
from paycore._text import clip
from paycore.errors import GatewayError, MalformedNotification

__all__ = [
    "ATTACH_PREFIX",
    "PLATFORM_ALTERED",
    "base_url",
    "clip",
    "decode_attach",
    "encode_attach",
    "encode_attach_if_altered",
    "first_match",
    "form_pairs",
    "format_amount",
    "from_minor_units",
    "gateway_refusal",
    "gateway_time",
    "in_currency_places",
    "is_http_url",
    "load_json",
    "minor_units",
    "plain_amount",
    "plain_amount_in",
    "signature_matches",
    "to_minor_units",
    "unambiguous_pairs",
    "utf8",
]

# ISO 4217 minor units where they are not 2.
_MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"), 0),
    **dict.fromkeys(("VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
_QUANTA = {places: Decimal(1).scaleb(-places) for places in (0, 2, 3)}
_EXACT = Context(prec=60, traps=[InvalidOperation])
# As gateways write amounts: digits, an optional point and decimals. No sign, exponent,
# spaces, separators or other digit scripts; at most 15 integer digits.
_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.([0-9]{1,8}))?")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# What an unencoded URL never holds. \s is str.isspace()'s set (a test holds them to it).
_URL_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_URL_FORBIDDEN = re.compile(r'["<>\\^`{|}]')
_COMPACT_TIME = re.compile(r"[0-9]{14}")
_SPACED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def minor_units(currency: str) -> int:
    """How many decimal places amounts in ``currency`` have (ISO 4217): 2 unless listed otherwise."""
    return _MINOR_UNITS.get(currency, 2)


def is_http_url(value: str, *, allow_query: bool = True) -> str | None:
    """Why ``value`` is not a usable absolute http(s) URL, or None when it is.

    Refused: another scheme, no host, credentials (``user:password@``), a port
    outside 1-65535, whitespace or control characters (header injection), text
    that is not valid Unicode, and, unless ``allow_query``, a query or fragment.

    Remembered for the last 1,024 URLs asked about: a shop's notify and return URLs
    come with every order, and each is checked where it enters (an `paycore.Order`, a
    `paycore.Payment`), on the hot path of every payment.
    """
    if type(value) is not str:  # a str subclass could answer differently the next time
        return _url_problem(str(value), allow_query)
    return _url_problem(value, allow_query)


@functools.lru_cache(maxsize=1024)
def _url_problem(value: str, allow_query: bool) -> str | None:
    if _URL_SPACE_OR_CONTROL.search(value):
        return "must not contain whitespace or control characters"
    if _URL_FORBIDDEN.search(value):
        # Never valid unencoded (RFC 3986), and the stuff of attribute injection in a template.
        return "must not contain quotes, angle brackets, backslashes, ^ ` { | } unencoded"
    if utf8(value) is None:
        return "must be valid Unicode text"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "must be an absolute http:// or https:// URL with a port from 1 to 65535"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not carry credentials (user:password@): they would be logged and shown"
    if port is not None and not 1 <= port <= 65535:
        return "must have a port from 1 to 65535"
    if not allow_query and (parts.query or parts.fragment or "?" in value or "#" in value):
        return "must have no query or fragment"
    if not parts.hostname.isascii() or "xn--" in parts.hostname:
        try:
            # What will send it: a host IDNA refuses ("xn--a.example") is refused now, not at the first call.
            # Only such hosts need it: httpx reads a plain ASCII host as it is.
            httpx.URL(value).host  # noqa: B018  # reading .host decodes it
        except (httpx.InvalidURL, ValueError):  # idna's errors are UnicodeError, a ValueError
            return "must have a host name that can be looked up (IDNA)"
    return None


def base_url(value: str) -> str:
    """A gateway's base URL setting: see `is_http_url` (no query or fragment); trailing ``/`` dropped."""
    problem = is_http_url(value, allow_query=False)
    if problem is not None:
        raise ValueError(problem)
    return value.rstrip("/")


def utf8(text: str) -> bytes | None:
    """``text`` encoded as UTF-8, or None when it cannot be (a lone surrogate).

    None rather than the exception: a UnicodeEncodeError carries the whole text,
    and a text being signed may have the key appended to it.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def plain_amount(raw: str, *, places: int = 8) -> Decimal | None:
    """``raw`` as a Decimal if it is written as gateways write amounts (``300.0000``), else None.

    Digits with an optional point and at most ``places`` decimals. Signs, exponents,
    spaces, NaN, thousands separators, other digit scripts and absurd sizes are
    refused: no gateway writes them, and each is a way to smuggle in another number.
    Zero is read (``0.00``): whether it is acceptable is the caller's decision.
    """
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        return None
    decimals = match.group(1)
    if decimals is not None and len(decimals) > places:
        return None
    return Decimal(raw)


def plain_amount_in(raw: str, currency: str) -> Decimal | None:
    """`plain_amount` with the currency's decimal places when only the spelling changes, in one pass.

    The same as ``in_currency_places(plain_amount(raw), currency)`` (a test holds it
    to that), read off the text: ``"9.9000"`` → ``Decimal("9.90")``, ``"9.9050"`` as
    it is. For the hot path of notifications, whose gateways store four decimals.
    """
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        return None
    decimals = match.group(1) or ""
    places = minor_units(currency)
    extra = len(decimals) - places
    if extra > 0 and decimals.endswith("0" * extra):
        raw = raw[: -extra - 1] if extra == len(decimals) else raw[:-extra]
    elif extra < 0:
        raw += ("" if decimals else ".") + "0" * -extra
    return Decimal(raw)


def format_amount(amount: Decimal, places: int = 2) -> str:
    """``amount`` written with exactly ``places`` decimals (``Decimal("9.9")`` → ``"9.90"``).

    ValueError when that would round (``9.999`` with 2 places) or when the amount is
    negative, not finite or not a Decimal: a payment is never sent for another sum.
    """
    if type(amount) is not Decimal or not amount.is_finite() or amount < 0:
        raise ValueError("an amount to format must be a finite, non-negative Decimal")
    quantized = amount.quantize(Decimal(1).scaleb(-places))
    if quantized != amount:
        raise ValueError(f"the amount has more than {places} decimal places")
    return f"{quantized:f}"


def in_currency_places(amount: Decimal, currency: str) -> Decimal:
    """``amount`` with the currency's decimal places when only its spelling changes (``9.9000``, ``9.9`` → ``9.90``).

    A gateway that stores four decimals sends ``9.9000`` for ``9.90`` yuan, one that
    prints floats ``9.9``; the same value spelt as the order's amount prints and
    stores as the merchant expects. An amount with more places than the currency has
    (``9.9050``) is returned as it is: it is what was signed, and never rounded.
    """
    quantum = _QUANTA.get(minor_units(currency)) or Decimal(1).scaleb(-minor_units(currency))
    try:
        # A context of our own: the caller's may trap Rounded or Inexact, which quantize signals here.
        exact = amount.quantize(quantum, context=_EXACT)
    except InvalidOperation:  # more digits than the context holds: leave it alone
        return amount
    return exact if exact == amount else amount


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` as a whole number of the currency's minor units (``Decimal("9.90")`` CNY → ``990`` fen).

    ValueError when the amount has more decimals than the currency (it would round).
    """
    places = minor_units(currency)
    return int(format_amount(amount, places).replace(".", ""))


def from_minor_units(units: int, currency: str) -> Decimal:
    """A whole number of minor units as an amount (``990`` fen → ``Decimal("9.90")``); ValueError if not an int ≥ 0."""
    if isinstance(units, bool) or not isinstance(units, int) or units < 0:
        raise ValueError("minor units must be a whole number, not negative")
    return Decimal(units).scaleb(-minor_units(currency))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON holds {name}, which is no number")


def load_json(data: bytes | str) -> Any:
    """Parse JSON exactly: every number with a point or exponent is a Decimal, never a float.

    ``100.10`` stays ``Decimal("100.10")`` (a float would be ``100.1`` and break a
    signature over the text, or lose a fen). A UTF-8 byte order mark is skipped.
    ValueError for anything that is not JSON: bad UTF-8, bad syntax, ``NaN`` or
    ``Infinity``, nesting too deep to read, and an object naming a key twice
    (``{"a": 1, "a": 2}``: one parser reads the first, another the last, and a
    signed answer must have one reading).
    """
    if isinstance(data, bytes | bytearray):
        try:
            # utf-8, less a byte order mark (plain "utf-8" decodes faster than "utf-8-sig")
            text = bytes(data[3:] if data[:3] == b"\xef\xbb\xbf" else data).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("JSON that is not UTF-8") from None
    else:
        text = data
        if utf8(text) is None:
            raise ValueError("JSON holding a lone surrogate (half a character)")
    too_deep = False
    try:
        parsed = _EXACT_JSON.decode(text)
        # An escape can still write half a character ("\\ud800"): such text cannot be printed or stored.
        if _SURROGATE_ESCAPE.search(text) and not _whole_characters(parsed):
            raise ValueError("JSON holding a lone surrogate (half a character)")
        return parsed
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    except RecursionError:
        too_deep = True  # raised below, outside the handler: no chain into the parser's stack
    if too_deep:
        raise ValueError("JSON nested too deeply to read")
    raise AssertionError("unreachable")  # pragma: no cover


def _object_of_unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    made = dict(pairs)
    if len(made) != len(pairs):
        raise ValueError("JSON naming a key twice in one object")
    return made


# Built once: json.loads with options builds a decoder (and its scanner) on every call.
_EXACT_JSON = json.JSONDecoder(
    parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_object_of_unique_keys
)


def _whole_characters(value: Any) -> bool:
    if isinstance(value, str):
        return utf8(value) is not None
    if isinstance(value, dict):
        return all(_whole_characters(key) and _whole_characters(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_whole_characters(item) for item in value)
    return True


def gateway_time(raw: str, zone: tzinfo) -> datetime:
    """A time a gateway wrote, as an aware datetime; ValueError when it is in no known form.

    Read: ``20261128231027`` and ``2026-11-28 23:10:27`` (in ``zone``, the gateway's
    local time), and ISO 8601 with an offset (``2026-11-28T23:10:27+08:00``; the
    offset wins over ``zone``). Anything else, or an impossible date, is refused:
    a payment time is never guessed.
    """
    # Told apart by length first: one regex per call on the hot path of notifications.
    if len(raw) == 19 and _SPACED_TIME.fullmatch(raw):
        # fromisoformat reads this form in C, several times faster than strptime.
        return datetime.fromisoformat(raw).replace(tzinfo=zone)
    if len(raw) == 14 and _COMPACT_TIME.fullmatch(raw):
        return datetime(
            int(raw[0:4]), int(raw[4:6]), int(raw[6:8]), int(raw[8:10]), int(raw[10:12]), int(raw[12:14]), tzinfo=zone
        )
    if _ISO_TIME.fullmatch(raw):
        return datetime.fromisoformat(raw)
    raise ValueError("not a gateway time (YYYYmmddHHMMSS, YYYY-mm-dd HH:MM:SS or ISO 8601 with an offset)")


def _as_bytes(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    # "replace": a received signature that is not ASCII matches nothing, but must not raise.
    return value.encode("utf-8", "replace")


def signature_matches(received: str | bytes, expected: str | bytes) -> bool:
    """Whether ``received`` equals ``expected``, compared in constant time (`hmac.compare_digest`)."""
    return hmac.compare_digest(_as_bytes(received), _as_bytes(expected))


def unambiguous_pairs(fields: Mapping[str, str], separators: str = "&=") -> None:
    """Refuse fields a ``k=v&k=v`` signed string could cut another way: `MalformedNotification`.

    When the signed string joins raw names and values with ``&`` and ``=``,
    ``status=paid&trade_no=T1`` signs the same as one field ``status`` holding
    ``paid&trade_no=T1``: a forger can move a field into its neighbour without
    breaking the signature. A name or value holding a separator is refused, so
    the signed string has exactly one reading. Refuse the same characters in what
    you send (`paycore.InvalidRequest`), or the gateway's notifications about
    such an order can never be verified.
    """
    if not separators:
        raise ValueError("unambiguous_pairs needs the separators of the signed string")
    # One C-level search over everything first: this runs on every notification.
    try:
        joined = "\x00".join(itertools.chain.from_iterable(fields.items()))
    except TypeError:
        raise MalformedNotification("a field name or value is not text") from None
    if not any(separator in joined for separator in separators):
        return
    for name, value in fields.items():
        for text in (name, value):
            if any(separator in text for separator in separators):
                raise MalformedNotification(
                    f"field {clip(name)!r} holds one of {separators!r}: its signed string would have two readings"
                )


def form_pairs(text: str, *, encoding: str = "utf-8", strict: bool = False) -> list[tuple[str, str]]:
    """The ``name=value`` pairs of a URL-encoded form or query string, in order, repeats kept.

    Exactly what ``urllib.parse.parse_qsl(text, keep_blank_values=True,
    strict_parsing=strict, encoding=encoding, errors="strict")`` returns (a property
    test holds the two together), and ValueError (UnicodeDecodeError included) where
    it raises: a name without ``=`` has an empty value; ``+`` is a space. It costs
    about a third: a notification's fields are mostly plain ASCII, and a piece with
    neither ``%`` nor ``+`` is taken as it is instead of going through ``unquote``.
    """
    pairs: list[tuple[str, str]] = []
    if not text:
        return pairs
    append = pairs.append
    for piece in text.split("&"):
        if not piece:
            if strict:
                raise ValueError("an empty field in a form")
            continue
        name, equals, value = piece.partition("=")
        if strict and not equals:
            raise ValueError("a form field without '='")
        if "+" in piece:
            name = name.replace("+", " ")
            value = value.replace("+", " ")
        if "%" in name:
            name = unquote(name, encoding, "strict")
        if "%" in value:
            value = unquote(value, encoding, "strict")
        append((name, value))
    return pairs


def first_match(received: str | bytes, candidates: Iterable[str | bytes]) -> int | None:
    """The index of the first candidate signature ``received`` matches, else None.

    For protocols whose signed string varies between deployments: pass the
    expected signatures, most likely first (a generator computes each only when
    the previous one failed). Each comparison is constant-time; what the timing
    can tell is only which rule matched, never how much of a signature did.
    """
    received_bytes = _as_bytes(received)
    for index, candidate in enumerate(candidates):
        if hmac.compare_digest(received_bytes, _as_bytes(candidate)):
            return index
    return None


def gateway_refusal(
    what: str,
    message: object,
    *,
    code: object = None,
    hint: str = "",
    kind: type[GatewayError] = GatewayError,
) -> GatewayError:
    """A `paycore.GatewayError` for a gateway's "no", its own words kept and bounded.

    ``what`` says what was refused (``"create request"``); ``message`` and ``code`` are
    the gateway's reason and code as it sent them (any JSON value). The error's
    message is clipped for logs; ``gateway_message`` and ``gateway_code`` keep them.
    ``kind`` picks a subclass, e.g. `paycore.OrderNotFound` when the gateway says it
    has no such order.
    """
    text = _text_of(message) or "no reason given"
    code_text = _text_of(code)
    shown = f"gateway refused the {what}: {clip(text, 200)}"
    if code_text:
        shown += f" (code {clip(code_text, 64)})"
    return kind(shown + hint, gateway_message=text, gateway_code=code_text or None)


def _text_of(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
