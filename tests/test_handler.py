"""The notification handler and its stores: exactly once, on real SQLite files, Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest

import paycore
import paycore.stores
from paycore.handler import AsyncNotificationHandler, Handled, NotificationHandler, OrderRecord, Outcome
from paycore.stores import Claim
from paycore.stores.postgres import PostgresStore
from paycore.testing import FakeGateway, FakeProvider, FakeSettings, fake_sign

SECRET = "handler-test-secret"


class Shop:
    """A merchant: its orders, the fake gateway, and how many times each callback ran."""

    def __init__(self) -> None:
        self.fake = FakeGateway(FakeSettings(secret_key=SECRET))
        self.gateway = paycore.Gateway(
            FakeProvider, {"secret_key": SECRET}, account="main", transport=httpx.MockTransport(self.fake)
        )
        self.accounts = paycore.Accounts({"main": self.gateway}, default="main")
        self.orders: dict[str, OrderRecord] = {}
        self.paid: list[paycore.AppliedPayment] = []
        self.failed: list[paycore.AppliedPayment] = []
        self._lock = threading.Lock()

    def order(self, amount: str = "9.90") -> str:
        order = paycore.Order(
            amount=Decimal(amount),
            channel=paycore.Channel.ALIPAY_QR,
            subject="tea",
            notify_url="https://shop.example/notify/main",
            return_url="https://shop.example/done",
        )
        self.gateway.create(order)
        self.orders[order.order_id] = OrderRecord(order.order_id, order.amount, account="main")
        return order.order_id

    def on_paid(self, event: paycore.AppliedPayment) -> None:
        with self._lock:
            self.paid.append(event)

    def handler(self, store: Any, **options: Any) -> NotificationHandler:
        options.setdefault("on_failed", self.failed.append)
        return NotificationHandler(self.accounts, lookup=self.orders.get, on_paid=self.on_paid, store=store, **options)


def request(body: bytes, account: str = "main") -> paycore.NotificationRequest:
    return paycore.NotificationRequest(path=f"/notify/{account}", body=body)


@pytest.fixture
def shop():
    made = Shop()
    yield made
    made.gateway.close()


# The store contract, on every store


def test_store_contract(stores):
    store = stores()
    first = store.claim("O1:paid", 30)
    assert first.outcome is Claim.CLAIMED
    assert store.claim("O1:paid", 30).outcome is Claim.BUSY
    assert store.complete("O1:paid", first.token, '{"a": 1}') is True
    assert store.claim("O1:paid", 30).outcome is Claim.APPLIED
    assert store.applied("O1:paid") == '{"a": 1}'
    assert store.complete("O1:paid", first.token, '{"b": 2}') is False  # a second completion changes nothing
    assert store.applied("O1:paid") == '{"a": 1}'
    assert store.applied("O2:paid") is None
    # A released claim can be claimed again; a stale token releases nothing.
    second = store.claim("O2:paid", 30)
    store.release("O2:paid", "stale")
    assert store.claim("O2:paid", 30).outcome is Claim.BUSY
    store.release("O2:paid", second.token)
    assert store.claim("O2:paid", 30).outcome is Claim.CLAIMED


def test_an_expired_lease_is_taken_over(stores):
    store = stores()
    dead = store.claim("O3:paid", 0.2)  # its holder hangs
    time.sleep(0.4)
    taken = store.claim("O3:paid", 30)
    assert taken.outcome is Claim.CLAIMED
    assert store.complete("O3:paid", taken.token, '{"by": "taker"}') is True
    # The old holder's callback returns at last: told it lost the claim, the record stays the first.
    assert store.complete("O3:paid", dead.token, '{"by": "dead"}') is False
    assert store.applied("O3:paid") == '{"by": "taker"}'


def test_a_completion_after_the_lease_is_recorded_even_when_nobody_took_over(stores):
    store = stores()
    slow = store.claim("O4:paid", 0.2)
    time.sleep(0.4)
    # The lease ran out (Redis forgets it and answers False; the others still find the token): either way
    # the application is recorded.
    store.complete("O4:paid", slow.token, '{"late": true}')
    assert store.applied("O4:paid") == '{"late": true}'
    assert store.claim("O4:paid", 30).outcome is Claim.APPLIED


class _SteppedClock:
    """The time module as SQLiteStore sees it, with the wall clock stepped (NTP, an operator, a VM resume)."""

    def __init__(self, step: float) -> None:
        self.step = step

    def time(self) -> float:
        return time.time() + self.step

    def monotonic(self) -> float:
        return time.monotonic()  # a clock that cannot step


@pytest.mark.parametrize("step", [3600.0, -3600.0], ids=["forward", "backward"])
def test_a_sqlite_lease_survives_a_step_of_the_wall_clock(tmp_path, monkeypatch, step):
    import paycore.stores.sqlite as sqlite_store

    store = sqlite_store.SQLiteStore(tmp_path / "leases.sqlite3")
    try:
        first = store.claim("S1:paid", 30)
        assert first.outcome is Claim.CLAIMED
        # During the callback the wall clock jumps an hour: the claim must still hold, whichever way.
        monkeypatch.setattr(sqlite_store, "time", _SteppedClock(step))
        assert store.claim("S1:paid", 30).outcome is Claim.BUSY
        assert store.complete("S1:paid", first.token, '{"once": true}') is True
        assert store.claim("S1:paid", 30).outcome is Claim.APPLIED
    finally:
        store.close()


def test_a_sqlite_lease_left_by_a_machine_that_restarted_is_taken_over(tmp_path):
    # After a restart the monotonic clock starts again near zero: a lease written before it (by a process
    # that is gone) must not read as held for days. A lease never holds for longer than it was taken for.
    import sqlite3

    from paycore.stores.sqlite import SQLiteStore

    path = tmp_path / "restart.sqlite3"
    store = SQLiteStore(path)
    try:
        with sqlite3.connect(path) as connection:
            connection.execute(
                "INSERT INTO paycore_notifications (key, state, token, lease_until, lease_mono, lease_seconds, "
                "lease_token) VALUES ('R1:paid', 'claimed', 'gone', ?, ?, 30, 'gone')",
                (time.time() + 30, time.monotonic() + 10 * 86_400),
            )
        assert store.claim("R1:paid", 30).outcome is Claim.CLAIMED
    finally:
        store.close()


def _claim_as_before_monotonic_leases(path: Any, key: str, lease: float) -> str:
    """What paycore's SQLiteStore did before its leases moved to the monotonic clock."""
    import sqlite3

    with sqlite3.connect(path, isolation_level=None) as connection:
        connection.execute("BEGIN IMMEDIATE")
        now = time.time()
        row = connection.execute(
            "SELECT state, lease_until FROM paycore_notifications WHERE key = ?", (key,)
        ).fetchone()
        if row is not None and row[0] == "applied":
            outcome = "applied"
        elif row is not None and row[1] is not None and row[1] > now:
            outcome = "busy"
        else:
            connection.execute(
                "INSERT INTO paycore_notifications (key, state, token, lease_until) VALUES (?, 'claimed', ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET state = 'claimed', token = excluded.token, "
                "lease_until = excluded.lease_until",
                (key, "old-token", now + lease),
            )
            outcome = "claimed"
        connection.execute("COMMIT")
    connection.close()
    return outcome


