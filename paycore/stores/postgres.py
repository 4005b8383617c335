"""A notification store in PostgreSQL (``pip install 'paycore[postgres]'``, psycopg 3).

Two ways to use it:

- as any store (`claim` / `complete` / `release`, with leases): each step is one
  ``INSERT ... ON CONFLICT`` statement in its own transaction;
- **transactionally** (`run_once`): the claim and the merchant's own update run in
  *one* transaction on the same connection. The claim is an ``INSERT ... ON
  CONFLICT DO NOTHING`` of the applied record; a concurrent delivery's insert waits
  on the row until this transaction ends, then finds it applied (committed) or
  claims it (rolled back). Nothing is applied without its record, nor recorded
  without being applied: the strongest exactly-once, with no lease to outlive.

Use one way per table. Every instance of an application on several machines
points at the same database.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from paycore.errors import ConfigError
from paycore.stores import DEFAULT_LEASE, Claim, ClaimResult, new_token

__all__ = ["PostgresStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('claimed', 'applied')),
    token TEXT,
    lease_until TIMESTAMPTZ,
    applied_at TIMESTAMPTZ,
    record TEXT
)
"""


class PostgresStore:
    """Claims and applied payments in table ``table`` (created if absent) of the database at ``conninfo``."""

    def __init__(self, conninfo: str, *, table: str = "paycore_notifications") -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigError("the PostgreSQL store needs psycopg 3: pip install 'paycore[postgres]'") from None
        if not table.replace("_", "").isalnum() or not table.isascii():
            raise ConfigError("the store's table name must be letters, digits and '_'")
        self._psycopg = psycopg
        self._conninfo = conninfo
        self._table = table
        self._local = threading.local()
        # Every thread's connection, so that close() closes them all.
        self._connections: list[Any] = []
        self._owners: list[tuple[threading.Thread, Any]] = []  # each connection's thread
        self._connections_lock = threading.Lock()
        failure = None
        try:
            with self._connection().transaction():
                # CREATE TABLE IF NOT EXISTS is not safe against itself: two workers starting at once both
                # see no table, and the second fails on the catalog's unique index. One creator at a time,
                # under a lock that lives as long as this transaction.
                self._connection().execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"paycore:{table}",))
                self._connection().execute(_SCHEMA.format(table=table))  # the name was checked above
        except psycopg.Error as exc:
            failure = type(exc).__name__
        if failure is not None:
            # Raised out here: inside the except block the ConfigError's hidden __context__ would keep
            # psycopg's error, whose message or connection info may hold the password.
            raise ConfigError(f"cannot use PostgreSQL as a notification store: {failure}")

    def __repr__(self) -> str:
        return f"PostgresStore(table={self._table!r})"  # never the conninfo: it may hold a password

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        # A connection is this process's: after a fork (gunicorn --preload) the child opens its own.
        if (
            connection is None
            or connection.closed
            or connection not in self._connections
            or getattr(self._local, "pid", None) != os.getpid()
        ):
            # One connection per thread, autocommit: transactions are explicit.
            connection = self._psycopg.connect(self._conninfo, autocommit=True)
            self._local.connection = connection
            self._local.pid = os.getpid()
            with self._connections_lock:
                # Threads end (a thread-per-request server): their connections would stay open
                # until the database refuses new clients. Close those of threads that are gone.
                gone = [(owner, held) for owner, held in self._owners if not owner.is_alive()]
                for owner, held in gone:
                    self._owners.remove((owner, held))
                    if held in self._connections:
                        self._connections.remove(held)
                    held.close()
                self._connections.append(connection)
                self._owners.append((threading.current_thread(), connection))
        return connection

    def claim(self, key: str, lease: float = DEFAULT_LEASE) -> ClaimResult:
        token = new_token()
        connection = self._connection()
        row = connection.execute(
            f"INSERT INTO {self._table} (key, state, token, lease_until) "  # noqa: S608  # table name checked
            "VALUES (%s, 'claimed', %s, now() + make_interval(secs => %s)) "
            "ON CONFLICT (key) DO UPDATE SET token = excluded.token, lease_until = excluded.lease_until "
            f"WHERE {self._table}.state = 'claimed' AND {self._table}.lease_until < now() "
            "RETURNING token",
            (key, token, lease),
        ).fetchone()
        if row is not None and row[0] == token:
            return ClaimResult(Claim.CLAIMED, token)
        state = connection.execute(
            f"SELECT state FROM {self._table} WHERE key = %s",  # noqa: S608  # table name checked
            (key,),
        ).fetchone()
        return ClaimResult(Claim.APPLIED if state is not None and state[0] == "applied" else Claim.BUSY)

    def complete(self, key: str, token: str, record: str) -> bool:
        connection = self._connection()
        with connection.transaction():
            row = connection.execute(
                f"SELECT token FROM {self._table} WHERE key = %s FOR UPDATE",  # noqa: S608  # table name checked
                (key,),
            ).fetchone()
            # Recorded whatever became of the claim: the callback has run (see NotificationStore.complete).
            connection.execute(
                f"INSERT INTO {self._table} (key, state, applied_at, record) "  # noqa: S608  # table name checked
                "VALUES (%s, 'applied', now(), %s) ON CONFLICT (key) DO UPDATE SET state = 'applied', "
                f"token = NULL, lease_until = NULL, applied_at = now(), record = excluded.record "
                f"WHERE {self._table}.state = 'claimed'",
                (key, record),
            )
        return row is not None and row[0] == token

    def release(self, key: str, token: str) -> None:
        self._connection().execute(
            f"DELETE FROM {self._table} WHERE key = %s AND state = 'claimed' AND token = %s",  # noqa: S608
            (key, token),
        )

    def applied(self, key: str) -> str | None:
        row = (
            self._connection()
            .execute(
                f"SELECT record FROM {self._table} WHERE key = %s AND state = 'applied'",  # noqa: S608
                (key,),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def run_once(
        self,
        key: str,
        record: str,
        work: Callable[[Any], None],
        *,
        lock: str | None = None,
        unless_applied: str | None = None,
    ) -> Claim:
        """Apply ``key`` once, in one transaction with ``work(connection)``; APPLIED if it was before.

        ``work`` gets the transaction's psycopg connection for the merchant's own
        update. If it raises, the transaction rolls back (claim included) and the
        exception propagates: nothing applied, nothing recorded. ``lock`` takes a
        transaction-scoped advisory lock first (one order's events one at a time);
        ``unless_applied`` names a key whose application makes this one moot
        (APPLIED is returned, nothing done).
        """
        connection = self._connection()
        with connection.transaction():
            if lock is not None:
                connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{self._table}:{lock}",))
            if unless_applied is not None and self._applied_in(connection, unless_applied):
                return Claim.APPLIED
            inserted = connection.execute(
                f"INSERT INTO {self._table} (key, state, applied_at, record) "  # noqa: S608  # table name checked
                "VALUES (%s, 'applied', now(), %s) ON CONFLICT (key) DO NOTHING RETURNING key",
                (key, record),
            ).fetchone()
            if inserted is None:
                state = connection.execute(
                    f"SELECT state FROM {self._table} WHERE key = %s",  # noqa: S608  # table name checked
                    (key,),
                ).fetchone()
                # A lease-mode claim (another way of using the table) is someone applying it now.
                return Claim.APPLIED if state is not None and state[0] == "applied" else Claim.BUSY
            work(connection)
        return Claim.CLAIMED

    def _applied_in(self, connection: Any, key: str) -> bool:
        row = connection.execute(
            f"SELECT state FROM {self._table} WHERE key = %s",  # noqa: S608  # table name checked
            (key,),
        ).fetchone()
        return row is not None and row[0] == "applied"

    def close(self) -> None:
        """Close every thread's connection (a thread that uses the store again opens a new one)."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
            self._owners.clear()
        for connection in connections:
            connection.close()
