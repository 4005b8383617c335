"""The settings of an Alipay open-platform app: its id, the merchant's private key, Alipay's public key, the gateway.

Keys are given as Alipay's console shows them (the bare base64 body) or as PEM, either
as the value itself or as the path of a file holding it. They are loaded (and
checked: RSA, 2048 bits at least) when the account loads; an error names the
setting, never its value.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import pydantic

import paycore
from paycore import toolkit
from paycore_alipay._keys import load_private_key, load_public_key

__all__ = ["GATEWAYS", "AlipaySettings"]

#: ``gateway`` presets: Alipay's production gateway and its sandbox environment
GATEWAYS = {
    "production": "https://openapi.alipay.com/gateway.do",
    "sandbox": "https://openapi-sandbox.dl.alipaydev.com/gateway.do",
}
_THIS_MACHINE = ("127.0.0.1", "localhost", "::1")


def _gateway_url(value: str) -> str:
    url = GATEWAYS.get(value, value)
    problem = toolkit.is_http_url(url, allow_query=False)
    if problem is not None:
        raise ValueError(f"is 'production', 'sandbox' or a URL that {problem}")
    if url.startswith("http://") and urlsplit(url).hostname not in _THIS_MACHINE:
        raise ValueError("must be https (plain http only on this machine, for a local sandbox)")
    return url


def _private_key(value: pydantic.SecretStr) -> pydantic.SecretStr:
    load_private_key(value.get_secret_value())
    return value


def _public_key(value: str) -> str:
    load_public_key(value)
    return value


class AlipaySettings(paycore.ProviderSettings):
    """One Alipay app (``app_id``) and its keys."""

    app_id: Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9]{6,32}$")]
    #: the merchant's RSA private key (application private key): PEM or bare base64, or a file path
    private_key: Annotated[pydantic.SecretStr, pydantic.Field(min_length=1), pydantic.AfterValidator(_private_key)]
    #: Alipay's RSA public key (not the application's): PEM or bare base64, or a file path
    alipay_public_key: Annotated[str, pydantic.AfterValidator(_public_key)]
    #: ``production``, ``sandbox`` or a gateway URL
    gateway: Annotated[str, pydantic.AfterValidator(_gateway_url)] = GATEWAYS["production"]
    #: the seller's id (``2088...``): when set, a notification for another seller is refused
    seller_id: Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9]{6,32}$")] | None = None
