"""paycore provider for the "易支付" (epay v1) merchant protocol."""

from paycore_epay.provider import EpayProvider
from paycore_epay.settings import EpaySettings

__all__ = ["EpayProvider", "EpaySettings"]
