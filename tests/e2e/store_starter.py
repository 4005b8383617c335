"""One worker starting a notification store, as each of gunicorn's workers does: run by test_store_starts.py.

    python tests/e2e/store_starter.py '{"kind": "postgres", "conninfo": ..., "name": ...}'

Prints "ready", waits for a line on stdin (every worker starts at once), builds the
store, claims one key of its own, and prints "started" or the error's type and message.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.store_fixtures import make_store  # after the path set-up above


def main() -> None:
    spec = json.loads(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        store = make_store(spec)
        store.claim(f"start-{os.getpid()}:paid", 30)
    except Exception as exc:  # noqa: BLE001  # reported to the test, which fails on it
        print(f"{type(exc).__name__}: {exc}", flush=True)
        return
    close = getattr(store, "close", None)
    if close is not None:
        close()
    print("started", flush=True)


if __name__ == "__main__":
    main()
