"""paycore provider for WeChat Pay API v3 (微信支付): header signatures, encrypted notifications, JSON replies."""

from paycore_wechatpay.provider import WechatpayProvider
from paycore_wechatpay.settings import BASE_URLS, WechatpaySettings

__all__ = ["BASE_URLS", "WechatpayProvider", "WechatpaySettings"]
