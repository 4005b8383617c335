"""The provider-neutral models: what a merchant sends and what it gets back.

An application builds an `Order`, gets a `Payment` from create and
query, and a `Notification` from a verified gateway notification::

    order = Order(
        amount=Decimal("12.50"),
        channel=Channel.ALIPAY_QR,
        subject="Coffee",
        notify_url="https://shop.example/pay/notify",
        return_url="https://shop.example/pay/done",
    )

Every model is frozen. Money is `decimal.Decimal`: a float amount is
refused, because a float cannot hold 0.10 exactly. Invalid input raises
`paycore.InvalidRequest`, never a pydantic error.
"""

from __future__ import annotations

import enum
import html
import ipaddress
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Self

import pydantic
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, InstanceOf

from paycore._ids import new_order_id
from paycore._text import clip
from paycore._validation import describe_validation_error
from paycore.errors import AmountMismatch, InvalidRequest, MerchantMismatch, VerificationError
from paycore.http import Reply
from paycore.toolkit import is_http_url, minor_units

__all__ = [
    "MAX_ORDER_AMOUNT",
    "AppLink",
    "BrowserReturn",
    "Channel",
    "CreateFlow",
    "NextAction",
    "Notification",
    "Order",
    "Payment",
    "PaymentForm",
    "PaymentStatus",
    "QrCode",
    "Redirect",
    "Refund",
    "RefundStatus",
    "SdkParameters",
    "Surface",
    "Wallet",
]


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


def _refuse_float(value: object) -> object:
    if type(value) is Decimal:  # the common case, first: providers hand over Decimals
        if not value.is_finite():
            raise ValueError("must be a finite number")
        return value
    # bool is an int subclass; True is not an amount.
    if isinstance(value, float | bool):
        raise ValueError(
            f"amounts must be Decimal, str or int, not {type(value).__name__} "
            "(a float cannot hold money exactly): write Decimal('12.50')"
        )
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("not a decimal number") from None
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("must be a finite number")
    return value


#: The most items one Order may count.
MAX_QUANTITY = 1_000_000
#: The largest amount an Order may carry: ten billion less a fen. A provider may
#: declare a lower one (`paycore.Provider.max_order_amount`).
MAX_ORDER_AMOUNT = Decimal("9999999999.99")
# Digits only; sign, size and decimals are judged on the Decimal, with clearer messages.
_PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,8})?")