def test_sqlite_leases_hold_between_old_and_new_workers_during_a_rolling_upgrade(tmp_path):
    from paycore.stores.sqlite import SQLiteStore

    path = tmp_path / "rolling.sqlite3"
    store = SQLiteStore(path)
    try:
        # A new worker claims: an old one, reading the wall clock, must see it held.
        assert store.claim("U1:paid", 30).outcome is Claim.CLAIMED
        assert _claim_as_before_monotonic_leases(path, "U1:paid", 30) == "busy"
        # An old worker claims (its upsert leaves the monotonic columns of an earlier claim): held for the new one.
        released = store.claim("U2:paid", 30)
        store.release("U2:paid", released.token)
        assert _claim_as_before_monotonic_leases(path, "U2:paid", 30) == "claimed"
        assert store.claim("U2:paid", 30).outcome is Claim.BUSY
        taken = store.claim("U3:paid", 0.2)
        time.sleep(0.3)  # the new claim ran out: the old worker takes it over, and holds it
        assert taken.outcome is Claim.CLAIMED
        assert _claim_as_before_monotonic_leases(path, "U3:paid", 30) == "claimed"
        assert store.claim("U3:paid", 30).outcome is Claim.BUSY
    finally:
        store.close()


def test_a_sqlite_file_from_before_monotonic_leases_keeps_its_wall_clock_leases(tmp_path):
    import sqlite3

    from paycore.stores.sqlite import SQLiteStore

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE paycore_notifications (key TEXT PRIMARY KEY, state TEXT NOT NULL, token TEXT, "
            "lease_until REAL, applied_at REAL, record TEXT)"
        )
        connection.execute(
            "INSERT INTO paycore_notifications VALUES ('H1:paid', 'claimed', 't', ?, NULL, NULL)", (time.time() + 60,)
        )
        connection.execute(
            "INSERT INTO paycore_notifications VALUES ('H2:paid', 'claimed', 't', ?, NULL, NULL)", (time.time() - 1,)
        )
    store = SQLiteStore(path)
    try:
        assert store.claim("H1:paid", 30).outcome is Claim.BUSY  # held a minute more on the wall clock
        assert store.claim("H2:paid", 30).outcome is Claim.CLAIMED  # ran out
    finally:
        store.close()


# The handler's decisions


def test_a_duplicate_is_acknowledged_and_applied_once(shop, stores):
    handler = shop.handler(stores())
    order_id = shop.order()
    body = shop.fake.pay(order_id)
    first, second = handler.process(request(body)), handler.process(request(body))
    assert (first.outcome, second.outcome) == (Outcome.APPLIED, Outcome.DUPLICATE)
    assert first.reply == second.reply == paycore.Reply(body="ok")
    assert [event.order_id for event in shop.paid] == [order_id]
    assert (shop.paid[0].amount, shop.paid[0].source, shop.paid[0].account) == (Decimal("9.90"), "notification", "main")


def test_a_failing_callback_is_not_acknowledged_and_applied_on_the_resend(shop, stores):
    order_id = shop.order()
    calls = []

    def flaky(event: paycore.AppliedPayment) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("database down")

    handler = NotificationHandler(shop.accounts, lookup=shop.orders.get, on_paid=flaky, store=stores())
    body = shop.fake.pay(order_id)
    failed = handler.process(request(body))
    assert failed.outcome is Outcome.CALLBACK_FAILED
    assert failed.reply.status >= 400
    assert "ok" not in failed.reply.body.lower()
    assert handler.process(request(body)).outcome is Outcome.APPLIED
    assert handler.process(request(body)).outcome is Outcome.DUPLICATE
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        (lambda shop, order_id: shop.orders.pop(order_id), Outcome.UNKNOWN_ORDER),
        (
            lambda shop, order_id: shop.orders.update(
                {order_id: OrderRecord(order_id, Decimal("99.00"), "CNY", "main")}
            ),
            Outcome.MISMATCH,
        ),
        (
            lambda shop, order_id: shop.orders.update(
                {order_id: OrderRecord(order_id, Decimal("9.90"), "CNY", "other")}
            ),
            Outcome.MISMATCH,
        ),
        (
            # The same number in another currency: never the same money.
            lambda shop, order_id: shop.orders.update(
                {order_id: OrderRecord(order_id, Decimal("9.90"), "USD", "main")}
            ),
            Outcome.MISMATCH,
        ),
    ],
    ids=["unknown order", "another amount", "another account", "another currency"],
)
def test_notifications_that_do_not_match_the_order_are_refused(shop, change, outcome, caplog):
    handler = shop.handler(paycore.stores.MemoryStore())
    order_id = shop.order()
    change(shop, order_id)
    with caplog.at_level(logging.WARNING, logger="paycore"):
        handled = handler.process(request(shop.fake.pay(order_id)))
    assert handled.outcome is outcome
    assert handled.reply.status >= 400
    assert "ok" not in handled.reply.body.lower()
    assert shop.paid == []
    assert SECRET not in caplog.text
    assert outcome.value in caplog.text


