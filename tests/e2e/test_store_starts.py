"""Every store starts under many concurrent starters: a deploy restarting eight workers on a fresh database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).with_name("store_starter.py")
STARTERS = 8


def test_eight_workers_starting_a_store_at_once_all_start(shared_stores):
    # Nothing made beforehand: the file, table or prefix is new, and every worker races to create it.
    spec = json.dumps(shared_stores.spec())
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(STARTERS)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = [worker.communicate(timeout=60) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    said = [out.strip() for out, _ in results]
    assert said == ["started"] * STARTERS, [out + err for out, err in results]
