"""Notifications applied per second through paycore.web.asgi_app, against verifying alone.

    python benchmarks/notification_handler.py

Each notification is a different paid juhe order, so every one is claimed, applied
(an in-memory callback) and recorded. The baseline is ``Gateway.verify_notification``
alone, measured in the same run. Stores: SQLite (a file, WAL, synchronous=FULL:
durable), and a Redis and a PostgreSQL of the benchmark's own, started as the tests
start theirs (``tests/servers.py``: free loopback ports, temporary folders; skipped,
with a line saying so, when a binary is missing: this is a measurement, not a test).
Targets on a 2-core machine: SQLite at least 1,000 per second; the Redis path
at most 3x verify alone.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from paycore_juhe import sign

import paycore
from paycore import web
from paycore.handler import AsyncNotificationHandler, NotificationHandler, OrderRecord
from paycore.stores import MemoryStore, NotificationStore
from paycore.stores.sqlite import SQLiteStore
from paycore.testing import LoopbackServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.servers import LocalServers  # the tests' own servers: the benchmark touches no other

KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
MERCHANT = "10002"
SETTINGS = {"base_url": "https://pay.example.com", "merchant_id": MERCHANT, "secret_key": KEY}
COUNT = 2000


def notification(order_id: str) -> bytes:
    fields = {
        "memberid": MERCHANT,
        "orderid": order_id,
        "transaction_id": "T" + order_id,
        "amount": "30.0000",
        "datetime": "20261128101010",
        "returncode": "00",
    }
    body = "&".join(f"{name}={value}" for name, value in fields.items())
    return f"{body}&sign={sign(fields, KEY)}".encode()


def orders(prefix: str, count: int) -> tuple[dict[str, OrderRecord], list[bytes]]:
    ids = [f"{prefix}{index:06d}" for index in range(count)]
    return {i: OrderRecord(i, Decimal("30.00"), account="main") for i in ids}, [notification(i) for i in ids]


def in_process(app: Any, bodies: list[bytes]) -> float:
    """Seconds per notification, calling the ASGI app directly (no sockets)."""

    async def run() -> None:
        for body in bodies:
            sent: list[Any] = []
            delivered = False

            async def receive(body: bytes = body) -> dict[str, Any]:
                nonlocal delivered
                if delivered:
                    return {"type": "http.disconnect"}
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: Any, sent: list[Any] = sent) -> None:
                sent.append(message)

            scope = {"type": "http", "method": "POST", "path": "/notify/main", "query_string": b"", "headers": []}
            await app(scope, receive, send)
            assert sent[0]["status"] == 200, sent

    started = time.perf_counter()
    asyncio.run(run())
    return (time.perf_counter() - started) / len(bodies)


def over_http(app: Any, bodies: list[bytes]) -> float:
    """Seconds per notification, POSTed over a loopback socket one after another."""
    with LoopbackServer.asgi(app) as server, httpx.Client() as client:
        started = time.perf_counter()
        for body in bodies:
            assert client.post(f"{server.url}/notify/main", content=body).text == "OK"
        return (time.perf_counter() - started) / len(bodies)


def measure(name: str, make_store: Callable[[], NotificationStore], gateway: paycore.Gateway) -> dict[str, float]:
    applied: list[Any] = []
    store = make_store()
    results = {}
    for how, run in (("in process", in_process), ("over HTTP", over_http)):
        records, bodies = orders(f"{name[:2]}{how[:2]}{uuid.uuid4().hex[:6]}", COUNT if how == "in process" else 500)
        handler = NotificationHandler(
            paycore.Accounts({"main": gateway}), lookup=records.get, on_paid=applied.append, store=store
        )
        results[f"{name}, {how}"] = run(web.asgi_app(handler), bodies)
    close = getattr(store, "close", None)
    if close is not None:
        close()
    return results


def measure_async(name: str, make_store: Callable[[], Any]) -> float:
    """Seconds per notification through the async handler (its store awaited, or called, on the loop), in process."""
    applied: list[Any] = []
    records, bodies = orders(f"A{name[:2]}{uuid.uuid4().hex[:6]}", COUNT)
    accounts = paycore.AsyncAccounts({"main": paycore.AsyncGateway("juhe", SETTINGS, account="main")})
    store = make_store()
    handler = AsyncNotificationHandler(accounts, lookup=records.get, on_paid=applied.append, store=store)
    seconds = in_process(web.asgi_app(handler), bodies)
    assert len(applied) == len(bodies)
    return seconds


def verify_only_app(gateway: paycore.Gateway) -> Any:
    """The hand-written baseline: an ASGI app that verifies and acknowledges, nothing more."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = await web.from_asgi(scope, receive)
        await web.send_asgi(gateway.verify_notification(request).ack, send)

    return app


