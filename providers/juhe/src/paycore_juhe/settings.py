"""The settings of one juhe account, validated when the account is loaded."""

from __future__ import annotations

import functools
import ipaddress
import zoneinfo
from typing import Annotated, Literal
from urllib.parse import urlsplit

import pydantic
from pydantic import AfterValidator, Field

from paycore import Channel, ProviderSettings, toolkit
from paycore_juhe._signing import HTML_UNSAFE

__all__ = ["DEFAULT_CHANNEL_CODES", "SETTLEMENT_CURRENCY", "STORED_ORDER_ID_LENGTH", "JuheSettings"]

#: The protocol's amounts are yuan: it has no currency field, so every order is in CNY.
SETTLEMENT_CURRENCY = "CNY"

#: The reference software stores ``pay_orderid`` as ``varchar(50)``: no existing
#: order id is longer, whatever limit a platform puts on new ones.
STORED_ORDER_ID_LENGTH = 50

#: The protocol document's channel codes. Each platform's back office is the truth:
#: an account overrides or extends these with its own ``channels`` table.
DEFAULT_CHANNEL_CODES: dict[str, str] = {
    Channel.WECHAT_JSAPI.value: "901",
    Channel.WECHAT_QR.value: "902",
    Channel.ALIPAY_QR.value: "903",
    Channel.ALIPAY_WAP.value: "904",
    Channel.QQ_WAP.value: "905",
    Channel.BANK.value: "907",
    Channel.QQ_QR.value: "908",
    Channel.BAIDU.value: "909",
    Channel.JD.value: "910",
}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _path(value: str) -> str:
    if not value.startswith("/") or any(char in value for char in "?# "):
        raise ValueError("must be a path starting with '/'")
    return value


def _signable(value: str) -> str:
    if HTML_UNSAFE.intersection(value):
        raise ValueError("must not contain & < > \" or ' (the gateway escapes them before checking signatures)")
    return value


def _host(value: str) -> str:
    if not value or value != value.strip().lower() or any(char in value for char in "/:@?#[] "):
        raise ValueError("must be a lower-case host name such as cashier.example.com")
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Asia/Shanghai") from None
    return value


def _channels(value: dict[str, str]) -> dict[str, str]:
    merged = {**DEFAULT_CHANNEL_CODES, **value}
    for name, code in merged.items():
        if code and (code == "0" or HTML_UNSAFE.intersection(code) or code.strip() != code):
            raise ValueError(f"channel {name!r} has an unusable code")
    # An empty code switches a default channel off for this account.
    return {name: code for name, code in merged.items() if code}


class JuheSettings(ProviderSettings):
    """One account on one juhe platform.

    ``channels`` overrides or extends `DEFAULT_CHANNEL_CODES`: map a
    `paycore.Channel` value or a name of your own to the platform's code
    (``""`` switches a default channel off).
    """

    base_url: Annotated[str, AfterValidator(toolkit.base_url)]
    merchant_id: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_signable)]
    secret_key: pydantic.SecretStr = Field(min_length=1)
    create_path: Annotated[str, AfterValidator(_path)] = "/Pay_Index.html"
    query_path: Annotated[str, AfterValidator(_path)] = "/Pay_Trade_query.html"
    channels: Annotated[dict[str, str], AfterValidator(_channels)] = Field(
        default_factory=lambda: dict(DEFAULT_CHANNEL_CODES), validate_default=True
    )
    timezone: Annotated[str, AfterValidator(_timezone)] = "Asia/Shanghai"
    ack: Annotated[str, Field(min_length=1)] = "OK"
    #: The document's limit on new order ids; some platforms take up to 50.
    max_order_id_length: Annotated[int, Field(ge=1, le=STORED_ORDER_ID_LENGTH)] = 20
    #: What an unsigned query answer may say: ``trust-https`` reads it when it came
    #: over https (or loopback) and reports ``unknown`` otherwise; ``unknown``
    #: always reports ``unknown``; ``refuse`` raises SignatureError.
    unsigned_query_answers: Literal["trust-https", "unknown", "refuse"] = "trust-https"
    #: The most bytes of one answer read, when lower than the gateway's limit
    #: (`paycore.DEFAULT_MAX_ANSWER_BYTES`); a larger answer is a ProtocolError.
    max_answer_bytes: Annotated[int, Field(ge=1024)] | None = None
    #: Hosts besides ``base_url``'s whose pages an HTML create answer may redirect to.
    cashier_hosts: tuple[Annotated[str, AfterValidator(_host)], ...] = ()

    @property
    def create_url(self) -> str:
        return self.base_url + self.create_path

    @property
    def query_url(self) -> str:
        return self.base_url + self.query_path

    @property
    def transport_is_private(self) -> bool:
        """Whether answers from ``base_url`` are safe from others: https, or a loopback host."""
        parts = urlsplit(self.base_url)
        return parts.scheme == "https" or _is_loopback(parts.hostname or "")

    @functools.cached_property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)
