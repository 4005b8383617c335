"""The settings of a WeChat Pay (API v3) merchant: ids, the merchant's API key, the APIv3 key, the platform's key.

The platform's answers and notifications are verified in one of two modes:

- **public-key mode**: ``platform_public_key`` (WeChat Pay's public key, PEM or a
  file) and ``platform_public_key_id`` (``PUB_KEY_ID_...``, the serial every signed
  message names);
- **certificate mode** (no ``platform_public_key``): the platform certificates are
  fetched from ``GET /v3/certificates``, each decrypted with the APIv3 key; known
  ones may be given in ``platform_certificates`` so that a notification arriving
  before the first request can be verified.

Keys are checked when the account loads; an error names the setting, never its value.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import pydantic

import paycore
from paycore import crypto, toolkit
from paycore_wechatpay._certificates import load_certificates

__all__ = ["BASE_URLS", "WechatpaySettings"]

#: ``base_url`` presets: WeChat Pay's API domain and its backup
BASE_URLS = {
    "production": "https://api.mch.weixin.qq.com",
    "backup": "https://api2.mch.weixin.qq.com",
}
_THIS_MACHINE = ("127.0.0.1", "localhost", "::1")
#: what a WeChat Pay public key's id looks like
_PUBLIC_KEY_ID = r"^PUB_KEY_ID_[0-9A-Za-z]{1,64}$"
#: the length of an APIv3 key: it is the AES-256 key itself
APIV3_KEY_BYTES = 32


def _base_url(value: str) -> str:
    url = BASE_URLS.get(value, value).rstrip("/")
    problem = toolkit.is_http_url(url, allow_query=False)
    if problem is not None:
        raise ValueError(f"is 'production', 'backup' or a URL that {problem}")
    if url.startswith("http://") and urlsplit(url).hostname not in _THIS_MACHINE:
        raise ValueError("must be https (plain http only on this machine, for a local sandbox)")
    if urlsplit(url).path not in ("", "/"):
        raise ValueError("is the API's origin (scheme, host, port), with no path: the signed paths start at /v3/")
    return url


def _refund_notify_url(value: str) -> str:
    problem = toolkit.is_http_url(value, allow_query=False)
    if problem is not None:
        raise ValueError(f"must be a URL that {problem}")
    if urlsplit(value).scheme != "https" and urlsplit(value).hostname not in _THIS_MACHINE:
        raise ValueError("must be https (plain http only on this machine)")
    return value


def _private_key(value: pydantic.SecretStr) -> pydantic.SecretStr:
    crypto.load_private_key(value.get_secret_value(), "private_key")
    return value


def _apiv3_key(value: pydantic.SecretStr) -> pydantic.SecretStr:
    # The key is 32 printable ASCII characters (the merchant platform accepts letters and digits): its bytes
    # are the AES-256 key. Another length would fail every decryption, so it is refused here.
    text = value.get_secret_value()
    if not text.isascii() or len(text.encode()) != APIV3_KEY_BYTES or not text.isprintable():
        raise ValueError(f"apiv3_key must be {APIV3_KEY_BYTES} printable ASCII characters")
    return value


def _platform_public_key(value: str) -> str:
    crypto.load_public_key(value, "platform_public_key", owner="WeChat Pay")
    return value


def _platform_certificates(value: str) -> str:
    load_certificates(value, "platform_certificates")
    return value


class WechatpaySettings(paycore.ProviderSettings):
    """One WeChat Pay merchant (``mchid``) paying into one app (``appid``)."""

    #: the merchant id (商户号)
    mchid: Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9]{6,32}$")]
    #: the AppID the payments belong to (公众号, 小程序 or App)
    appid: Annotated[str, pydantic.StringConstraints(pattern=r"^[A-Za-z0-9_]{6,32}$")]
    #: the merchant's API private key (apiclient_key.pem): PEM or bare base64, or a file path
    private_key: Annotated[pydantic.SecretStr, pydantic.Field(min_length=1), pydantic.AfterValidator(_private_key)]
    #: the serial number of the merchant's API certificate (商户API证书序列号), hexadecimal
    merchant_serial_no: Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9A-Fa-f]{8,40}$")]
    #: the APIv3 key (32 characters): decrypts notifications and platform certificates
    apiv3_key: Annotated[pydantic.SecretStr, pydantic.AfterValidator(_apiv3_key)]
    #: public-key mode: WeChat Pay's public key (pub_key.pem), PEM or a file path
    platform_public_key: Annotated[str, pydantic.AfterValidator(_platform_public_key)] | None = None
    #: public-key mode: the id of that key, as the platform names it in ``Wechatpay-Serial``
    platform_public_key_id: Annotated[str, pydantic.StringConstraints(pattern=_PUBLIC_KEY_ID)] | None = None
    #: certificate mode: platform certificates already known (PEM, one or several, or a file path); more are fetched
    platform_certificates: Annotated[str, pydantic.AfterValidator(_platform_certificates)] | None = None
    #: where the platform notifies refunds (``REFUND.*``), sent with each refund; without it, the URL set
    #: on the merchant platform, if any
    refund_notify_url: Annotated[str, pydantic.AfterValidator(_refund_notify_url)] | None = None
    #: ``production``, ``backup`` or the API's origin
    base_url: Annotated[str, pydantic.AfterValidator(_base_url)] = BASE_URLS["production"]

    @pydantic.model_validator(mode="after")
    def _one_mode(self) -> WechatpaySettings:
        if (self.platform_public_key is None) != (self.platform_public_key_id is None):
            raise ValueError("public-key mode needs both platform_public_key and platform_public_key_id")
        if self.platform_public_key is not None and self.platform_certificates is not None:
            raise ValueError("give platform_public_key (public-key mode) or platform_certificates, not both")
        return self

    @property
    def certificate_mode(self) -> bool:
        """Whether answers are verified with platform certificates (fetched) rather than a public key."""
        return self.platform_public_key is None
