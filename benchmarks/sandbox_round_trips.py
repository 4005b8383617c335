"""Create + query round trips per second against the juhe sandbox, vs a hand-written httpx client.

    python benchmarks/sandbox_round_trips.py [--sync 400] [--async 1000] [--concurrency 100]

The sandbox runs in its own process (``paycore sandbox``), so that client and
server do not share an interpreter. Each round trip is a signed create
(``type=json``) and a signed query, both answers read and checked. The baseline
is the same requests written by hand with httpx and hashlib. Runs alternate
baseline and paycore, three times each; the best of each is reported.
Target: paycore's overhead at most 15%.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx

import paycore
from paycore.sandbox import PUBLIC_SANDBOX_KEY

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


def sync_baseline(base: str, count: int) -> float:
    with httpx.Client(base_url=base) as client:
        started = time.perf_counter()
        for _ in range(count):
            order_id = paycore.new_order_id()
            create = client.post("/Pay_Index.html", data=_create_form(order_id))
            query = client.post("/Pay_Trade_query.html", data=_query_form(order_id))
            _check(create, query, order_id)
        return count / (time.perf_counter() - started)


def sync_paycore(base: str, count: int) -> float:
    with paycore.Gateway("juhe", {"base_url": base, "merchant_id": MERCHANT, "secret_key": KEY}) as gateway:
        started = time.perf_counter()
        for _ in range(count):
            order = _order()
            gateway.create(order)
            if gateway.query(order.order_id).status is not paycore.PaymentStatus.PENDING:
                raise RuntimeError("query failed")
        return count / (time.perf_counter() - started)


async def _concurrently(count: int, concurrency: int, one: Callable[[], Awaitable[None]]) -> float:
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def async_baseline(base: str, count: int, concurrency: int) -> float:
    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def one() -> None:
            order_id = paycore.new_order_id()
            create = await client.post("/Pay_Index.html", data=_create_form(order_id))
            query = await client.post("/Pay_Trade_query.html", data=_query_form(order_id))
            _check(create, query, order_id)

        return await _concurrently(count, concurrency, one)


async def async_paycore(base: str, count: int, concurrency: int) -> float:
    settings = {"base_url": base, "merchant_id": MERCHANT, "secret_key": KEY}
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=paycore.DEFAULT_TIMEOUT)
    async with client, paycore.AsyncGateway("juhe", settings, client=client) as gateway:

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
    parser.add_argument("--async", dest="async_count", type=int, default=1000, help="round trips per async run")
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
        for _ in range(3):
            sync_base.append(sync_baseline(base, args.sync))
            sync_pay.append(sync_paycore(base, args.sync))
            async_base.append(asyncio.run(async_baseline(base, args.async_count, args.concurrency)))
            async_pay.append(asyncio.run(async_paycore(base, args.async_count, args.concurrency)))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    print("create + query round trips per second against the sandbox (best of 3; higher is better)")
    for name, baseline, measured in (
        ("Gateway, sequential", max(sync_base), max(sync_pay)),
        (f"AsyncGateway, {args.concurrency} concurrent", max(async_base), max(async_pay)),
    ):
        overhead = baseline / measured - 1
        verdict = "within target" if overhead <= 0.15 else "OVER the 15% target"
        rates = f"hand-written {baseline:7.0f}/s   paycore {measured:7.0f}/s"
        print(f"  {name:<28} {rates}   overhead {overhead:+.1%}  {verdict}")


if __name__ == "__main__":
    main()