def main() -> None:
    gateway = paycore.Gateway("juhe", SETTINGS, account="main")
    _, bodies = orders("V", COUNT)
    started = time.perf_counter()
    for body in bodies:
        gateway.verify_notification(body)
    verify = (time.perf_counter() - started) / len(bodies)
    baseline = {
        "in process": in_process(verify_only_app(gateway), bodies),
        "over HTTP": over_http(verify_only_app(gateway), bodies[:500]),
    }

    stores: dict[str, Callable[[], NotificationStore]] = {"memory": MemoryStore}
    folder = Path(tempfile.mkdtemp(prefix="paycore-bench-"))
    stores["SQLite"] = lambda: SQLiteStore(folder / "store.sqlite3")
    servers = LocalServers()
    redis_url = ""
    try:
        from paycore.stores.redis import RedisStore

        redis_url = servers.redis_url()
        stores["Redis"] = lambda: RedisStore(url=redis_url, prefix=f"bench-{uuid.uuid4().hex}:")
    except Exception as exc:  # noqa: BLE001  # a measurement: report the missing server and go on
        print(f"(Redis not measured: {type(exc).__name__}: {exc})")
    try:
        from paycore.stores.postgres import PostgresStore

        conninfo = servers.postgres()
        stores["PostgreSQL"] = lambda: PostgresStore(conninfo, table=f"bench_{uuid.uuid4().hex[:12]}")
    except Exception as exc:  # noqa: BLE001  # a measurement: report the missing server and go on
        print(f"(PostgreSQL not measured: {type(exc).__name__}: {exc})")
    try:
        _measure_all(gateway, baseline, verify, stores, redis_url)
    finally:
        servers.stop()
        gateway.close()


def _measure_all(
    gateway: paycore.Gateway,
    baseline: dict[str, float],
    verify: float,
    stores: dict[str, Callable[[], NotificationStore]],
    redis_url: str,
) -> None:

    print(f"verify_notification alone: {verify * 1e6:.1f} us")
    print("notifications through paycore.web.asgi_app, against an ASGI app that only verifies (same transport)")
    for how, seconds in baseline.items():
        print(f"  {'verify only, ' + how:<28} {seconds * 1e6:9.1f} us  {1 / seconds:8.0f}/s   baseline")
    for name, make in stores.items():
        for label, seconds in measure(name, make, gateway).items():
            ratio = seconds / baseline[label.split(", ")[1]]
            print(f"  {label:<28} {seconds * 1e6:9.1f} us  {1 / seconds:8.0f}/s  {ratio:6.2f}x")
    asynchronous: dict[str, Callable[[], Any]] = {"memory": MemoryStore}
    if "Redis" in stores:
        from paycore.stores.redis import AsyncRedisStore

        asynchronous["Redis (asyncio)"] = lambda: AsyncRedisStore(url=redis_url, prefix=f"bench-{uuid.uuid4().hex}:")
    print("the same through AsyncNotificationHandler (no worker thread), in process")
    for name, make in asynchronous.items():
        seconds = measure_async(name, make)
        ratio = seconds / baseline["in process"]
        print(f"  {name + ', in process':<28} {seconds * 1e6:9.1f} us  {1 / seconds:8.0f}/s  {ratio:6.2f}x")


if __name__ == "__main__":
    main()