def test_unverified_notifications_are_never_trusted_unless_the_gateway_confirms(shop):
    order_id = shop.order()
    genuine = shop.fake.pay(order_id)
    forged = genuine.replace(b"status=paid", b"status=paid&x=1")
    plain = shop.handler(paycore.stores.MemoryStore())
    assert plain.process(request(forged)).outcome is Outcome.UNVERIFIED
    assert shop.paid == []
    asking = shop.handler(paycore.stores.MemoryStore(), query_unverified=True)
    handled = asking.process(request(forged))
    assert handled.outcome is Outcome.UNVERIFIED  # the notification itself is still refused
    assert [event.source for event in shop.paid] == ["query"]  # but the gateway's answer was applied
    assert asking.process(request(genuine)).outcome is Outcome.DUPLICATE


def test_failed_and_pending_payments(shop):
    handler = shop.handler(paycore.stores.MemoryStore())
    order_id = shop.order()
    body = shop.fake.fail(order_id)
    assert handler.process(request(body)).outcome is Outcome.APPLIED
    assert handler.process(request(body)).outcome is Outcome.DUPLICATE
    assert [event.status for event in shop.failed] == [paycore.PaymentStatus.FAILED]
    quiet = NotificationHandler(
        shop.accounts, lookup=shop.orders.get, on_paid=shop.on_paid, store=paycore.stores.MemoryStore()
    )
    assert quiet.process(request(body)).outcome is Outcome.NOTHING_TO_APPLY  # acknowledged, nothing to do


def test_a_payment_found_by_query_and_notified_later_is_applied_once(shop, stores):
    handler = shop.handler(stores())
    order_id = shop.order()
    body = shop.fake.pay(order_id)
    assert handler.apply_payment(shop.gateway.query(order_id)) is Outcome.APPLIED
    assert handler.process(request(body)).outcome is Outcome.DUPLICATE
    assert [event.source for event in shop.paid] == ["query"]


def test_a_paid_payment_that_does_not_state_its_currency_is_not_applied(shop):
    # A provider's query that leaves currency out has not said how much was paid.
    handler = shop.handler(paycore.stores.MemoryStore())
    order_id = shop.order()
    shop.fake.pay(order_id)
    queried = shop.gateway.query(order_id)
    assert queried.currency == "CNY"
    assert handler.apply_payment(queried.model_copy(update={"currency": None})) is Outcome.MISMATCH
    assert handler.apply_payment(queried.model_copy(update={"currency": "USD"})) is Outcome.MISMATCH
    assert shop.paid == []
    assert handler.apply_payment(queried) is Outcome.APPLIED


def test_reconcile_applies_lost_notifications_and_reports_unknown_orders(shop):
    handler = shop.handler(paycore.stores.MemoryStore())
    paid, pending, never_created = shop.order(), shop.order(), "NEVER-CREATED"
    shop.fake.pay(paid)  # the notification is lost
    shop.orders[never_created] = OrderRecord(never_created, Decimal("1.00"), account="main")
    results = {result.order_id: result for result in handler.reconcile([paid, pending, never_created, "NOT-OURS"])}
    assert (results[paid].status, results[paid].outcome) == (paycore.PaymentStatus.PAID, Outcome.APPLIED)
    assert (results[pending].status, results[pending].outcome) == (
        paycore.PaymentStatus.PENDING,
        Outcome.NOTHING_TO_APPLY,
    )
    assert results[never_created].error is not None
    assert "not found at the gateway" in results[never_created].error
    assert results["NOT-OURS"].outcome is Outcome.UNKNOWN_ORDER
    assert [event.order_id for event in shop.paid] == [paid]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_reconcile_asks_no_gateway_for_an_order_without_an_account_when_several_are_configured(kind):
    # As a notification for it would be refused (any account's key verifies one posted to its own path),
    # reconcile must not read the default account's answer about it as the truth.
    fakes = {name: FakeGateway(FakeSettings(secret_key=SECRET)) for name in ("main", "other")}
    orders = {"N1": OrderRecord("N1", Decimal("9.90"))}  # no account stored
    paid: list[Any] = []
    gateway_class = paycore.Gateway if kind == "sync" else paycore.AsyncGateway
    gateways = {
        name: gateway_class(FakeProvider, {"secret_key": SECRET}, account=name, transport=httpx.MockTransport(fake))
        for name, fake in fakes.items()
    }
    if kind == "sync":
        with paycore.Accounts(gateways, default="main") as accounts:
            handler = NotificationHandler(
                accounts, lookup=orders.get, on_paid=paid.append, store=paycore.stores.MemoryStore()
            )
            [result] = handler.reconcile(["N1"])
    else:

        async def run() -> Any:
            async with paycore.AsyncAccounts(gateways, default="main") as accounts:
                handler = AsyncNotificationHandler(
                    accounts, lookup=orders.get, on_paid=paid.append, store=paycore.stores.MemoryStore()
                )
                return (await handler.reconcile(["N1"]))[0]

        result = asyncio.run(run())
    assert result.outcome is Outcome.MISMATCH
    assert result.error is not None
    assert "payment.account" in result.error
    assert fakes["main"].requests == fakes["other"].requests == []
    assert paid == []


