"""paycore provider for Alipay's open platform (RSA2)."""

from paycore_alipay.provider import AlipayProvider
from paycore_alipay.settings import GATEWAYS, AlipaySettings

__all__ = ["GATEWAYS", "AlipayProvider", "AlipaySettings"]
