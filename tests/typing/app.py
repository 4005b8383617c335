"""A small merchant application, type-checked by CI against the installed wheels (not this tree).

If paycore shipped no type information, mypy --strict would stop at the import, or
let every name below be Any; assert_type makes sure it does neither.
"""

from __future__ import annotations

from decimal import Decimal
from typing import assert_type

import paycore
from paycore.sandbox import Sandbox
from paycore.testing import Merchant


def checkout(gateway: paycore.Gateway, amount: Decimal) -> str | None:
    order = paycore.Order(
        amount=amount,
        channel=paycore.Channel.ALIPAY_QR,
        subject="Green tea",
        notify_url="https://shop.example/pay/notify",
        return_url="https://shop.example/pay/done",
    )
    try:
        payment = gateway.create(order)
    except paycore.TransportError as exc:
        assert_type(exc.may_have_reached_gateway, bool)
        return None
    except paycore.GatewayError as exc:
        assert_type(exc.gateway_message, str | None)
        return None
    assert_type(payment, paycore.Payment)
    assert_type(payment.amount, Decimal | None)
    assert_type(payment.status, paycore.PaymentStatus)
    return payment.pay_url


def notify(accounts: paycore.Accounts, body: bytes) -> paycore.Reply:
    request = paycore.NotificationRequest(method="POST", path="/notify/main", body=body)
    try:
        notification = accounts.verify_notification(request)
    except paycore.VerificationError as exc:
        return accounts.reply_for(request, exc)
    assert_type(notification, paycore.Notification)
    assert_type(notification.paid_amount, Decimal | None)
    assert_type(notification.ack, paycore.Reply)
    return notification.ack


def next_step(payment: paycore.Payment) -> str:
    action = payment.next_action
    if isinstance(action, paycore.QrCode):
        return action.content
    return action.describe() if action is not None else ""


async def query(order_id: str) -> paycore.PaymentStatus:
    async with paycore.AsyncGateway.from_config() as gateway:
        payment = await gateway.query(order_id)
    return payment.status


def end_to_end(sandbox: Sandbox, order: paycore.Order) -> int:
    """A test's round trip on any provider's sandbox, through the Sandbox protocol and Merchant."""
    with sandbox, Merchant("fake", sandbox.account_settings()) as shop:
        shop.gateway.create(order)
        sandbox.pay(order.order_id)
        sandbox.wait_for_notifications(order.order_id)
        assert_type(shop.paid, list[paycore.AppliedPayment])
        return len(sandbox.attempts(order.order_id))


def main() -> None:
    with paycore.Gateway.from_config(deadline=15.0) as gateway:
        assert_type(gateway.deadline, float)
        checkout(gateway, Decimal("9.90"))
