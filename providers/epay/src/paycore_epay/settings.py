"""The settings of an epay account: validated when a gateway is built; errors never show a secret's value."""

from __future__ import annotations

from typing import Annotated

import pydantic

import paycore
from paycore import toolkit

__all__ = ["EpaySettings"]


class EpaySettings(paycore.ProviderSettings):
    """One epay (易支付) merchant account on one platform."""

    #: the platform's base URL (https), e.g. ``https://pay.example.com``; ``submit.php``, ``mapi.php``
    #: and ``api.php`` are under it
    base_url: Annotated[str, pydantic.AfterValidator(toolkit.base_url)]
    #: the merchant id the platform gave (``pid``)
    merchant_id: Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9A-Za-z_]{1,32}$")]
    #: the merchant key: signs every request and notification, and travels in query URLs
    secret_key: pydantic.SecretStr
