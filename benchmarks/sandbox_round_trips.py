"""Create + query round trips against the juhe sandbox over loopback HTTP, vs a hand-written httpx client.

    python benchmarks/sandbox_round_trips.py [--sync 400] [--async 600] [--concurrency 100]

The sandbox runs in its own process (``paycore sandbox``), so that client and
server do not share an interpreter. Each round trip is a signed create
(``type=json``) and a signed query, both answers read and checked. The baseline
is the same requests written by hand with httpx and hashlib. Runs alternate
baseline and paycore, three times each; the best of each is reported.

- sequential, through `paycore.Gateway` vs a bare ``httpx.Client``: wall time
  (target 1.10x) and the client's CPU time (``time.process_time``; target 1.25x);
- ``--concurrency`` round trips at once through `paycore.AsyncGateway`'s own client
  vs ``httpx.AsyncClient()`` with its default limits: throughput and the 99th
  percentile of one round trip (no target: what paycore's pool does under load).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

import paycore
from paycore.sandbox import PUBLIC_SANDBOX_KEY

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import record  # the benchmarks folder is not a package

MERCHANT = "10002"
KEY = PUBLIC_SANDBOX_KEY
NOTIFY = "http://127.0.0.1:9/notify"  # never called: nothing is paid
RETURN = "http://127.0.0.1:9/return"
ZONE = ZoneInfo("Asia/Shanghai")


def _sign(fields: dict[str, str]) -> str:
    text = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if fields[k] not in ("", "0"))
    return hashlib.md5(f"{text}&key={KEY}".encode()).hexdigest().upper()  # noqa: S324  # the protocol's MAC


def _create_form(order_id: str) -> dict[str, str]:
    signed = {
        "pay_memberid": MERCHANT,
        "pay_orderid": order_id,
        "pay_applydate": datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S"),
        "pay_bankcode": "903",
        "pay_notifyurl": NOTIFY,
        "pay_callbackurl": RETURN,
        "pay_amount": "9.90",
    }
    return {**signed, "pay_md5sign": _sign(signed), "pay_productname": "tea", "type": "json"}


def _query_form(order_id: str) -> dict[str, str]:
    signed = {"pay_memberid": MERCHANT, "pay_orderid": order_id}
    return {**signed, "pay_md5sign": _sign(signed)}


def _check(create: httpx.Response, query: httpx.Response, order_id: str) -> None:
    created = create.json()
    if created.get("status") != "1" or not created.get("payUrl"):
        raise RuntimeError(f"create failed: {created}")
    answer = json.loads(query.content)
    if answer.get("orderid") != order_id or answer.get("sign") != _sign(
        {k: v for k, v in answer.items() if k != "sign"}
    ):
        raise RuntimeError(f"query failed: {answer}")


def _order() -> paycore.Order:
    return paycore.Order(
        amount=Decimal("9.90"), channel="alipay_qr", subject="tea", notify_url=NOTIFY, return_url=RETURN
    )


def sync_baseline(base: str, count: int) -> tuple[float, float]:
    """Wall and client CPU seconds for ``count`` round trips written by hand."""
    with httpx.Client(base_url=base) as client:
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            order_id = paycore.new_order_id()
            create = client.post("/Pay_Index.html", data=_create_form(order_id))
            query = client.post("/Pay_Trade_query.html", data=_query_form(order_id))
            _check(create, query, order_id)
        return time.perf_counter() - started, time.process_time() - cpu


def sync_paycore(base: str, count: int) -> tuple[float, float]:
    """Wall and client CPU seconds for ``count`` round trips through `paycore.Gateway`."""
    with paycore.Gateway("juhe", {"base_url": base, "merchant_id": MERCHANT, "secret_key": KEY}) as gateway:
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            order = _order()
            gateway.create(order)
            if gateway.query(order.order_id).status is not paycore.PaymentStatus.PENDING:
                raise RuntimeError("query failed")
        return time.perf_counter() - started, time.process_time() - cpu


async def _concurrently(count: int, concurrency: int, one: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """Round trips per second, and the 99th percentile of one round trip's seconds."""
    remaining = count
    latencies: list[float] = []

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            began = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = count / (time.perf_counter() - started)
    return rate, statistics.quantiles(latencies, n=100)[98]