def test_an_underpayment_is_refused_unless_within_the_tolerance():
    # A notification whose paid amount is below the order's: built and signed by hand.
    fields = {
        "merchant_id": "fake-merchant",
        "order_id": "U1",
        "amount": "10.00",
        "currency": "CNY",
        "status": "paid",
    }

    class Underpaying(FakeProvider):
        provider_name = "underpaying"

        @paycore.hookimpl
        def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
            verified = FakeProvider.verify_notification(self, request)
            return verified.model_copy(update={"paid_amount": Decimal("9.97")})

    fields["sign"] = fake_sign(fields, SECRET)
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    with paycore.Gateway(Underpaying, {"secret_key": SECRET}, account="main") as gateway:
        accounts = paycore.Accounts({"main": gateway})
        orders = {"U1": OrderRecord("U1", Decimal("10.00"), account="main")}
        paid: list[Any] = []
        strict = NotificationHandler(
            accounts, lookup=orders.get, on_paid=paid.append, store=paycore.stores.MemoryStore()
        )
        assert strict.process(request(body)).outcome is Outcome.UNDERPAID
        lenient = NotificationHandler(
            accounts,
            lookup=orders.get,
            on_paid=paid.append,
            store=paycore.stores.MemoryStore(),
            underpayment_tolerance=Decimal("0.05"),
        )
        assert lenient.process(request(body)).outcome is Outcome.APPLIED
        assert paid[0].paid_amount == Decimal("9.97")


# Concurrency: 50 copies, 8 threads or 8 tasks, one application


def test_fifty_concurrent_deliveries_apply_once(shop, stores):
    handler = shop.handler(stores())
    order_id = shop.order()
    body = shop.fake.pay(order_id)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: handler.process(request(body)), range(50)))
    assert len(shop.paid) == 1
    assert {handled.outcome for handled in outcomes} <= {Outcome.APPLIED, Outcome.DUPLICATE, Outcome.BUSY}
    assert sum(handled.outcome is Outcome.APPLIED for handled in outcomes) == 1
    for handled in outcomes:
        if not handled.outcome.acknowledged:
            assert "ok" not in handled.reply.body.lower()  # a retryable failure


@pytest.fixture(params=["sync store", "async redis"])
def async_stores(request, stores):
    """Every store through the async handler, and the Redis store's native asyncio twin."""
    if request.param == "sync store":
        yield stores
        return
    from paycore.stores.redis import AsyncRedisStore

    url = request.getfixturevalue("redis_url")
    prefix = f"a{uuid.uuid4().hex[:12]}:"
    yield lambda: AsyncRedisStore(url=url, prefix=prefix)
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def _async_accounts(fake: FakeGateway) -> paycore.AsyncAccounts:
    """Account "main" on the fake, through an AsyncGateway."""
    gateway = paycore.AsyncGateway(
        FakeProvider, {"secret_key": SECRET}, account="main", transport=httpx.MockTransport(fake)
    )
    return paycore.AsyncAccounts({"main": gateway})


async def _created_order(accounts: paycore.AsyncAccounts) -> tuple[paycore.Order, dict[str, OrderRecord]]:
    """An order created on account "main", and the shop's records holding it."""
    order = paycore.Order(
        amount=Decimal("5.00"),
        channel=paycore.Channel.WECHAT_QR,
        subject="tea",
        notify_url="https://shop.example/notify/main",
        return_url="https://shop.example/done",
    )
    await accounts["main"].create(order)
    return order, {order.order_id: OrderRecord(order.order_id, order.amount, account="main")}


def test_fifty_concurrent_deliveries_apply_once_async(async_stores):
    stores = async_stores
    fake = FakeGateway(FakeSettings(secret_key=SECRET))

    async def run() -> tuple[list[Any], list[Any]]:
        async with _async_accounts(fake) as accounts:
            order, orders = await _created_order(accounts)
            paid: list[Any] = []

            async def on_paid(event: paycore.AppliedPayment) -> None:
                await asyncio.sleep(0.01)  # a slow fulfilment: the others must wait or retry, never repeat it
                paid.append(event)

            store = stores()
            handler = AsyncNotificationHandler(accounts, lookup=orders.get, on_paid=on_paid, store=store)
            body = fake.pay(order.order_id)
            semaphore = asyncio.Semaphore(8)

            async def deliver() -> Any:
                async with semaphore:
                    return await handler.process(request(body))

            outcomes = await asyncio.gather(*(deliver() for _ in range(50)))
            if hasattr(store, "aclose"):
                await store.aclose()  # on this loop, before asyncio.run closes it
            return paid, outcomes

    paid, outcomes = asyncio.run(run())
    assert len(paid) == 1
    assert sum(handled.outcome is Outcome.APPLIED for handled in outcomes) == 1