def _order_amount(value: object, currency: str) -> Decimal:
    """An Order's amount: Decimal, int, or a plainly written str; positive, bounded, the currency's decimals.

    A str must be ASCII digits with an optional ``.`` and decimals: no spaces,
    signs, exponents, separators or other digit scripts.
    """
    if isinstance(value, float | bool):  # bool is an int subclass; True is not an amount
        raise ValueError(
            f"amounts must be Decimal, str or int, not {type(value).__name__} "
            "(a float cannot hold money exactly): write Decimal('12.50')"
        )
    if isinstance(value, str):
        if not _PLAIN_AMOUNT.fullmatch(value):
            raise ValueError("must be written as ASCII digits with an optional '.', e.g. '12.50'")
        value = Decimal(value)
    elif isinstance(value, int):
        value = Decimal(value)
    elif not isinstance(value, Decimal):
        raise ValueError(f"amounts must be Decimal, str or int, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value <= 0:
        raise ValueError("must be greater than zero")
    if value > MAX_ORDER_AMOUNT:
        raise ValueError(f"must be at most {MAX_ORDER_AMOUNT}")
    places = minor_units(currency)
    if value.as_tuple().exponent < -places:  # type: ignore[operator]  # finite: an int
        raise ValueError(f"must have at most {places} decimal places for {currency}")
    return value


#: An amount received from a gateway: exact, finite, never a float. One validator
#: does both checks: models are built on every notification, a hot path.
Amount = Annotated[Decimal, BeforeValidator(_refuse_float)]


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Not chained: the UnicodeEncodeError would carry the whole value.
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _http_url(value: str) -> str:
    problem = is_http_url(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _quantity(value: object) -> int:
    # Never int() of a Decimal or a long digit string: Decimal('1E+999999999') would
    # build a billion-digit integer first.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 7:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    if not 1 <= value <= MAX_QUANTITY:
        raise ValueError(f"must be from 1 to {MAX_QUANTITY}")
    return value


def _ip_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address") from None
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
#: Text a merchant sends: signed or sent as is, so it must encode.
Text = Annotated[str, AfterValidator(_text)]

#: An ISO 4217 currency code, e.g. ``"CNY"``.
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
#: A time with its zone (a naive time is ambiguous); checked by pydantic's core.
AwareDatetime = pydantic.AwareDatetime


class _Model(pydantic.BaseModel):
    # defer_build: a model's validator is compiled on first use, not at import, so a
    # process that never builds an Order (a CLI query, a worker) never pays for it.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, defer_build=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            # What BaseModel.__init__ does, without a second frame and a second packing of the keywords:
            # models are built on every notification and every answer, a hot path.
            self.__pydantic_validator__.validate_python(data, self_instance=self)
        except pydantic.ValidationError as exc:
            # A caller gets a paycore error naming the fields, never pydantic's.
            raise InvalidRequest(f"invalid {type(self).__name__}: {describe_validation_error(exc)}") from None

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """As pydantic's, with `paycore.InvalidRequest` for invalid data."""
        try:
            return super().model_validate(obj, **options)
        except pydantic.ValidationError as exc:
            raise InvalidRequest(f"invalid {cls.__name__}: {describe_validation_error(exc)}") from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """As pydantic's, with `paycore.InvalidRequest` for invalid data (or JSON)."""
        try:
            return super().model_validate_json(json_data, **options)
        except pydantic.ValidationError as exc:
            raise InvalidRequest(f"invalid {cls.__name__}: {describe_validation_error(exc)}") from None


class Order(_Model):
    """What the merchant asks to be paid.

    ``order_id`` defaults to `paycore.new_order_id`. ``channel`` is a
    `Channel` or a raw code of the account's provider (a custom product).
    """

    order_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = Field(default_factory=new_order_id)
    # Before amount: how many decimals an amount may have depends on it.
    currency: Currency = "CNY"
    amount: Decimal
    # left_to_right: "alipay_qr" must become Channel.ALIPAY_QR, not stay a raw code.
    channel: Channel | Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,32}$")] = Field(union_mode="left_to_right")
    subject: Annotated[Text, Field(min_length=1, max_length=256)]
    notify_url: HttpUrl
    return_url: HttpUrl
    attach: Text | None = None
    description: Text | None = None
    quantity: Annotated[int, BeforeValidator(_quantity)] | None = None
    product_url: HttpUrl | None = None
    client_ip: Annotated[str, AfterValidator(_ip_address)] | None = None
    #: the payer's id at the wallet (WeChat's openid for JSAPI and mini programs)
    payer_id: Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,128}$")] | None = None
    #: when the gateway should stop accepting payment for this order
    expires_at: AwareDatetime | None = None
    created_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))

    @pydantic.field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object, info: pydantic.ValidationInfo) -> Decimal:
        return _order_amount(value, info.data.get("currency", "CNY"))


# Schemes that run code or read local data where a page puts a link: never a payment.
_UNSAFE_SCHEMES = frozenset({"javascript", "vbscript", "data", "file", "blob", "about", "filesystem"})
_URI_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31}):")


def _app_uri(value: str) -> str:
    """A link for a wallet app or a QR code: ``weixin://...``, ``alipays://...``, ``https://...``."""
    if not 1 <= len(value) <= 4096:
        raise ValueError("must be 1 to 4096 characters")
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must not contain whitespace or control characters")
    _text(value)
    scheme = _URI_SCHEME.match(value)
    if scheme is None:
        raise ValueError("must be a URI with a scheme, such as weixin:// or https://")
    if scheme.group(1).lower() in _UNSAFE_SCHEMES:
        raise ValueError(f"must not use the {scheme.group(1).lower()}: scheme")
    if scheme.group(1).lower() in ("http", "https"):
        _http_url(value)
    return value


AppUri = Annotated[str, AfterValidator(_app_uri)]


class Redirect(_Model):
    """Send the buyer's browser to ``url`` (the gateway's cashier, or a signed link)."""

    kind: Literal["redirect"] = "redirect"
    url: HttpUrl

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"send the buyer's browser to {self.url}"


