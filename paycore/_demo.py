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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from paycore import web
from paycore._gateway import AsyncGateway, Gateway
from paycore.errors import NotSupported, PaycoreError, VerificationError
from paycore.models import Channel, Notification, Order, Payment, PaymentStatus
from paycore.provider import Provider
from paycore.sandbox import SandboxOptions, make_sandbox
from paycore.testing import LoopbackServer

__all__ = ["DemoFailed", "run_demo"]

_WAIT_FOR_NOTIFICATION = 15.0


class DemoFailed(PaycoreError):
    """A step of the round trip did not give the expected result."""


# Values for the optional Order fields a provider may require: the demo's buyer is on this machine.
_DEMO_ORDER_FIELDS: dict[str, Any] = {
    "client_ip": "127.0.0.1",
    "payer_id": "demo-payer",
    "description": "a demo order",
    "quantity": 1,
    "product_url": "https://shop.example/green-tea",
}


def _demo_order(provider_class: type[Provider[Any]], merchant_url: str) -> Order:
    channels = provider_class.channels
    channel = Channel.ALIPAY_QR if Channel.ALIPAY_QR in channels or not channels else sorted(channels)[0]
    extra: dict[str, Any] = {name: _DEMO_ORDER_FIELDS.get(name) for name in provider_class.order_fields_for(channel)}
    if "expires_at" in extra:
        extra["expires_at"] = datetime.now(UTC) + timedelta(minutes=15)
    fields: dict[str, Any] = {
        "amount": Decimal("9.90"),
        "channel": channel,
        "subject": "paycore demo: green tea",
        "notify_url": f"{merchant_url}/notify/demo",
        "return_url": f"{merchant_url}/return",
        "attach": "demo",
        **extra,
    }
    return Order(**fields)


def run_demo(
    provider: str | type[Provider[Any]] = "juhe", *, use_async: bool = False, say: Callable[[str], None] = print
) -> None:
    """Run the round trip, narrating each step with ``say``; raise PaycoreError if any step fails."""
    started = time.perf_counter()
    flavour = "AsyncGateway" if use_async else "Gateway"
    shown_name = provider if isinstance(provider, str) else (provider.provider_name or provider.__name__)
    say(f"paycore demo: one payment through the {shown_name!r} provider, with paycore.{flavour}")
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
            if request.url.path == "/return":
                return _browser_return(gateway, request)
            if request.url.path != "/notify/demo":
                return httpx.Response(404, text="not found")
            try:
                notification = gateway.verify_notification(web.from_httpx(request))
            except PaycoreError as exc:
                received.put(exc)
                return web.to_httpx(gateway.failure_reply(exc))
            received.put(notification)
            return web.to_httpx(notification.ack)

        with LoopbackServer(merchant_endpoint) as merchant:
            say(f"  2. merchant notification endpoint on {merchant.url}/notify/demo (verifies with paycore)")
            order = _demo_order(type(gateway.provider), merchant.url)
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
    if payment.status is not PaymentStatus.PENDING or payment.next_action is None:
        raise DemoFailed(f"create returned {payment.status.value} without telling the buyer what to do")
    say(
        f"  3. created order {order.order_id}: {order.amount} {order.currency} by {order.channel}, "
        f"{payment.status.value}"
    )
    say(f"     next: {payment.next_action.describe()}")
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
        f"{item.transaction_id}; answered HTTP {item.ack.status} {item.ack.body!r}"
    )


def _check_query(queried: Payment, say: Callable[[str], None]) -> None:
    if queried.status is not PaymentStatus.PAID:
        raise DemoFailed(f"query says {queried.status.value}, not paid")
    paid_at: Any = queried.paid_at.isoformat(sep=" ") if queried.paid_at else "?"
    say(f"  6. query confirms: {queried.status.value} at {paid_at}, transaction {queried.transaction_id}")


def _browser_return(gateway: Gateway | AsyncGateway, request: httpx.Request) -> httpx.Response:
    """The buyer's browser return: read for display through the gateway, never trusted."""
    try:
        shown = gateway.parse_return(web.from_httpx(request))
    except NotSupported:
        return httpx.Response(200, text="thanks for your purchase")
    except PaycoreError:
        return httpx.Response(400, text="this return could not be read")
    return httpx.Response(200, text=f"thanks: order {shown.order_id} is being confirmed")