def test_a_burst_of_two_hundred_copies_on_the_async_redis_store_never_fails_the_store(caplog, redis_url):
    # No semaphore: a gateway resending into a busy shop, all at once. Each copy needs a connection.
    from paycore.stores.redis import AsyncRedisStore

    fake = FakeGateway(FakeSettings(secret_key=SECRET))
    prefix = f"burst{uuid.uuid4().hex[:12]}:"

    async def run() -> list[Any]:
        async with _async_accounts(fake) as accounts:
            order, orders = await _created_order(accounts)

            async def on_paid(event: paycore.AppliedPayment) -> None:
                await asyncio.sleep(0.05)

            store = AsyncRedisStore(url=redis_url, prefix=prefix)
            handler = AsyncNotificationHandler(accounts, lookup=orders.get, on_paid=on_paid, store=store)
            body = fake.pay(order.order_id)
            try:
                return await asyncio.gather(*(handler.process(request(body)) for _ in range(200)))
            finally:
                await store.aclose()

    try:
        with caplog.at_level(logging.WARNING, logger="paycore"):
            outcomes = [handled.outcome for handled in asyncio.run(run())]
    finally:
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
    assert Outcome.STORE_FAILED not in outcomes
    assert outcomes.count(Outcome.APPLIED) == 1
    assert set(outcomes) <= {Outcome.APPLIED, Outcome.BUSY, Outcome.DUPLICATE}
    assert "store failed" not in caplog.text


@pytest.mark.parametrize("options", [{"max_connections": 0}, {"max_connections": 2.5}, {"pool_timeout": float("nan")}])
def test_a_redis_store_refuses_a_pool_that_cannot_work(options):
    from paycore.stores.redis import AsyncRedisStore, RedisStore

    for store_class in (RedisStore, AsyncRedisStore):
        with pytest.raises(paycore.ConfigError):
            store_class(url="redis://127.0.0.1:1/0", **options)


# PostgreSQL: the merchant's update and the claim commit together


def test_postgres_transactional_mode_commits_or_rolls_back_both(shop, store_factory, postgres):
    import psycopg

    shared_stores = store_factory("postgres")
    store = shared_stores()
    assert isinstance(store, PostgresStore)
    merchant_table = f"{shared_stores.name}_fulfilled"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE TABLE {merchant_table} (order_id TEXT PRIMARY KEY)")
    attempts = []

    def fulfil(event: paycore.AppliedPayment, connection: Any) -> None:
        connection.execute(f"INSERT INTO {merchant_table} VALUES (%s)", (event.order_id,))  # noqa: S608
        attempts.append(event.order_id)
        if len(attempts) == 1:
            raise RuntimeError("crash after the merchant's update, before commit")

    handler = NotificationHandler(
        shop.accounts, lookup=shop.orders.get, on_paid=fulfil, store=store, transactional=True
    )
    order_id = shop.order()
    body = shop.fake.pay(order_id)
    try:
        assert handler.process(request(body)).outcome is Outcome.CALLBACK_FAILED
        with psycopg.connect(postgres, autocommit=True) as admin:
            assert admin.execute(f"SELECT count(*) FROM {merchant_table}").fetchone() == (0,)  # noqa: S608
        assert store.applied(f"{order_id}:paid") is None  # rolled back together
        assert handler.process(request(body)).outcome is Outcome.APPLIED
        assert handler.process(request(body)).outcome is Outcome.DUPLICATE
        with psycopg.connect(postgres, autocommit=True) as admin:
            assert admin.execute(f"SELECT count(*) FROM {merchant_table}").fetchone() == (1,)  # noqa: S608
        assert store.applied(f"{order_id}:paid") is not None
        # Concurrent copies wait on the row and find it applied: still once.
        other = shop.order()
        body = shop.fake.pay(other)
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(lambda _: handler.process(request(body)).outcome, range(20)))
        assert outcomes.count(Outcome.APPLIED) == 1
        assert set(outcomes) == {Outcome.APPLIED, Outcome.DUPLICATE}
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f"DROP TABLE IF EXISTS {merchant_table}")
        shared_stores.cleanup()


def test_handler_refuses_a_non_store_and_bad_options(shop):
    from paycore.stores.redis import AsyncRedisStore

    with pytest.raises(paycore.ConfigError):
        shop.handler(object())
    with pytest.raises(paycore.ConfigError, match="asynchronous"):
        shop.handler(AsyncRedisStore(url="redis://127.0.0.1:1/0"))
    with pytest.raises(paycore.ConfigError):
        shop.handler(paycore.stores.MemoryStore(), transactional=True)
    with pytest.raises(paycore.ConfigError):
        shop.handler(paycore.stores.MemoryStore(), underpayment_tolerance=0.05)
    # NaN raised decimal.InvalidOperation; an infinite tolerance took any underpayment as paid.
    for tolerance in ("NaN", "sNaN", "Infinity", "-0.01"):
        with pytest.raises(paycore.ConfigError, match="underpayment_tolerance"):
            shop.handler(paycore.stores.MemoryStore(), underpayment_tolerance=Decimal(tolerance))


def test_a_synchronous_handler_refuses_coroutine_callbacks(shop):
    # It would call them, get a coroutine it never awaits, and record the payment applied: fulfilment lost.
    async def fulfil(event: paycore.AppliedPayment) -> None:
        shop.paid.append(event)

    with pytest.raises(paycore.ConfigError, match=r"on_paid is a coroutine function.*AsyncNotificationHandler"):
        NotificationHandler(shop.accounts, lookup=shop.orders.get, on_paid=fulfil, store=paycore.stores.MemoryStore())
    with pytest.raises(paycore.ConfigError, match="on_failed is a coroutine function"):
        shop.handler(paycore.stores.MemoryStore(), on_failed=fulfil)


class _AsyncCallable:
    """A callable whose call returns a coroutine: no coroutine function to see at construction."""

    def __init__(self) -> None:
        self.awaited = 0

    async def _run(self, event: paycore.AppliedPayment) -> None:
        self.awaited += 1

    def __call__(self, event: paycore.AppliedPayment) -> Any:
        return self._run(event)


