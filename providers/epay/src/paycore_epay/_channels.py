"""Which epay ``type`` and ``device`` sell each paycore channel."""

from __future__ import annotations

from paycore import Channel

__all__ = ["CHANNELS", "DEVICES"]

#: channel → (``type``, ``device``): the wallet, and where the buyer is
CHANNELS: dict[Channel, tuple[str, str]] = {
    Channel.ALIPAY_QR: ("alipay", "pc"),
    Channel.ALIPAY_PAGE: ("alipay", "jump"),
    Channel.ALIPAY_WAP: ("alipay", "mobile"),
    Channel.WECHAT_QR: ("wxpay", "pc"),
    Channel.WECHAT_H5: ("wxpay", "mobile"),
    Channel.WECHAT_JSAPI: ("wxpay", "wechat"),
    Channel.QQ_QR: ("qqpay", "pc"),
    Channel.QQ_WAP: ("qqpay", "mobile"),
}

DEVICES = frozenset(device for _, device in CHANNELS.values())
