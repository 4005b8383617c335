"""paycore-juhe: the aggregated-payment ("聚合支付") gateway protocol for paycore.

Installed, it registers the ``juhe`` provider; an account selects it::

    [accounts.main]
    provider = "juhe"
    base_url = "https://pay.example.com"
    merchant_id = "10001"
    secret_key = "..."
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paycore_juhe._signing import sign
from paycore_juhe.provider import JuheProvider
from paycore_juhe.settings import DEFAULT_CHANNEL_CODES, JuheSettings

if TYPE_CHECKING:
    from paycore_juhe.browser_return import BrowserReturn, parse_browser_return

__all__ = ["DEFAULT_CHANNEL_CODES", "BrowserReturn", "JuheProvider", "JuheSettings", "parse_browser_return", "sign"]


def __getattr__(name: str) -> Any:
    # The browser-return helper is for web apps only: loading a gateway need not import it.
    if name in ("BrowserReturn", "parse_browser_return"):
        from paycore_juhe import browser_return

        return getattr(browser_return, name)
    raise AttributeError(f"module 'paycore_juhe' has no attribute {name!r}")
