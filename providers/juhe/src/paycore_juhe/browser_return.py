"""The buyer's browser return to ``pay_callbackurl``: for display, never proof of payment.

Superseded by the gateway's own `paycore.Gateway.parse_return`, which every
provider offers under one name; this module stays so that code written against
``paycore_juhe.parse_browser_return`` keeps working::

    shown = gateway.parse_return(await request.body())
    return render("thanks.html", order_id=shown.order_id)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paycore import AsyncGateway, BrowserReturn, Gateway, InvalidRequest, NotificationRequest
from paycore_juhe.provider import JuheProvider

__all__ = ["BrowserReturn", "parse_browser_return"]


def parse_browser_return(
    body: NotificationRequest | bytes | str | Mapping[str, str], *, gateway: Gateway | AsyncGateway
) -> BrowserReturn:
    """``gateway.parse_return(body)`` for a juhe account's gateway; a present but wrong sign is SignatureError."""
    provider: Any = gateway.provider
    if not isinstance(provider, JuheProvider):
        raise InvalidRequest("parse_browser_return needs the gateway of a juhe account")
    return gateway.parse_return(body)
