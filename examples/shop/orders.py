"""The shop's orders, in SQLite: each with the account that created it, so that it is always asked there."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pydantic

import paycore

__all__ = ["OrderBook", "ShopOrder"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    amount TEXT NOT NULL,            -- Decimal as text: never a float
    currency TEXT NOT NULL,
    account TEXT NOT NULL,           -- the paycore account that created it
    channel TEXT NOT NULL,
    status TEXT NOT NULL,            -- a paycore.PaymentStatus value
    next_action TEXT,                -- the payment's next action, JSON
    transaction_id TEXT,
    paid_amount TEXT,
    applied INTEGER NOT NULL DEFAULT 0,   -- how many times a payment was applied: once, or a bug
    refund_id TEXT,
    refund_status TEXT,
    created_at TEXT NOT NULL
)
"""


_COLUMNS = (
    "order_id, sku, amount, currency, account, channel, status, next_action, transaction_id, paid_amount, applied,"
    " refund_id, refund_status"
)
_NEXT_ACTION: pydantic.TypeAdapter[paycore.NextAction] = pydantic.TypeAdapter(paycore.NextAction)


@dataclass(frozen=True)
class ShopOrder:
    order_id: str
    sku: str
    amount: Decimal
    currency: str
    account: str
    channel: paycore.Channel
    status: paycore.PaymentStatus
    next_action: paycore.NextAction | None
    transaction_id: str | None
    paid_amount: Decimal | None
    applied: int
    refund_id: str | None
    refund_status: paycore.RefundStatus | None

    def record(self) -> paycore.OrderRecord:
        """What the notification handler checks a payment against."""
        return paycore.OrderRecord(self.order_id, self.amount, self.currency, self.account)


class OrderBook:
    """The orders table; one connection per call, so that any thread may use it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connection() as connection:
            connection.execute(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            with connection:  # one transaction: committed, or rolled back on an error
                yield connection
        finally:
            connection.close()

    def add(self, order: paycore.Order, *, sku: str, account: str) -> None:
        """Store the order and its account before asking the gateway: a create may reach it and time out."""
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO orders (order_id, sku, amount, currency, account, channel, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order.order_id,
                    sku,
                    str(order.amount),
                    order.currency,
                    account,
                    str(order.channel),
                    paycore.PaymentStatus.PENDING.value,
                    datetime.now(UTC).isoformat(),
                ),
            )

    def created(self, order_id: str, next_action: paycore.NextAction | None) -> None:
        dumped = None if next_action is None else next_action.model_dump_json()
        with self._connection() as connection:
            connection.execute("UPDATE orders SET next_action = ? WHERE order_id = ?", (dumped, order_id))

    def paid(self, event: paycore.AppliedPayment) -> None:
        """The handler's ``on_paid``: called once per paid order, whatever the resends."""
        paid_amount = event.paid_amount if event.paid_amount is not None else event.amount
        with self._connection() as connection:
            connection.execute(
                "UPDATE orders SET status = ?, transaction_id = ?, paid_amount = ?, applied = applied + 1"
                " WHERE order_id = ?",
                (paycore.PaymentStatus.PAID.value, event.transaction_id, str(paid_amount), event.order_id),
            )

    def settled(self, order_id: str, status: paycore.PaymentStatus) -> None:
        """A state the gateway reported that is not a payment (closed, failed): shown, nothing applied."""
        with self._connection() as connection:
            connection.execute(
                "UPDATE orders SET status = ? WHERE order_id = ? AND status = ?",
                (status.value, order_id, paycore.PaymentStatus.PENDING.value),
            )

    def refunding(self, order_id: str, refund_id: str) -> None:
        """Store the refund id before asking: asked again after a failure, the gateway refunds once."""
        with self._connection() as connection:
            connection.execute(
                "UPDATE orders SET refund_id = ? WHERE order_id = ? AND refund_id IS NULL", (refund_id, order_id)
            )

    def refunded(self, order_id: str, refund: paycore.Refund) -> None:
        status = paycore.PaymentStatus.REFUNDED if refund.status is paycore.RefundStatus.SUCCEEDED else None
        with self._connection() as connection:
            connection.execute(
                "UPDATE orders SET refund_status = ?, status = COALESCE(?, status) WHERE order_id = ?",
                (refund.status.value, None if status is None else status.value, order_id),
            )

    def get(self, order_id: str) -> ShopOrder | None:
        with self._connection() as connection:
            row = connection.execute(f"SELECT {_COLUMNS} FROM orders WHERE order_id = ?", (order_id,)).fetchone()  # noqa: S608  # a constant
        return None if row is None else _order(row)

    def record(self, order_id: str) -> paycore.OrderRecord | None:
        """The handler's ``lookup``."""
        order = self.get(order_id)
        return None if order is None else order.record()

    def all(self) -> list[ShopOrder]:
        with self._connection() as connection:
            rows = connection.execute(f"SELECT {_COLUMNS} FROM orders ORDER BY created_at DESC").fetchall()  # noqa: S608
        return [_order(row) for row in rows]

    def pending_ids(self) -> list[str]:
        """Orders still waiting for their payment: what reconciliation asks the gateways about."""
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT order_id FROM orders WHERE status = ?", (paycore.PaymentStatus.PENDING.value,)
            ).fetchall()
        return [str(row[0]) for row in rows]


def _order(row: tuple[object, ...]) -> ShopOrder:
    (
        order_id,
        sku,
        amount,
        currency,
        account,
        channel,
        status,
        action,
        transaction,
        paid,
        applied,
        refund_id,
        refund,
    ) = row
    return ShopOrder(
        order_id=str(order_id),
        sku=str(sku),
        amount=Decimal(str(amount)),
        currency=str(currency),
        account=str(account),
        channel=paycore.Channel(str(channel)),
        status=paycore.PaymentStatus(str(status)),
        next_action=None if action is None else _NEXT_ACTION.validate_json(str(action)),
        transaction_id=None if transaction is None else str(transaction),
        paid_amount=None if paid is None else Decimal(str(paid)),
        applied=int(str(applied)),
        refund_id=None if refund_id is None else str(refund_id),
        refund_status=None if refund is None else paycore.RefundStatus(str(refund)),
    )
