"""paycore provider for the wechatpay payment gateway."""

from paycore_wechatpay.provider import WechatpayProvider
from paycore_wechatpay.settings import WechatpaySettings

__all__ = ["WechatpayProvider", "WechatpaySettings"]
