"""The notification handler behind paycore.web.asgi_app, over real sockets, fed by the juhe sandbox's faults."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

import pytest

import paycore
from paycore import web
from paycore.handler import AsyncNotificationHandler, NotificationHandler, OrderRecord
from paycore.stores import MemoryStore
from paycore.stores.sqlite import SQLiteStore
from paycore.testing import LoopbackServer

KEY = "handler-sandbox-key-0123456789"


class Merchant:
    def __init__(self, sandbox: Any, store: Any, *, use_async: bool = False, **options: Any) -> None:
        settings = sandbox.account_settings()
        self.gateway = paycore.Gateway("juhe", settings, account="main", timeout=2)
        self.accounts = paycore.Accounts({"main": self.gateway})
        self.orders: dict[str, OrderRecord] = {}
        self.paid: list[paycore.AppliedPayment] = []
        self.failed: list[paycore.AppliedPayment] = []
        if use_async:
            async_accounts = paycore.AsyncAccounts({"main": paycore.AsyncGateway("juhe", settings, account="main")})
            handler: Any = AsyncNotificationHandler(
                async_accounts,
                lookup=self.orders.get,
                on_paid=self.paid.append,
                on_failed=self.failed.append,
                store=store,
                **options,
            )
        else:
            handler = NotificationHandler(
                self.accounts,
                lookup=self.orders.get,
                on_paid=self.paid.append,
                on_failed=self.failed.append,
                store=store,
                **options,
            )
        self.handler = handler
        self.server = LoopbackServer.asgi(web.asgi_app(handler))

    def order(self, amount: str = "30.00") -> str:
        order = paycore.Order(
            amount=Decimal(amount),
            channel=paycore.Channel.ALIPAY_QR,
            subject="tea",
            notify_url=self.accounts.notify_url(f"{self.server.url}/notify"),
            return_url=f"{self.server.url}/done",
        )
        self.gateway.create(order)
        self.orders[order.order_id] = OrderRecord(order.order_id, order.amount, account="main")
        return order.order_id


@pytest.fixture(params=["sync", "async"])
def merchant(request, make_sandbox, tmp_path):
    sandbox = make_sandbox(secret_key=KEY)
    made = Merchant(sandbox, SQLiteStore(tmp_path / "store.sqlite3"), use_async=request.param == "async")
    made.sandbox = sandbox
    with made.server:
        yield made
    made.gateway.close()


def _attempts(sandbox: Any, order_id: str, count: int) -> list[Any]:
    deadline = time.monotonic() + 15
    while len(attempts := sandbox.attempts(order_id)) < count:
        assert time.monotonic() < deadline, f"{len(attempts)} attempts, expected {count}"
        time.sleep(0.02)
    return attempts


def test_a_duplicate_delivery_is_applied_once(merchant):
    order_id = merchant.order()
    merchant.sandbox.set_faults(["duplicate"], order_id=order_id)
    merchant.sandbox.pay(order_id)
    attempts = _attempts(merchant.sandbox, order_id, 2)
    assert [attempt.response for attempt in attempts] == ["OK", "OK"]
    assert [event.order_id for event in merchant.paid] == [order_id]


def test_a_wrongly_signed_notification_is_never_applied(merchant, caplog):
    order_id = merchant.order()
    merchant.sandbox.set_faults(["wrong_sign"], order_id=order_id)
    with caplog.at_level(logging.DEBUG):
        merchant.sandbox.pay(order_id)
        attempts = _attempts(merchant.sandbox, order_id, 2)  # refused, so resent
    assert all("ok" not in attempt.response.lower() for attempt in attempts)
    assert merchant.paid == []
    assert KEY not in caplog.text  # the handler's logs never carry the key


def test_an_underpaid_notification_is_not_applied_by_default(merchant):
    order_id = merchant.order()
    merchant.sandbox.set_faults(["true_amount"], order_id=order_id)
    merchant.sandbox.pay(order_id)
    attempts = _attempts(merchant.sandbox, order_id, 2)
    assert all("ok" not in attempt.response.lower() for attempt in attempts)
    assert merchant.paid == []


def test_a_failed_payment_calls_on_failed_once(merchant):
    order_id = merchant.order()
    merchant.sandbox.set_faults(["fail", "duplicate"], order_id=order_id)
    merchant.sandbox.pay(order_id)
    attempts = _attempts(merchant.sandbox, order_id, 2)
    assert [attempt.response for attempt in attempts] == ["OK", "OK"]
    assert [event.status for event in merchant.failed] == [paycore.PaymentStatus.FAILED]
    assert merchant.paid == []


def test_reconcile_survives_a_slow_gateway_and_applies_a_lost_notification(make_sandbox):
    sandbox = make_sandbox(secret_key=KEY)
    merchant = Merchant(sandbox, MemoryStore())
    order_id = merchant.order()
    # The notification is lost: the merchant's endpoint is down when the buyer pays.
    sandbox.set_faults(["slow"], slow_seconds=3)
    with merchant.server:
        pass  # started and stopped: nothing listens when the sandbox notifies
    sandbox.pay(order_id)
    _attempts(sandbox, order_id, 1)
    [slow] = merchant.handler.reconcile([order_id])
    assert slow.error is not None
    assert "TransportError" in slow.error
    assert merchant.paid == []
    sandbox.set_faults([])
    [found] = merchant.handler.reconcile([order_id])
    assert (found.status, found.outcome) == (paycore.PaymentStatus.PAID, paycore.Outcome.APPLIED)
    assert [event.source for event in merchant.paid] == ["query"]
    merchant.gateway.close()
