"""The fields of the models and their base: money (never a float), text, URLs, currencies, times.

Every paycore model derives from `_Model`: frozen, extra fields refused, and
`paycore.InvalidRequest` (never a pydantic error) for invalid input.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Self

import pydantic
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from paycore._validation import describe_validation_error
from paycore.errors import InvalidRequest
from paycore.toolkit import is_http_url, minor_units

__all__ = [
    "MAX_ORDER_AMOUNT",
    "MAX_QUANTITY",
    "Amount",
    "AppUri",
    "AwareDatetime",
    "Currency",
    "HttpUrl",
    "Text",
    "_Model",
    "checked_ip_address",
    "checked_quantity",
    "order_amount",
]


def _refuse_float(value: object) -> object:
    if type(value) is Decimal:  # the common case, first: providers hand over Decimals
        if not value.is_finite():
            raise ValueError("must be a finite number")
        return value
    # bool is an int subclass; True is not an amount.
    if isinstance(value, float | bool):
        raise ValueError(
            f"amounts must be Decimal, str or int, not {type(value).__name__} "
            "(a float cannot hold money exactly): write Decimal('12.50')"
        )
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("not a decimal number") from None
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("must be a finite number")
    return value


#: The most items one Order may count.
MAX_QUANTITY = 1_000_000
#: The largest amount an Order may carry: ten billion less a fen. A provider may
#: declare a lower one (`paycore.Provider.max_order_amount`).
MAX_ORDER_AMOUNT = Decimal("9999999999.99")
# Digits only; sign, size and decimals are judged on the Decimal, with clearer messages.
_PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,8})?")


def order_amount(value: object, currency: str) -> Decimal:
    """An Order's amount: Decimal, int, or a plainly written str; positive, bounded, the currency's decimals.

    A str must be ASCII digits with an optional ``.`` and decimals: no spaces,
    signs, exponents, separators or other digit scripts.
    """
    if isinstance(value, float | bool):  # bool is an int subclass; True is not an amount
        raise ValueError(
            f"amounts must be Decimal, str or int, not {type(value).__name__} "
            "(a float cannot hold money exactly): write Decimal('12.50')"
        )
    if isinstance(value, str):
        if not _PLAIN_AMOUNT.fullmatch(value):
            raise ValueError("must be written as ASCII digits with an optional '.', e.g. '12.50'")
        value = Decimal(value)
    elif isinstance(value, int):
        value = Decimal(value)
    elif not isinstance(value, Decimal):
        raise ValueError(f"amounts must be Decimal, str or int, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value <= 0:
        raise ValueError("must be greater than zero")
    if value > MAX_ORDER_AMOUNT:
        raise ValueError(f"must be at most {MAX_ORDER_AMOUNT}")
    places = minor_units(currency)
    if value.as_tuple().exponent < -places:  # type: ignore[operator]  # finite: an int
        raise ValueError(f"must have at most {places} decimal places for {currency}")
    return value


#: An amount received from a gateway: exact, finite, never a float. One validator
#: does both checks: models are built on every notification, a hot path.
Amount = Annotated[Decimal, BeforeValidator(_refuse_float)]


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Not chained: the UnicodeEncodeError would carry the whole value.
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _http_url(value: str) -> str:
    problem = is_http_url(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def checked_quantity(value: object) -> int:
    # Never int() of a Decimal or a long digit string: Decimal('1E+999999999') would
    # build a billion-digit integer first.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 7:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    if not 1 <= value <= MAX_QUANTITY:
        raise ValueError(f"must be from 1 to {MAX_QUANTITY}")
    return value


def checked_ip_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address") from None
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
#: Text a merchant sends: signed or sent as is, so it must encode.
Text = Annotated[str, AfterValidator(_text)]

#: An ISO 4217 currency code, e.g. ``"CNY"``.
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
#: A time with its zone (a naive time is ambiguous); checked by pydantic's core.
AwareDatetime = pydantic.AwareDatetime


class _Model(pydantic.BaseModel):
    # defer_build: a model's validator is compiled on first use, not at import, so a
    # process that never builds an Order (a CLI query, a worker) never pays for it.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, defer_build=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            # What BaseModel.__init__ does, without a second frame and a second packing of the keywords:
            # models are built on every notification and every answer, a hot path.
            self.__pydantic_validator__.validate_python(data, self_instance=self)
        except pydantic.ValidationError as exc:
            # A caller gets a paycore error naming the fields, never pydantic's.
            raise InvalidRequest(f"invalid {type(self).__name__}: {describe_validation_error(exc)}") from None

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """As pydantic's, with `paycore.InvalidRequest` for invalid data."""
        try:
            return super().model_validate(obj, **options)
        except pydantic.ValidationError as exc:
            raise InvalidRequest(f"invalid {cls.__name__}: {describe_validation_error(exc)}") from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """As pydantic's, with `paycore.InvalidRequest` for invalid data (or JSON)."""
        try:
            return super().model_validate_json(json_data, **options)
        except pydantic.ValidationError as exc:
            raise InvalidRequest(f"invalid {cls.__name__}: {describe_validation_error(exc)}") from None


_UNSAFE_SCHEMES = frozenset({"javascript", "vbscript", "data", "file", "blob", "about", "filesystem"})
_URI_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31}):")


def _app_uri(value: str) -> str:
    """A link for a wallet app or a QR code: ``weixin://...``, ``alipays://...``, ``https://...``."""
    if not 1 <= len(value) <= 4096:
        raise ValueError("must be 1 to 4096 characters")
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must not contain whitespace or control characters")
    _text(value)
    scheme = _URI_SCHEME.match(value)
    if scheme is None:
        raise ValueError("must be a URI with a scheme, such as weixin:// or https://")
    if scheme.group(1).lower() in _UNSAFE_SCHEMES:
        raise ValueError(f"must not use the {scheme.group(1).lower()}: scheme")
    if scheme.group(1).lower() in ("http", "https"):
        _http_url(value)
    return value


AppUri = Annotated[str, AfterValidator(_app_uri)]