def test_a_callback_returning_an_awaitable_is_a_callback_failure_not_an_application(shop, caplog):
    fulfil = _AsyncCallable()
    store = paycore.stores.MemoryStore()
    handler = NotificationHandler(shop.accounts, lookup=shop.orders.get, on_paid=fulfil, store=store)
    order_id = shop.order()
    body = shop.fake.pay(order_id)
    with caplog.at_level(logging.WARNING, logger="paycore"):
        handled = handler.process(request(body))
    assert handled.outcome is Outcome.CALLBACK_FAILED  # not acknowledged: the resend tries again
    assert "ok" not in handled.reply.body.lower()
    assert store.applied(f"{order_id}:paid") is None  # never recorded as applied
    assert fulfil.awaited == 0
    assert "awaitable" in caplog.text
    # The coroutine was closed, not left to warn "never awaited" (warnings are errors in this suite).
    fixed = NotificationHandler(shop.accounts, lookup=shop.orders.get, on_paid=shop.on_paid, store=store)
    assert fixed.process(request(body)).outcome is Outcome.APPLIED


def test_transactional_mode_rolls_back_a_callback_that_returned_an_awaitable(shop, store_factory):
    factory = store_factory("postgres")
    store = factory()
    try:
        fulfil = _AsyncCallable()
        handler = NotificationHandler(
            shop.accounts,
            lookup=shop.orders.get,
            on_paid=lambda event, connection: fulfil(event),
            store=store,
            transactional=True,
        )
        order_id = shop.order()
        assert handler.process(request(shop.fake.pay(order_id))).outcome is Outcome.CALLBACK_FAILED
        assert store.applied(f"{order_id}:paid") is None
    finally:
        factory.cleanup()


@pytest.mark.parametrize(
    "lookup",
    [
        lambda order_id: (_ for _ in ()).throw(ConnectionError("db down")),
        lambda order_id: {"order_id": order_id, "amount": 9.9},  # a float: no usable record
        lambda order_id: "not a record",
    ],
    ids=["raises", "float amount", "a string"],
)
def test_a_failing_lookup_is_a_retryable_failure_never_an_exception(shop, lookup, caplog):
    order_id = shop.order()
    body = shop.fake.pay(order_id)
    handler = NotificationHandler(
        shop.accounts, lookup=lookup, on_paid=shop.on_paid, store=paycore.stores.MemoryStore()
    )
    handled = handler.process(request(body))
    assert handled.outcome is Outcome.LOOKUP_FAILED
    assert handled.reply.status >= 400
    assert "ok" not in handled.reply.body.lower()
    assert handler.apply_payment(shop.gateway.query(order_id)) is Outcome.LOOKUP_FAILED
    [reconciled] = handler.reconcile([order_id])
    assert reconciled.outcome is Outcome.LOOKUP_FAILED
    assert shop.paid == []
    assert "db down" not in caplog.text  # the merchant's exception text may hold anything: its type is logged


def test_the_default_store_is_a_sqlite_file_in_the_working_directory(shop, tmp_path, monkeypatch):
    from paycore.stores.sqlite import SQLiteStore

    monkeypatch.chdir(tmp_path)
    handler = NotificationHandler(shop.accounts, lookup=shop.orders.get, on_paid=shop.on_paid)
    assert isinstance(handler.store, SQLiteStore)
    order_id = shop.order()
    assert handler.process(request(shop.fake.pay(order_id))).outcome is Outcome.APPLIED
    assert (tmp_path / "paycore-notifications.sqlite3").exists()
    handler.store.close()


def test_postgres_transactional_mode_loses_the_merchants_update_with_the_claim(shop, store_factory, postgres):
    """The claim's transaction dies before it commits (its connection is cut): the merchant's update goes too."""
    import psycopg

    factory = store_factory("postgres")
    store = factory()
    merchant_table = f"{factory.name}_fulfilled"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE TABLE {merchant_table} (order_id TEXT PRIMARY KEY)")
    cuts = []

    def fulfil(event: paycore.AppliedPayment, connection: Any) -> None:
        connection.execute(f"INSERT INTO {merchant_table} VALUES (%s)", (event.order_id,))  # noqa: S608
        if not cuts:
            cuts.append(event.order_id)
            with psycopg.connect(postgres, autocommit=True) as admin:  # the database drops the claim's session
                admin.execute("SELECT pg_terminate_backend(%s)", (connection.info.backend_pid,))

    handler = NotificationHandler(
        shop.accounts, lookup=shop.orders.get, on_paid=fulfil, store=store, transactional=True
    )
    order_id = shop.order()
    body = shop.fake.pay(order_id)
    try:
        assert handler.process(request(body)).outcome is Outcome.CALLBACK_FAILED
        with psycopg.connect(postgres, autocommit=True) as admin:
            assert admin.execute(f"SELECT count(*) FROM {merchant_table}").fetchone() == (0,)  # noqa: S608
        assert store.applied(f"{order_id}:paid") is None
        assert handler.process(request(body)).outcome is Outcome.APPLIED  # a new connection, the resend applies it
        with psycopg.connect(postgres, autocommit=True) as admin:
            assert admin.execute(f"SELECT count(*) FROM {merchant_table}").fetchone() == (1,)  # noqa: S608
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f"DROP TABLE IF EXISTS {merchant_table}")
        factory.cleanup()


class _CompleteFails(paycore.stores.MemoryStore):
    def complete(self, key: str, token: str, record: str) -> bool:
        raise OSError("disk full")


def test_a_store_that_is_down_is_a_retryable_failure_and_a_lost_record_is_logged(shop, caplog):
    from paycore.stores.redis import RedisStore

    order_id = shop.order()
    body = shop.fake.pay(order_id)
    down = shop.handler(RedisStore(url="redis://127.0.0.1:1/0"))  # nothing listens on port 1
    handled = down.process(request(body))
    assert handled.outcome is Outcome.STORE_FAILED
    assert handled.reply.status >= 400
    assert "ok" not in handled.reply.body.lower()
    assert shop.paid == []
    with caplog.at_level(logging.ERROR, logger="paycore.handler"):
        recorded = shop.handler(_CompleteFails()).process(request(body))
    assert recorded.outcome is Outcome.APPLIED  # applied: acknowledged, and the lost record said loudly
    assert "failed to record it" in caplog.text
    assert len(shop.paid) == 1