async def async_baseline(base: str, count: int, concurrency: int) -> tuple[float, float]:
    # httpx's default limits, as a merchant writing it by hand would leave them.
    async with httpx.AsyncClient(base_url=base) as client:

        async def one() -> None:
            order_id = paycore.new_order_id()
            create = await client.post("/Pay_Index.html", data=_create_form(order_id))
            query = await client.post("/Pay_Trade_query.html", data=_query_form(order_id))
            _check(create, query, order_id)

        return await _concurrently(count, concurrency, one)


async def async_paycore(base: str, count: int, concurrency: int) -> tuple[float, float]:
    # The client AsyncGateway makes for itself: what a merchant gets without configuring one.
    settings = {"base_url": base, "merchant_id": MERCHANT, "secret_key": KEY}
    async with paycore.AsyncGateway("juhe", settings) as gateway:

        async def one() -> None:
            order = _order()
            await gateway.create(order)
            if (await gateway.query(order.order_id)).status is not paycore.PaymentStatus.PENDING:
                raise RuntimeError("query failed")

        return await _concurrently(count, concurrency, one)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sync", type=int, default=400, help="round trips per sync run")
    parser.add_argument("--async", dest="async_count", type=int, default=600, help="round trips per async run")
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    port = _free_port()
    cli = os.path.join(os.path.dirname(sys.executable), "paycore")
    server = subprocess.Popen([cli, "sandbox", "--provider", "juhe", "--port", str(port)], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/admin/faults")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        sync_base, sync_pay, async_base, async_pay = [], [], [], []
        sync_baseline(base, 50)  # warm both sides: imports, the sandbox's first requests
        sync_paycore(base, 50)
        for _ in range(3):
            sync_base.append(sync_baseline(base, args.sync))
            sync_pay.append(sync_paycore(base, args.sync))
            async_base.append(asyncio.run(async_baseline(base, args.async_count, args.concurrency)))
            async_pay.append(asyncio.run(async_paycore(base, args.async_count, args.concurrency)))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    wall = min(wall for wall, _ in sync_pay) / min(wall for wall, _ in sync_base)
    cpu = min(cpu for _, cpu in sync_pay) / min(cpu for _, cpu in sync_base)
    each = 1e3 / args.sync
    print(f"{args.sync} create + query round trips through Gateway vs a bare httpx.Client (best of 3)")
    print(
        f"  wall per round trip   hand-written {min(w for w, _ in sync_base) * each:6.3f} ms   "
        f"paycore {min(w for w, _ in sync_pay) * each:6.3f} ms   {wall:5.2f}x (target 1.10x)"
    )
    print(
        f"  client CPU per trip   hand-written {min(c for _, c in sync_base) * each:6.3f} ms   "
        f"paycore {min(c for _, c in sync_pay) * each:6.3f} ms   {cpu:5.2f}x (target 1.25x)"
    )
    record("round trips through Gateway: wall", wall, 1.10, "a bare httpx.Client")
    record("round trips through Gateway: client CPU", cpu, 1.25, "a bare httpx.Client")
    base_rate, base_p99 = max(async_base)[0], min(p99 for _, p99 in async_base)
    pay_rate, pay_p99 = max(async_pay)[0], min(p99 for _, p99 in async_pay)
    print(f"{args.concurrency} concurrent round trips, AsyncGateway's own client vs httpx.AsyncClient() (defaults)")
    print(f"  throughput  hand-written {base_rate:7.0f}/s   paycore {pay_rate:7.0f}/s   {base_rate / pay_rate:5.2f}x")
    print(
        f"  p99         hand-written {base_p99 * 1e3:7.1f} ms  paycore {pay_p99 * 1e3:7.1f} ms  "
        f"{pay_p99 / base_p99:5.2f}x"
    )
    record(
        f"{args.concurrency} concurrent round trips (AsyncGateway): time",
        base_rate / pay_rate,
        None,
        "httpx.AsyncClient()",
    )
    record(
        f"{args.concurrency} concurrent round trips (AsyncGateway): p99",
        pay_p99 / base_p99,
        None,
        "httpx.AsyncClient()",
    )


if __name__ == "__main__":
    main()
