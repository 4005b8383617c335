"""``paycore demo``: a whole payment round trip on a provider's local sandbox.

Sandbox gateway and merchant notification endpoint both run in this process on
127.0.0.1; the payment goes through them over real HTTP, exactly as it would
against a real gateway: create, pay, notification (verified, checked against the
order, applied exactly once by `paycore.NotificationHandler`, acknowledged), query.
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
from paycore._accounts import Accounts
from paycore._gateway import AsyncGateway, Gateway
from paycore.errors import NotSupported, PaycoreError
from paycore.handler import AppliedPayment, Handled, NotificationHandler, OrderRecord, Outcome
from paycore.models import Channel, Order, Payment, PaymentStatus
from paycore.provider import Provider
from paycore.sandbox import SandboxOptions, make_sandbox
from paycore.stores import MemoryStore
from paycore.testing import LoopbackServer

__all__ = ["DemoFailed", "demo_channel", "order_fields_for", "run_demo"]

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


def order_fields_for(provider_class: type[Provider[Any]], channel: Channel) -> dict[str, Any]:
    """Plausible values for the optional Order fields ``provider_class`` requires on ``channel``."""
    extra: dict[str, Any] = {name: _DEMO_ORDER_FIELDS.get(name) for name in provider_class.order_fields_for(channel)}
    if "expires_at" in extra:
        extra["expires_at"] = datetime.now(UTC) + timedelta(minutes=15)
    return extra


#: the channels a demo (and the conformance suite) pays on first: a QR code needs no buyer field (openid, IP)
_QR_FIRST = (Channel.ALIPAY_QR, Channel.WECHAT_QR)


def demo_channel(channels: frozenset[Channel]) -> Channel:
    """The channel to pay a demo order on: a QR code where the provider serves one, else its first channel."""
    preferred = [channel for channel in _QR_FIRST if channel in channels]
    if preferred:
        return preferred[0]
    return sorted(channels)[0] if channels else Channel.ALIPAY_QR


def _demo_order(provider_class: type[Provider[Any]], merchant_url: str) -> Order:
    channel = demo_channel(provider_class.channels)
    extra = order_fields_for(provider_class, channel)
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
    received: queue.Queue[Handled] = queue.Queue()
    applied: list[AppliedPayment] = []
    orders: dict[str, OrderRecord] = {}
    with sandbox:
        say(f"  1. sandbox gateway listening on {sandbox.url}")
        gateway: Gateway | AsyncGateway
        settings = sandbox.account_settings()
        gateway = (
            AsyncGateway(provider, settings, account="demo")
            if use_async
            else Gateway(provider, settings, account="demo")
        )

        # The merchant's side: the safe path, a handler that applies each payment exactly once.
        # (Verifying is pure: one synchronous gateway serves the endpoint, whichever gateway creates.)
        verifier = Gateway(provider, settings, account="demo")
        handler = NotificationHandler(
            Accounts({"demo": verifier}), lookup=orders.get, on_paid=applied.append, store=MemoryStore()
        )

        def merchant_endpoint(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/return":
                return _browser_return(gateway, request)
            if request.url.path != "/notify/demo":
                return httpx.Response(404, text="not found")
            handled = handler.process(web.from_httpx(request))
            received.put(handled)
            return web.to_httpx(handled.reply)

        with LoopbackServer(merchant_endpoint) as merchant:
            say(f"  2. merchant notification endpoint on {merchant.url}/notify/demo (paycore.NotificationHandler)")
            order = _demo_order(type(gateway.provider), merchant.url)
            orders[order.order_id] = OrderRecord(order.order_id, order.amount, order.currency, "demo")
            if isinstance(gateway, AsyncGateway):
                payment, queried = asyncio.run(_async_round_trip(gateway, order, sandbox.pay, received, say))
            else:
                with gateway:
                    payment = gateway.create(order)
                    _after_create(order, payment, sandbox.pay, received, say)
                    queried = gateway.query(order.order_id)
            _check_query(queried, say)
            verifier.close()
            if [event.order_id for event in applied] != [order.order_id]:
                raise DemoFailed(f"the payment was applied {len(applied)} times, not once")
    elapsed = time.perf_counter() - started
    say(
        f"done: order {order.order_id} for {order.amount} {order.currency} created, paid, notified, verified and "
        f"queried as {queried.status.value} in {elapsed:.2f} s"
    )


async def _async_round_trip(
    gateway: AsyncGateway,
    order: Order,
    pay: Callable[[str], None],
    received: queue.Queue[Handled],
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
    received: queue.Queue[Handled],
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
    notification = item.notification
    if item.outcome is not Outcome.APPLIED or notification is None:
        raise DemoFailed(f"the notification was not applied: {item.outcome.value}")
    if notification.status is not PaymentStatus.PAID:
        raise DemoFailed(f"the notification says {notification.status.value}, not paid")
    say(
        f"  5. notification verified, checked against the order and applied once: {notification.paid_amount} "
        f"paid, transaction {notification.transaction_id}; answered HTTP {item.reply.status} {item.reply.body!r}"
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
