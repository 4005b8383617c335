"""``paycore demo``: a whole payment round trip on a provider's local sandbox.

Sandbox gateway and merchant notification endpoint both run in this process on
127.0.0.1; the payment goes through them over real HTTP, exactly as it would
against a real gateway: create, pay, notification (verified, acknowledged), query.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from paycore._gateway import AsyncGateway, Gateway
from paycore.errors import PaycoreError, VerificationError
from paycore.models import Channel, Notification, Order, Payment, PaymentStatus
from paycore.sandbox import SandboxOptions, make_sandbox
from paycore.testing import LoopbackServer

__all__ = ["DemoFailed", "run_demo"]

_WAIT_FOR_NOTIFICATION = 15.0


class DemoFailed(PaycoreError):
    """A step of the round trip did not give the expected result."""


def run_demo(provider: str = "juhe", *, use_async: bool = False, say: Callable[[str], None] = print) -> None:
    """Run the round trip, narrating each step with ``say``; raise PaycoreError if any step fails."""
    started = time.perf_counter()
    flavour = "AsyncGateway" if use_async else "Gateway"
    say(f"paycore demo: one payment through the {provider!r} provider, with paycore.{flavour}")
    sandbox = make_sandbox(provider, SandboxOptions(profile="fast"))
    received: queue.Queue[Notification | PaycoreError] = queue.Queue()
    with sandbox:
        say(f"  1. sandbox gateway listening on {sandbox.url}")
        gateway: Gateway | AsyncGateway
        settings = sandbox.account_settings()
        gateway = (
            AsyncGateway(provider, settings, account="demo")
            if use_async
            else Gateway(provider, settings, account="demo")
        )

        def merchant_endpoint(request: httpx.Request) -> httpx.Response:
            if request.url.path != "/notify":
                return httpx.Response(200, text="thanks for your purchase")  # the browser return: display only
            try:
                notification = gateway.verify_notification(request.content)
            except PaycoreError as exc:
                received.put(exc)
                return httpx.Response(400, text="refused")
            received.put(notification)
            return httpx.Response(200, text=notification.ack)

        with LoopbackServer(merchant_endpoint) as merchant:
            say(f"  2. merchant notification endpoint on {merchant.url}/notify (verifies with paycore)")
            order = Order(
                amount=Decimal("9.90"),
                channel=Channel.ALIPAY_QR,
                subject="paycore demo: green tea",
                notify_url=f"{merchant.url}/notify",
                return_url=f"{merchant.url}/return",
                attach="demo",
            )
            if isinstance(gateway, AsyncGateway):
                payment, queried = asyncio.run(_async_round_trip(gateway, order, sandbox.pay, received, say))
            else:
                with gateway:
                    payment = gateway.create(order)
                    _after_create(order, payment, sandbox.pay, received, say)
                    queried = gateway.query(order.order_id)
            _check_query(queried, say)
    elapsed = time.perf_counter() - started
    say(
        f"done: order {order.order_id} for {order.amount} {order.currency} created, paid, notified, verified and "
        f"queried as {queried.status.value} in {elapsed:.2f} s"
    )


async def _async_round_trip(
    gateway: AsyncGateway,
    order: Order,
    pay: Callable[[str], None],
    received: queue.Queue[Notification | PaycoreError],
    say: Callable[[str], None],
) -> tuple[Payment, Payment]:
    async with gateway:
        payment = await gateway.create(order)
        # The steps between create and query block (the buyer, the gateway's notification): run them aside.
        await asyncio.to_thread(_after_create, order, payment, pay, received, say)
        return payment, await gateway.query(order.order_id)


def _after_create(
    order: Order,
    payment: Payment,
    pay: Callable[[str], None],
    received: queue.Queue[Notification | PaycoreError],
    say: Callable[[str], None],
) -> None:
    if payment.status is not PaymentStatus.PENDING or not payment.pay_url:
        raise DemoFailed(f"create returned {payment.status.value} without a payment URL")
    say(f"  3. created order {order.order_id}: {order.amount} {order.currency}, {payment.status.value}")
    say(f"     the buyer is sent to {payment.pay_url}")
    pay(order.order_id)
    say("  4. the buyer pays at the sandbox's cashier")
    try:
        item = received.get(timeout=_WAIT_FOR_NOTIFICATION)
    except queue.Empty:
        raise DemoFailed(f"no notification arrived within {_WAIT_FOR_NOTIFICATION:.0f} s") from None
    if isinstance(item, PaycoreError):
        raise DemoFailed(f"the notification failed verification: {item}") from item
    try:
        item.check_against(order)
    except VerificationError as exc:
        raise DemoFailed(f"the notification does not match the order: {exc}") from exc
    if item.status is not PaymentStatus.PAID:
        raise DemoFailed(f"the notification says {item.status.value}, not paid")
    say(
        f"  5. notification verified: {item.status.value}, {item.paid_amount} paid, transaction "
        f"{item.transaction_id}; answered {item.ack!r}"
    )


def _check_query(queried: Payment, say: Callable[[str], None]) -> None:
    if queried.status is not PaymentStatus.PAID:
        raise DemoFailed(f"query says {queried.status.value}, not paid")
    paid_at: Any = queried.paid_at.isoformat(sep=" ") if queried.paid_at else "?"
    say(f"  6. query confirms: {queried.status.value} at {paid_at}, transaction {queried.transaction_id}")