class PaymentForm(_Model):
    """A signed form that the buyer's browser must submit to the gateway."""

    kind: Literal["form"] = "form"
    action: HttpUrl
    method: Literal["POST", "GET"] = "POST"
    fields: dict[str, str]

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"the buyer's browser submits a {self.method} form of {len(self.fields)} fields to {self.action}"

    def to_html(self, *, auto_submit: bool = True) -> str:
        """Render the form as an HTML page, every value escaped.

        With ``auto_submit`` the page submits itself on load; the button stays
        for browsers without JavaScript.
        """
        inputs = "\n".join(
            f'    <input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in self.fields.items()
        )
        script = "<script>document.forms[0].submit();</script>\n" if auto_submit else ""
        return (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Redirecting to payment'
            "</title></head>\n<body>\n"
            f'  <form method="{self.method.lower()}" action="{html.escape(self.action)}" accept-charset="utf-8">\n'
            f"{inputs}\n"
            '    <button type="submit">Continue to payment</button>\n'
            "  </form>\n"
            f"{script}</body></html>\n"
        )


class QrCode(_Model):
    """Show the buyer a QR code holding ``content`` (``weixin://wxpay/...``, ``https://qr.alipay.com/...``).

    Render it with any QR library; the buyer scans it with the wallet.
    """

    kind: Literal["qr_code"] = "qr_code"
    content: AppUri

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"show the buyer a QR code of {self.content}"


class AppLink(_Model):
    """Open ``url`` on the buyer's device: a wallet app's URL scheme or universal link."""

    kind: Literal["app_link"] = "app_link"
    url: AppUri

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"open {self.url} on the buyer's device"


class SdkParameters(_Model):
    """Hand ``parameters`` to a wallet's SDK or in-app JS bridge named by ``sdk``.

    E.g. ``sdk="wechat_jsapi"`` with ``appId``, ``timeStamp``, ``nonceStr``,
    ``package``, ``signType``, ``paySign`` for ``WeixinJSBridge``; the provider's
    documentation names its SDKs.
    """

    kind: Literal["sdk"] = "sdk"
    sdk: Annotated[str, Field(pattern=r"^[a-z0-9_.-]{1,64}$")]
    parameters: dict[str, Text]

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"call the {self.sdk} SDK with {', '.join(sorted(self.parameters)) or 'no parameters'}"


#: What the buyer must do next to pay: one of a small closed set, told apart by ``kind``.
NextAction = Annotated[Redirect | PaymentForm | QrCode | AppLink | SdkParameters, Field(discriminator="kind")]


class RefundStatus(enum.StrEnum):
    """Where a refund stands."""

    PENDING = "pending"  # accepted, the money not yet back: query it later
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: A merchant's own id for one refund: asking again with the same id never refunds twice.
REFUND_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class Refund(_Model):
    """A refund as the gateway reports it (`paycore.Gateway.refund`, `paycore.Gateway.query_refund`).

    ``refund_id`` is the merchant's id for this refund (Alipay's ``out_request_no``,
    WeChat Pay's ``out_refund_no``): store it before asking, and ask again with the
    same id after a failure, so that a refund is made once however often it is asked.
    """

    order_id: str
    refund_id: Annotated[str, Field(pattern=REFUND_ID_PATTERN)]
    status: RefundStatus
    amount: Amount
    #: ISO 4217 code, when the gateway says
    currency: Currency | None = None
    #: the gateway's id of the refunded payment, when it says
    transaction_id: str | None = None
    refunded_at: AwareDatetime | None = None
    provider: str
    account: str
    raw: dict[str, Any] = Field(default_factory=dict)


