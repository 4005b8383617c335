"""A notification store in a SQLite file: durable, and safe across processes on one machine.

Every claim, completion and release is one ``BEGIN IMMEDIATE`` transaction, so two
processes (or threads) deciding on the same payment are serialized by SQLite's
write lock. The file is in WAL mode with ``synchronous=FULL``: a completed
claim survives a power loss. Several machines need a shared server instead
(`paycore.stores.redis`, `paycore.stores.postgres`): a SQLite file on a network
share is not safe.

Leases are kept on the machine's monotonic clock, which every process on it
shares and which no one can step: a wall clock set back or forward (NTP, an
operator, a resumed virtual machine) during a callback neither lets another
process take the claim early nor holds it late. The clock starts again at a
restart, so a lease is held only while it has at most the seconds it was taken
for left: one written before a restart (by a process that is gone) is free at
once. Processes sharing a file must share that clock (one kernel, no time
namespace offsets).

Each claim also writes its deadline on the wall clock, where releases before
monotonic leases read it: during a rolling upgrade an older process still sees
a newer one's claim as held, and a newer process reads a claim an older one
made (its monotonic columns name another token) on the wall clock, as it was
written.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Any

from paycore.errors import ConfigError
from paycore.stores import DEFAULT_LEASE, Claim, ClaimResult, new_token

__all__ = ["SQLiteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS paycore_notifications (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('claimed', 'applied')),
    token TEXT,
    lease_until REAL,
    applied_at REAL,
    record TEXT,
    lease_mono REAL,
    lease_seconds REAL,
    lease_token TEXT
)
"""
# Files made before leases moved to the monotonic clock lack these: added, NULL in every row.
_MONOTONIC_COLUMNS = {"lease_mono": "REAL", "lease_seconds": "REAL", "lease_token": "TEXT"}


def _held(token: str | None, lease_until: float | None, monotonic: tuple[Any, Any, Any], now: float) -> bool:
    """Whether a claim's lease still holds at monotonic time ``now``.

    ``lease_until`` is its deadline on the wall clock; ``monotonic`` is (deadline, seconds, token)
    on the monotonic clock, trusted only when it names the claim's own token: a release before
    monotonic leases overwrites the claim without touching those columns.
    """
    deadline, seconds, lease_token = monotonic
    if lease_token is not None and lease_token == token and deadline is not None and seconds is not None:
        # More left than it was taken for: written before the clock started again (a restart).
        return bool(now < deadline <= now + seconds)
    return lease_until is not None and lease_until > time.time()


class SQLiteStore:
    """Claims and applied payments in the SQLite file ``path`` (created if absent)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        # Every thread's connection, so that close() closes them all.
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        try:
            with self._transaction() as connection:
                connection.execute(_SCHEMA)
                columns = {row[1] for row in connection.execute("PRAGMA table_info(paycore_notifications)")}
                for column, kind in _MONOTONIC_COLUMNS.items():
                    if column not in columns:  # names and types are the constants above
                        connection.execute(f"ALTER TABLE paycore_notifications ADD COLUMN {column} {kind}")
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot use {self.path!r} as a notification store: {exc}") from None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection not in self._connections:
            # One connection per thread; autocommit mode, transactions are explicit below.
            # check_same_thread=False only so that close() may close it from another thread:
            # each connection is used by the thread that opened it alone.
            connection = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._enter_wal(connection)
            connection.execute("PRAGMA synchronous=FULL")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _enter_wal(self, connection: sqlite3.Connection) -> None:
        """Switch the file to WAL mode, waiting out other starters as the busy timeout would.

        The first switch of a new file needs it to itself, and SQLite answers "database is
        locked" at once rather than call the busy handler (which could deadlock there):
        several workers starting on a new file at once would fail. Once in WAL mode, the
        switch is a no-op that takes no lock.
        """
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _transaction(self) -> _Immediate:
        return _Immediate(self._connection())

    def claim(self, key: str, lease: float = DEFAULT_LEASE) -> ClaimResult:
        with self._transaction() as connection:
            now = time.monotonic()  # read under the write lock: no other claim in between
            row = connection.execute(
                "SELECT state, token, lease_until, lease_mono, lease_seconds, lease_token "
                "FROM paycore_notifications WHERE key = ?",
                (key,),
            ).fetchone()
            if row is not None and row[0] == "applied":
                return ClaimResult(Claim.APPLIED)
            if row is not None and _held(row[1], row[2], (row[3], row[4], row[5]), now):
                return ClaimResult(Claim.BUSY)
            token = new_token()
            connection.execute(
                "INSERT INTO paycore_notifications "
                "(key, state, token, lease_until, lease_mono, lease_seconds, lease_token) "
                "VALUES (?, 'claimed', ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET state = 'claimed', token = excluded.token, "
                "lease_until = excluded.lease_until, lease_mono = excluded.lease_mono, "
                "lease_seconds = excluded.lease_seconds, lease_token = excluded.lease_token",
                (key, token, time.time() + lease, now + lease, float(lease), token),
            )
            return ClaimResult(Claim.CLAIMED, token)

    def complete(self, key: str, token: str, record: str) -> bool:
        with self._transaction() as connection:
            row = connection.execute("SELECT token FROM paycore_notifications WHERE key = ?", (key,)).fetchone()
            # Recorded whatever became of the claim: the callback has run (see NotificationStore.complete).
            connection.execute(
                "INSERT INTO paycore_notifications (key, state, applied_at, record) VALUES (?, 'applied', ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET state = 'applied', token = NULL, lease_until = NULL, "
                "lease_mono = NULL, lease_seconds = NULL, lease_token = NULL, "
                "applied_at = excluded.applied_at, record = excluded.record "
                "WHERE state = 'claimed'",
                (key, time.time(), record),
            )
            return row is not None and row[0] == token

    def release(self, key: str, token: str) -> None:
        with self._transaction() as connection:
            connection.execute(
                "DELETE FROM paycore_notifications WHERE key = ? AND state = 'claimed' AND token = ?", (key, token)
            )

    def applied(self, key: str) -> str | None:
        row = (
            self._connection()
            .execute("SELECT record FROM paycore_notifications WHERE key = ? AND state = 'applied'", (key,))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def close(self) -> None:
        """Close every thread's connection (a thread that uses the store again opens a new one)."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()


class _Immediate:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception): the write lock from the start."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.connection.execute("ROLLBACK" if exc_type is not None else "COMMIT")
