"""The settings of an epay account: validated when a gateway is built; errors never show a secret's value."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import pydantic

import paycore
from paycore import toolkit

__all__ = ["MIN_KEY_LENGTH", "EpaySettings"]

#: epay platforms issue 32-character keys; a short one can be guessed from one signed notification
MIN_KEY_LENGTH = 16
_THIS_MACHINE = ("127.0.0.1", "localhost", "::1")


def _https_or_this_machine(url: str) -> str:
    # api.php takes the merchant key in its query string: over plain http, anyone on the path reads it.
    if url.startswith("http://") and urlsplit(url).hostname not in _THIS_MACHINE:
        raise ValueError("must be https: epay sends the merchant key in api.php URLs (plain http only on 127.0.0.1)")
    return url


class EpaySettings(paycore.ProviderSettings):
    """One epay (易支付) merchant account on one platform."""

    #: the platform's base URL (https), e.g. ``https://pay.example.com``; ``submit.php``, ``mapi.php``
    #: and ``api.php`` are under it
    base_url: Annotated[str, pydantic.AfterValidator(toolkit.base_url), pydantic.AfterValidator(_https_or_this_machine)]
    #: the merchant id the platform gave (``pid``)
    merchant_id: Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9A-Za-z_]{1,32}$")]
    #: the merchant key: signs every request and notification, and travels in query URLs; 16 characters at least
    secret_key: Annotated[pydantic.SecretStr, pydantic.Field(min_length=MIN_KEY_LENGTH)]
