"""Exactly once across processes sharing one store, and after a process is killed mid-callback."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from paycore.testing import fake_sign

WORKER = Path(__file__).with_name("handler_worker.py")
ROOT = Path(__file__).resolve().parents[2]
SECRET = "processes-test-secret"


def _notification(order_id: str) -> str:
    """The fake gateway's signed notification that ``order_id`` was paid 9.90."""
    fields = {
        "merchant_id": "fake-merchant",
        "order_id": order_id,
        "amount": "9.90",
        "currency": "CNY",
        "status": "paid",
        "transaction_id": "FAKE00000001",
    }
    fields["sign"] = fake_sign(fields, SECRET)
    return urlencode(fields)


def _start(job: dict[str, object]) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(job)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready", worker.stderr.read() if worker.stderr else ""
    return worker


def _go(worker: subprocess.Popen[str]) -> None:
    assert worker.stdin is not None
    worker.stdin.write("go\n")
    worker.stdin.flush()


def test_two_processes_sharing_a_store_apply_once(shared_stores, tmp_path):
    shared_stores()  # creates the file, table or prefix before the workers race for it
    effects = tmp_path / "effects.log"
    job = {
        "store": shared_stores.spec(),
        "order_id": "P1",
        "amount": "9.90",
        "body": _notification("P1"),
        "secret": SECRET,
        "effects": str(effects),
        "copies": 25,
    }
    workers = [_start(job) for _ in range(2)]
    for worker in workers:
        _go(worker)
    outcomes = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        outcomes += json.loads(out.strip().splitlines()[-1])
    assert effects.read_text().count("applied P1") == 1
    assert outcomes.count("applied") == 1
    assert set(outcomes) <= {"applied", "duplicate", "busy"}


def test_a_process_killed_mid_callback_is_applied_after_restart_once(shared_stores, tmp_path):
    shared_stores()
    effects = tmp_path / "effects.log"
    job = {
        "store": shared_stores.spec(),
        "order_id": "K1",
        "amount": "9.90",
        "body": _notification("K1"),
        "secret": SECRET,
        "effects": str(effects),
        "copies": 1,
        "lease": 1.0,
        "hang": True,
    }
    doomed = _start(job)
    _go(doomed)
    deadline = time.monotonic() + 20
    while "started" not in (effects.read_text() if effects.exists() else ""):
        assert time.monotonic() < deadline, "the callback never started"
        time.sleep(0.02)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=10)
    # The gateway resends while the dead process's lease still holds: a retryable failure.
    early = _start({**job, "hang": False})
    _go(early)
    out, err = early.communicate(timeout=30)
    assert json.loads(out.strip().splitlines()[-1]) == ["busy"], err
    time.sleep(1.2)  # the lease of the killed process runs out
    for _ in range(2):  # the next resends: applied once, then a duplicate
        again = _start({**job, "hang": False})
        _go(again)
        out, err = again.communicate(timeout=30)
        assert again.returncode == 0, err
    assert effects.read_text().count("applied K1") == 1
    assert json.loads(out.strip().splitlines()[-1]) == ["duplicate"]
