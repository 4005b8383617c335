"""The kinds the models speak of: channels (a wallet on a surface), payment and refund statuses, create flows."""

from __future__ import annotations

import enum

from paycore._text import clip
from paycore.errors import InvalidRequest

__all__ = ["REFUND_ID_PATTERN", "Channel", "CreateFlow", "PaymentStatus", "RefundStatus", "Surface", "Wallet"]


class Wallet(enum.StrEnum):
    """Who moves the money: the buyer's wallet or bank."""

    ALIPAY = "alipay"
    WECHAT = "wechat"
    QQ = "qq"
    UNIONPAY = "unionpay"
    BANK = "bank"
    BAIDU = "baidu"
    JD = "jd"


class Surface(enum.StrEnum):
    """Where the buyer pays: what the merchant's page or app does with the result."""

    QR = "qr"  # the merchant shows a QR code; the buyer scans it with the wallet
    PAGE = "page"  # a desktop browser goes to the gateway's cashier
    WAP = "wap"  # a mobile browser goes to the gateway's cashier (H5)
    APP = "app"  # the merchant's native app calls the wallet's SDK
    JSAPI = "jsapi"  # a page opened inside the wallet's own browser (official account)
    MINI_PROGRAM = "mini_program"  # a mini program inside the wallet


class Channel(enum.StrEnum):
    """A normalized payment method: one wallet on one surface (`wallet`, `surface`).

    One value, not two fields, because that pair is what a gateway sells as one
    product with one code (juhe's ``pay_bankcode``, Alipay's API method, WeChat
    Pay's endpoint, epay's ``type`` and ``device``): a provider maps channels to
    its codes with a table, and declares the channels it serves. `Channel.of`
    finds the channel of a pair.
    """

    WECHAT_JSAPI = "wechat_jsapi"
    WECHAT_QR = "wechat_qr"
    WECHAT_H5 = "wechat_h5"
    WECHAT_APP = "wechat_app"
    WECHAT_MINI_PROGRAM = "wechat_mini_program"
    ALIPAY_QR = "alipay_qr"
    ALIPAY_WAP = "alipay_wap"
    ALIPAY_PAGE = "alipay_page"
    ALIPAY_APP = "alipay_app"
    QQ_WAP = "qq_wap"
    QQ_QR = "qq_qr"
    UNIONPAY_QR = "unionpay_qr"
    BANK = "bank"
    BAIDU = "baidu"
    JD = "jd"

    @property
    def wallet(self) -> Wallet:
        """The wallet (or bank) that pays."""
        return _CHANNEL_PARTS[self][0]

    @property
    def surface(self) -> Surface:
        """Where the buyer pays."""
        return _CHANNEL_PARTS[self][1]

    @classmethod
    def of(cls, wallet: Wallet | str, surface: Surface | str) -> Channel:
        """The channel of ``wallet`` on ``surface``; InvalidRequest when paycore names none."""
        for channel, parts in _CHANNEL_PARTS.items():
            if parts == (wallet, surface):
                return channel
        raise InvalidRequest(f"no channel is {clip(str(wallet))} on {clip(str(surface))}")


_CHANNEL_PARTS: dict[Channel, tuple[Wallet, Surface]] = {
    Channel.WECHAT_JSAPI: (Wallet.WECHAT, Surface.JSAPI),
    Channel.WECHAT_QR: (Wallet.WECHAT, Surface.QR),
    Channel.WECHAT_H5: (Wallet.WECHAT, Surface.WAP),
    Channel.WECHAT_APP: (Wallet.WECHAT, Surface.APP),
    Channel.WECHAT_MINI_PROGRAM: (Wallet.WECHAT, Surface.MINI_PROGRAM),
    Channel.ALIPAY_QR: (Wallet.ALIPAY, Surface.QR),
    Channel.ALIPAY_WAP: (Wallet.ALIPAY, Surface.WAP),
    Channel.ALIPAY_PAGE: (Wallet.ALIPAY, Surface.PAGE),
    Channel.ALIPAY_APP: (Wallet.ALIPAY, Surface.APP),
    Channel.QQ_WAP: (Wallet.QQ, Surface.WAP),
    Channel.QQ_QR: (Wallet.QQ, Surface.QR),
    Channel.UNIONPAY_QR: (Wallet.UNIONPAY, Surface.QR),
    # Online banking, Baidu's and JD's wallets: each bank's or wallet's cashier page.
    Channel.BANK: (Wallet.BANK, Surface.PAGE),
    Channel.BAIDU: (Wallet.BAIDU, Surface.PAGE),
    Channel.JD: (Wallet.JD, Surface.PAGE),
}


class PaymentStatus(enum.StrEnum):
    """Where a payment stands, in the same words for every provider."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    CLOSED = "closed"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"


class CreateFlow(enum.StrEnum):
    """How a payment is created.

    ``server``: paycore calls the gateway; the answer says what the buyer does next
    (a redirect, a QR code, an app link, SDK parameters).
    ``form``: paycore signs a form (or link) that the buyer's browser submits to the
    gateway, with no request of its own.
    """

    SERVER = "server"
    FORM = "form"


class RefundStatus(enum.StrEnum):
    """Where a refund stands."""

    PENDING = "pending"  # accepted, the money not yet back: query it later
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: A merchant's own id for one refund: asking again with the same id never refunds twice.
REFUND_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
