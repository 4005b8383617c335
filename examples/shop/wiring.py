"""The shop's paycore parts: the configured accounts, the notification store, the handler, and what they do.

``paycore reconcile --handler examples.shop.wiring:make_handler ORDER_ID ...``
loads the same handler the shop serves, from the same environment.
"""

from __future__ import annotations

import threading
import time

import paycore
from examples.shop.catalog import Product
from examples.shop.orders import OrderBook, ShopOrder
from examples.shop.settings import ShopSettings
from paycore.handler import ReconcileResult
from paycore.stores import NotificationStore
from paycore.stores.postgres import PostgresStore
from paycore.stores.redis import RedisStore
from paycore.stores.sqlite import SQLiteStore

__all__ = ["NOTIFY_PATH", "QUERY_INTERVAL", "Shop", "make_handler", "store_for"]

#: where gateways notify: ``/pay/notify/<account>`` (the account in the path verifies)
NOTIFY_PATH = "/pay/notify"
#: seconds between two queries of one order from its return page: anyone can reload that page
QUERY_INTERVAL = 5.0
#: order fields the shop can fill in itself; a channel needing others (a payer's openid) is not offered
_FIELDS_THE_SHOP_HAS = frozenset({"client_ip"})


def store_for(location: str) -> NotificationStore:
    """The handler's store: a SQLite path (the default), or a ``redis://`` or ``postgresql://`` URL."""
    # Each store imports its driver (redis, psycopg) when made: a shop on SQLite needs neither installed.
    if location.startswith(("redis://", "rediss://")):
        return RedisStore(url=location)
    if location.startswith(("postgresql://", "postgres://")):
        return PostgresStore(location)
    return SQLiteStore(location)


class Shop:
    """Accounts from ``paycore.toml``, the orders, and the handler that applies payments to them exactly once."""

    def __init__(self, settings: ShopSettings) -> None:
        self.accounts = paycore.Accounts.from_config(
            settings.paycore_config, allow_public_test_keys=settings.allow_public_test_keys
        )
        self.orders = OrderBook(settings.database)
        self.store = store_for(settings.store)
        self.handler = paycore.NotificationHandler(
            self.accounts, lookup=self.orders.record, on_paid=self.orders.paid, store=self.store
        )
        self._queried: dict[str, float] = {}
        self._queried_lock = threading.Lock()

    def close(self) -> None:
        """Close the gateways' connections and the store's (Redis and PostgreSQL hold a pool)."""
        self.accounts.close()
        close_store = getattr(self.store, "close", None)
        if close_store is not None:
            close_store()

    def channels(self) -> list[paycore.Channel]:
        """The default account's channels the shop can fill an order for, QR codes first."""
        capabilities = self.accounts.gateway().capabilities
        usable = [
            channel
            for channel in capabilities.channels
            if capabilities.channel_order_fields.get(channel, frozenset()) <= _FIELDS_THE_SHOP_HAS
        ]
        return sorted(usable, key=lambda channel: (not channel.value.endswith("_qr"), channel.value))

    def checkout(self, product: Product, channel: paycore.Channel, *, base_url: str, client_ip: str) -> ShopOrder:
        """Create the order through the default account, stored with that account before the gateway is asked."""
        gateway = self.accounts.gateway()
        order_id = paycore.new_order_id()
        order = paycore.Order(
            order_id=order_id,
            amount=product.price,
            channel=channel,
            subject=product.name,
            notify_url=self.accounts.notify_url(f"{base_url}{NOTIFY_PATH}"),
            return_url=f"{base_url}/orders/{order_id}/return",
            client_ip=client_ip,
        )
        self.orders.add(order, sku=product.sku, account=gateway.account)
        payment = gateway.create(order)
        self.orders.created(order.order_id, payment.next_action)
        found = self.orders.get(order.order_id)
        if found is None:
            raise paycore.PaycoreError(f"order {order.order_id} vanished from the shop's database")
        return found

    def _may_query(self, order_id: str) -> bool:
        """At most one query of an order per `QUERY_INTERVAL`, however often its return page is loaded."""
        now = time.monotonic()
        with self._queried_lock:
            if now - self._queried.get(order_id, -QUERY_INTERVAL) < QUERY_INTERVAL:
                return False
            self._queried[order_id] = now
            if len(self._queried) > 10_000:  # forget the oldest: a bounded memory, whatever the traffic
                for stale in sorted(self._queried, key=self._queried.__getitem__)[:5_000]:
                    del self._queried[stale]
            return True

    def confirm(self, order: ShopOrder) -> ShopOrder:
        """Ask the order's own account when no notification has settled it yet; apply what it says, once."""
        if order.status is not paycore.PaymentStatus.PENDING or not self._may_query(order.order_id):
            return order
        payment = self.accounts[order.account].query(order.order_id)
        if payment.status is paycore.PaymentStatus.PAID:
            self.handler.apply_payment(payment)
        elif payment.status in (paycore.PaymentStatus.CLOSED, paycore.PaymentStatus.FAILED):
            self.orders.settled(order.order_id, payment.status)
        return self.orders.get(order.order_id) or order

    def refund(self, order: ShopOrder) -> paycore.Refund:
        """Refund the whole order through its account, under a refund id stored first."""
        refund_id = order.refund_id or f"{order.order_id}-refund"
        self.orders.refunding(order.order_id, refund_id)
        refund = self.accounts[order.account].refund(
            order.order_id, refund_id=refund_id, amount=order.amount, order_amount=order.amount
        )
        self.orders.refunded(order.order_id, refund)
        return refund

    def refunds_possible(self, order: ShopOrder) -> bool:
        """Paid, and its account (still configured) can refund: its provider has the refund operation."""
        if order.status is not paycore.PaymentStatus.PAID or order.account not in self.accounts:
            return False
        return paycore.Operation.REFUND in self.accounts[order.account].capabilities.operations

    def reconcile_pending(self) -> list[ReconcileResult]:
        """Ask the gateways about every pending order and apply what they say (lost or refused notifications)."""
        return self.handler.reconcile(self.orders.pending_ids())


def make_handler() -> paycore.NotificationHandler:
    """The shop's handler, for ``paycore reconcile --handler examples.shop.wiring:make_handler``."""
    return Shop(ShopSettings.from_environment()).handler
