"""paycore-juhe: the aggregated-payment ("聚合支付") gateway protocol for paycore.

Installed, it registers the ``juhe`` provider; an account selects it::

    [accounts.main]
    provider = "juhe"
    base_url = "https://pay.example.com"
    merchant_id = "10001"
    secret_key = "..."
"""

from paycore_juhe._signing import sign
from paycore_juhe.browser_return import BrowserReturn, parse_browser_return
from paycore_juhe.provider import JuheProvider
from paycore_juhe.settings import DEFAULT_CHANNEL_CODES, JuheSettings

__all__ = ["DEFAULT_CHANNEL_CODES", "BrowserReturn", "JuheProvider", "JuheSettings", "parse_browser_return", "sign"]