class Payment(_Model):
    """A payment as the gateway reports it, from create or from query.

    ``next_action`` says what the buyer must do to pay (a `Redirect`, a
    `PaymentForm`, a `QrCode`, an `AppLink` or `SdkParameters`). ``pay_url``
    and ``form`` stay as conveniences: ``pay_url`` is the URL of a `Redirect`,
    ``form`` the `PaymentForm`; a provider may set either instead of
    ``next_action`` and the other is filled in.

    ``reason`` says why paycore reports less than the gateway claimed, e.g. an
    ``unknown`` status for an unsigned answer that came over plain http.
    """

    order_id: str
    status: PaymentStatus
    amount: Amount | None = None
    #: ISO 4217 code the gateway settles in: providers give it on every paid or failed payment, and a
    #: notification handler refuses to apply one without it
    currency: Currency | None = None
    paid_amount: Amount | None = None
    transaction_id: str | None = None
    paid_at: AwareDatetime | None = None
    pay_url: HttpUrl | None = None
    form: PaymentForm | None = None
    next_action: NextAction | None = None
    provider: str
    account: str
    reason: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    @pydantic.model_validator(mode="after")
    def _one_next_action(self) -> Payment:
        action = self.next_action
        if action is None:
            if self.pay_url is not None and self.form is not None:
                raise ValueError("give pay_url or form, not both (or a next_action)")
            if self.pay_url is not None:
                object.__setattr__(self, "next_action", Redirect(url=self.pay_url))
            elif self.form is not None:
                object.__setattr__(self, "next_action", self.form)
            return self
        # The conveniences must agree with the action they stand for.
        if isinstance(action, Redirect):
            if self.form is not None or self.pay_url not in (None, action.url):
                raise ValueError("pay_url and form must agree with next_action")
            object.__setattr__(self, "pay_url", action.url)
        elif isinstance(action, PaymentForm):
            if self.pay_url is not None or self.form not in (None, action):
                raise ValueError("pay_url and form must agree with next_action")
            object.__setattr__(self, "form", action)
        elif self.pay_url is not None or self.form is not None:
            raise ValueError(f"a {action.kind} next_action has no pay_url or form")
        return self


class BrowserReturn(_Model):
    """What the buyer's browser return (to ``return_url``) claims: for display only.

    ``claimed_status`` is a claim, not a fact, even when ``signature_checked``:
    a signed return can be replayed, and many protocols sign none. An order is
    paid when a verified notification or a query says so.
    """

    order_id: str
    claimed_status: PaymentStatus
    amount: Amount | None = None
    attach: str | None = None
    #: True when the return carried a signature and it matched
    signature_checked: bool
    provider: str
    account: str
    raw: dict[str, Any] = Field(default_factory=dict)


class Notification(_Model):
    """A verified notification from the gateway.

    Answer the gateway with ``ack`` (a `paycore.Reply`: status, content type and
    body, as the provider's protocol wants them), or it sends the notification
    again. Duplicates are normal: recognise them by ``order_id`` and
    ``transaction_id``. A provider may give ``ack`` as text: it becomes a 200
    ``text/plain`` reply.
    """

    order_id: str
    status: PaymentStatus
    amount: Amount
    #: ISO 4217 code of ``amount``: the currency the gateway settles in (always compared with the order's)
    currency: Currency
    paid_amount: Amount | None = None
    transaction_id: str | None = None
    paid_at: AwareDatetime | None = None
    attach: str | None = None
    """The merchant data of the order, echoed by the gateway. **Unsigned** on many
    protocols (juhe's reference software signs every field but this one): anyone
    can change it in transit, so use it to find your own records, never as proof."""
    provider: str
    account: str
    raw: dict[str, Any] = Field(default_factory=dict)
    ack: Annotated[InstanceOf[Reply], BeforeValidator(Reply.coerce)]

    def check_against(self, order: Order, *, account: str | None = None) -> None:
        """Refuse a notification that is not about ``order``, for its full amount, from its account.

        Raises `VerificationError` for another order id, `MerchantMismatch` when
        ``account`` (the account that created the order: store ``payment.account``)
        is given and the notification was verified by another, and `AmountMismatch`
        when ``amount`` differs from ``order.amount`` (compared as Decimal, so
        ``300.0000`` equals ``300``) or ``currency`` from ``order.currency``.
        ``paid_amount`` is left to the caller: some channels lower it by a few fen.
        With several accounts configured, always pass ``account``: any account's key
        verifies a notification posted to its own path.
        """
        if not isinstance(order, Order):
            raise InvalidRequest(f"check_against() takes the paycore.Order, not {type(order).__name__}")
        if account is not None and account != self.account:
            raise MerchantMismatch(
                f"notification for order {clip(self.order_id)!r} was verified by account {clip(self.account)!r}, "
                f"not by {clip(str(account))!r} which created it"
            )
        if self.order_id != order.order_id:
            raise VerificationError(f"notification is for order {clip(self.order_id)!r}, not {order.order_id!r}")
        if self.currency != order.currency:
            # The same number in another currency is another amount.
            raise AmountMismatch(f"notified in {self.currency}, the order is in {order.currency}")
        if self.amount != order.amount:
            raise AmountMismatch(f"notified amount {self.amount} differs from the order's {order.amount}")