def test_a_failure_notified_after_the_payment_never_reaches_on_failed(shop, stores):
    handler = shop.handler(stores())
    order_id = shop.order()
    failed_body = shop.fake.fail(order_id)  # an earlier attempt failed ...
    paid_body = shop.fake.pay(order_id)  # ... then the buyer paid
    assert handler.process(request(paid_body)).outcome is Outcome.APPLIED
    late = handler.process(request(failed_body))  # the failure arrives late, or is replayed
    assert late.outcome is Outcome.NOTHING_TO_APPLY
    assert late.reply == paycore.Reply(body="ok")  # acknowledged: nothing more will come of it
    assert shop.failed == []
    assert len(shop.paid) == 1


def test_a_callback_that_outlasts_its_lease_is_still_recorded(shop, stores):
    """The callback returned: the payment is applied, whatever became of the lease. Every resend is a duplicate."""
    store = stores()
    order_id = shop.order()
    body = shop.fake.pay(order_id)

    def slow(event: paycore.AppliedPayment) -> None:
        time.sleep(1.3)
        shop.paid.append(event)

    handler = NotificationHandler(shop.accounts, lookup=shop.orders.get, on_paid=slow, store=store, lease=1.0)
    assert handler.process(request(body)).outcome is Outcome.APPLIED
    assert handler.process(request(body)).outcome is Outcome.DUPLICATE
    assert store.applied(f"{order_id}:paid") is not None
    assert len(shop.paid) == 1


def test_the_lease_must_be_a_sensible_number_of_seconds(shop):
    for lease in (0, -1, float("nan"), float("inf"), 0.5, True, "60"):
        with pytest.raises(paycore.ConfigError, match="lease"):
            shop.handler(paycore.stores.MemoryStore(), lease=lease)


def test_a_failure_arriving_while_the_payment_is_applied_waits_and_never_overtakes_it(shop, stores):
    order_id = shop.order()
    failed_body = shop.fake.fail(order_id)
    paid_body = shop.fake.pay(order_id)
    started, release = threading.Event(), threading.Event()

    def slow_paid(event: paycore.AppliedPayment) -> None:
        started.set()
        release.wait(10)
        shop.paid.append(event)

    handler = NotificationHandler(
        shop.accounts, lookup=shop.orders.get, on_paid=slow_paid, on_failed=shop.failed.append, store=stores()
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        paying = pool.submit(handler.process, request(paid_body))
        assert started.wait(10)
        assert handler.process(request(failed_body)).outcome is Outcome.BUSY  # retried by the gateway later
        release.set()
        assert paying.result(timeout=10).outcome is Outcome.APPLIED
    assert handler.process(request(failed_body)).outcome is Outcome.NOTHING_TO_APPLY
    assert shop.failed == []
    assert len(shop.paid) == 1


def test_postgres_closes_the_connections_of_threads_that_ended(store_factory, postgres):
    import psycopg

    factory = store_factory("postgres")
    store = factory()

    def count() -> int:
        with psycopg.connect(postgres, autocommit=True) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'test' AND pid <> pg_backend_pid()"
            ).fetchone()
            return int(row[0]) if row else 0

    try:
        before = count()
        for index in range(20):  # a thread per request, each ending after its claim
            worker = threading.Thread(target=store.claim, args=(f"T{index}:paid", 30))
            worker.start()
            worker.join()
        assert count() - before <= 2  # the last thread's connection, at most one more
    finally:
        factory.cleanup()


def test_unsigned_notifications_cannot_make_the_handler_query_at_will(shop):
    order_id = shop.order()
    handler = shop.handler(paycore.stores.MemoryStore(), query_unverified=True)
    unsigned = f"merchant_id=fake-merchant&order_id={order_id}&amount=9.90&status=paid&sign=x".encode()
    queries_before = len(shop.fake.requests)
    for _ in range(50):
        assert handler.process(request(unsigned)).outcome is Outcome.UNVERIFIED
    assert len(shop.fake.requests) - queries_before == 1  # one query per order per QUERY_INTERVAL


UVICORN_SHOP = """
import logging.config
import sys
from decimal import Decimal

import uvicorn.config

logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # what `uvicorn app:app` sets up, and nothing more

import paycore
from paycore.handler import NotificationHandler, OrderRecord
from paycore.stores import MemoryStore
from paycore.testing import FakeProvider

with paycore.Gateway(FakeProvider, {"secret_key": "a-secret-0123456789"}, account="main") as gateway:
    accounts = paycore.Accounts({"main": gateway})
    orders = {"F1": OrderRecord("F1", Decimal("9.90"), account="main")}
    handler = NotificationHandler(accounts, lookup=orders.get, on_paid=print, store=MemoryStore())
    forged = b"merchant_id=fake-merchant&order_id=F1&amount=9.90&currency=CNY&status=paid&sign=00"
    print(handler.process(paycore.NotificationRequest(path="/notify/main", body=forged)).outcome.value)
"""


