"""A merchant process applying notifications through a shared store: run by test_handler_processes.py.

    python tests/e2e/handler_worker.py '{"store": {...}, "order_id": ..., "amount": ..., "body": ..., ...}'

Each application of the callback appends a line to ``effects`` (O_APPEND: lines
from several processes never interleave); with ``hang`` the callback writes
"started" and hangs, to be killed mid-way.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import paycore  # after the path set-up above
from paycore.handler import NotificationHandler, OrderRecord
from paycore.testing import FakeProvider
from tests.store_fixtures import make_store


def main() -> None:
    job = json.loads(sys.argv[1])
    effects = job["effects"]

    def on_paid(event: paycore.AppliedPayment) -> None:
        if job.get("hang"):
            _append(effects, f"started {os.getpid()}")
            time.sleep(60)  # killed here
        _append(effects, f"applied {event.order_id} {os.getpid()}")

    with paycore.Gateway(FakeProvider, {"secret_key": job["secret"]}, account="main") as gateway:
        accounts = paycore.Accounts({"main": gateway})
        orders = {job["order_id"]: OrderRecord(job["order_id"], Decimal(job["amount"]), account="main")}
        store = make_store(job["store"])
        handler = NotificationHandler(
            accounts, lookup=orders.get, on_paid=on_paid, store=store, lease=float(job.get("lease", 60))
        )
        request = paycore.NotificationRequest(path="/notify/main", body=job["body"].encode())
        print("ready", flush=True)
        sys.stdin.readline()  # every worker starts delivering at once
        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(lambda _: handler.process(request).outcome.value, range(job["copies"])))
        print(json.dumps(outcomes), flush=True)
        close = getattr(store, "close", None)
        if close is not None:
            close()


def _append(path: str, line: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, (line + "\n").encode())
    finally:
        os.close(descriptor)


if __name__ == "__main__":
    main()
