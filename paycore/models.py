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

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import pydantic
from pydantic import AfterValidator, BeforeValidator, Field, InstanceOf

from paycore._fields import (
    MAX_ORDER_AMOUNT,
    Amount,
    AwareDatetime,
    Currency,
    HttpUrl,
    Text,
    _Model,
    checked_ip_address,
    checked_quantity,
    order_amount,
)
from paycore._ids import new_order_id
from paycore._kinds import REFUND_ID_PATTERN, Channel, CreateFlow, PaymentStatus, RefundStatus, Surface, Wallet
from paycore._next_actions import AppLink, NextAction, PaymentForm, QrCode, Redirect, SdkParameters
from paycore._text import clip
from paycore.errors import AmountMismatch, InvalidRequest, MerchantMismatch, VerificationError
from paycore.http import Reply

# Defined in private rooms; named after this public one, so that pickles and reprs stay as they were. (Not the
# next-action models: pydantic resolves their annotations in the module they name, when it first builds them.)
for _moved in (Channel, CreateFlow, PaymentStatus, RefundStatus, Surface, Wallet):
    _moved.__module__ = __name__

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
    quantity: Annotated[int, BeforeValidator(checked_quantity)] | None = None
    product_url: HttpUrl | None = None
    client_ip: Annotated[str, AfterValidator(checked_ip_address)] | None = None
    #: the payer's id at the wallet (WeChat's openid for JSAPI and mini programs)
    payer_id: Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,128}$")] | None = None
    #: when the gateway should stop accepting payment for this order
    expires_at: AwareDatetime | None = None
    created_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))

    @pydantic.field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object, info: pydantic.ValidationInfo) -> Decimal:
        return order_amount(value, info.data.get("currency", "CNY"))


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
    refund: Refund | None = None
    """Set when the notification is about a refund of the order (WeChat Pay's ``REFUND.SUCCESS``,
    ``REFUND.ABNORMAL``, ``REFUND.CLOSED``), not about its payment: the refund as the gateway
    reports it. ``status`` is then never `PaymentStatus.PAID` (`PaymentStatus.REFUNDED`
    when the refund succeeded, `PaymentStatus.UNKNOWN` otherwise), so nothing that applies
    payments takes it for one; `NotificationHandler` acknowledges it and applies nothing."""

    @pydantic.model_validator(mode="after")
    def _refund_is_no_payment(self) -> Notification:
        if self.refund is not None:
            if self.status is PaymentStatus.PAID:
                raise ValueError("a refund notification's status is not paid: it says nothing new about the payment")
            if self.refund.order_id != self.order_id:
                raise ValueError("a refund notification's refund is of another order")
        return self

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