def test_a_refused_notification_leaves_a_trace_under_uvicorns_default_logging(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "shop.py"
    script.write_text(UVICORN_SHOP)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert result.stdout.strip() == "unverified", result.stderr
    assert "notification unverified" in result.stderr


def test_on_refused_hears_of_every_notification_not_acknowledged(shop):
    refused: list[Handled] = []
    handler = shop.handler(paycore.stores.MemoryStore(), on_refused=refused.append)
    order_id = shop.order()
    genuine = shop.fake.pay(order_id)
    assert handler.process(request(genuine.replace(b"status=paid", b"status=paid&x=1"))).outcome is Outcome.UNVERIFIED
    shop.orders[order_id] = OrderRecord(order_id, Decimal("99.00"), "CNY", "main")
    assert handler.process(request(genuine)).outcome is Outcome.MISMATCH
    shop.orders[order_id] = OrderRecord(order_id, Decimal("9.90"), "CNY", "main")
    assert handler.process(request(genuine)).outcome is Outcome.APPLIED  # acknowledged: not reported
    assert handler.process(request(genuine)).outcome is Outcome.DUPLICATE
    assert [handled.outcome for handled in refused] == [Outcome.UNVERIFIED, Outcome.MISMATCH]
    assert refused[0].notification is None
    assert refused[0].reason is not None
    assert "signature" in refused[0].reason
    assert refused[1].notification is not None
    assert refused[1].notification.order_id == order_id
    assert refused[1].reason == "another account, amount or currency than the order's"
    assert SECRET not in repr(refused)


def test_an_on_refused_that_raises_changes_no_reply(shop, caplog):
    def alert(handled: Handled) -> None:
        raise RuntimeError("pager down: customer 42")

    handler = shop.handler(paycore.stores.MemoryStore(), on_refused=alert)
    with caplog.at_level(logging.ERROR, logger="paycore"):
        handled = handler.process(request(b"order_id=X&sign=00"))
    assert handled.outcome is Outcome.UNVERIFIED
    assert handled.reply.status >= 400
    assert "on_refused raised RuntimeError" in caplog.text
    assert "customer 42" not in caplog.text

    async def coroutine_alert(handled: Handled) -> None: ...

    with pytest.raises(paycore.ConfigError, match="on_refused is a coroutine function"):
        shop.handler(paycore.stores.MemoryStore(), on_refused=coroutine_alert)


def test_the_async_handler_awaits_an_async_on_refused():
    fake = FakeGateway(FakeSettings(secret_key=SECRET))
    heard: list[paycore.Outcome] = []

    async def alert(handled: Handled) -> None:
        await asyncio.sleep(0)
        heard.append(handled.outcome)

    async def run() -> Handled:
        gateway = paycore.AsyncGateway(
            FakeProvider, {"secret_key": SECRET}, account="main", transport=httpx.MockTransport(fake)
        )
        async with paycore.AsyncAccounts({"main": gateway}) as accounts:
            handler = AsyncNotificationHandler(
                accounts, lookup={}.get, on_paid=print, on_refused=alert, store=paycore.stores.MemoryStore()
            )
            return await handler.process(request(b"order_id=X&sign=00"))

    assert asyncio.run(run()).outcome is Outcome.UNVERIFIED
    assert heard == [Outcome.UNVERIFIED]


@pytest.mark.parametrize("stored", ["CNY", "cny", " CNY ", "RMB", "rmb", None])
def test_a_shops_spelling_of_the_yuan_is_read_as_cny(shop, stored):
    # Compared with every notification's currency now: "cny" or "RMB" in a shop's database must not
    # refuse every genuine payment.
    handler = shop.handler(paycore.stores.MemoryStore())
    order_id = shop.order()
    shop.orders[order_id] = {"order_id": order_id, "amount": Decimal("9.90"), "currency": stored, "account": "main"}
    assert handler.process(request(shop.fake.pay(order_id))).outcome is Outcome.APPLIED


@pytest.mark.parametrize("stored", ["US$", "yuan", "", "CN"])
def test_a_stored_currency_that_is_no_iso_code_is_a_lookup_failure_saying_what_to_store(shop, stored, caplog):
    handler = shop.handler(paycore.stores.MemoryStore())
    order_id = shop.order()
    shop.orders[order_id] = {"order_id": order_id, "amount": Decimal("9.90"), "currency": stored, "account": "main"}
    with caplog.at_level(logging.ERROR, logger="paycore"):
        assert handler.process(request(shop.fake.pay(order_id))).outcome is Outcome.LOOKUP_FAILED
    assert "is not an ISO 4217 code: store e.g. 'CNY'" in caplog.text
    assert shop.paid == []
    with pytest.raises(paycore.InvalidRequest, match="ISO 4217"):
        OrderRecord(order_id, Decimal("9.90"), stored)


@pytest.mark.parametrize("status", ["pending", "closed", "unknown"])
def test_a_queried_payment_that_applies_nothing_needs_no_currency(shop, status):
    # A conforming provider states the currency of paid and failed payments: reconcile must not call
    # every pending order of it a mismatch.
    handler = shop.handler(paycore.stores.MemoryStore())
    order_id = shop.order()
    pending = shop.gateway.query(order_id).model_copy(update={"currency": None, "status": status})
    assert handler.apply_payment(pending) is Outcome.NOTHING_TO_APPLY


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:1/0", "Redis URL"),
        ("redis://:pw-0123456789@127.0.0.1:abc/0", "Redis URL"),
        ("redis://:pw-0123456789@127.0.0.1:1/0?socket_timeout=abc", "Redis URL"),
        ("redis://:pw-0123456789@127.0.0.1:1/0?max_connections=100000", "max_connections="),
    ],
)
def test_a_redis_url_that_cannot_work_is_a_config_error_without_the_password(url, message):
    from paycore.stores.redis import AsyncRedisStore, RedisStore

    for store_class in (RedisStore, AsyncRedisStore):
        with pytest.raises(paycore.ConfigError, match=message) as caught:
            store_class(url=url)
        assert caught.value.__context__ is None
        assert "pw-0123456789" not in str(caught.value)
