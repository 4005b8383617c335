"""The sandbox's state: orders, faults and every notification attempt, in SQLite.

In memory by default (``:memory:``), or in a file that survives restarts.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from paycore import ConfigError

__all__ = ["Attempt", "SandboxOrder", "Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    bankcode TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    attach TEXT,
    subject TEXT NOT NULL,
    applydate TEXT NOT NULL,
    status TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    paid_at TEXT,
    faults TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    sent_at TEXT NOT NULL,
    body TEXT NOT NULL,
    status_code INTEGER,
    response TEXT,
    error TEXT,
    acknowledged INTEGER NOT NULL
);
"""


@dataclass
class SandboxOrder:
    order_id: str
    merchant_id: str
    amount: str
    bankcode: str
    notify_url: str
    callback_url: str
    attach: str | None
    subject: str
    applydate: str
    status: str = "pending"
    transaction_id: str = ""
    paid_at: str | None = None
    faults: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Attempt:
    order_id: str
    attempt: int
    sent_at: str
    body: str
    status_code: int | None
    response: str | None
    error: str | None
    acknowledged: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _create_private(path: str) -> None:
    """Create the state file readable by its owner only: it holds merchants' order data."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"sandbox state {path!r} cannot be opened: {exc.strerror}") from None
    os.close(descriptor)


class Store:
    """Thread-safe access to one SQLite database."""

    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.Lock()
        if path and path != ":memory:":
            _create_private(path)
        try:
            self._db = sqlite3.connect(path or ":memory:", check_same_thread=False)
        except sqlite3.Error:
            raise ConfigError(f"sandbox state {path!r} cannot be opened as a SQLite file") from None
        self._db.row_factory = sqlite3.Row
        try:
            with self._lock, self._db:
                self._db.executescript(_SCHEMA)
                columns = {row["name"] for row in self._db.execute("PRAGMA table_info(orders)")}
        except sqlite3.Error:
            self._db.close()
            raise ConfigError(f"sandbox state {path!r} is not a SQLite database") from None
        if columns != {item.name for item in fields(SandboxOrder)}:
            self._db.close()
            raise ConfigError(f"sandbox state {path!r} holds another application's tables")

    def add_order(self, order: SandboxOrder) -> bool:
        """Store a new order; False if its id is taken."""
        row = order.as_json()
        row["faults"] = json.dumps(order.faults)
        columns = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        with self._lock, self._db:
            try:
                self._db.execute(f"INSERT INTO orders ({columns}) VALUES ({marks})", row)  # noqa: S608  # our own column names
            except sqlite3.IntegrityError:
                return False
        return True

    def order(self, order_id: str) -> SandboxOrder | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return self._order(row) if row else None

    def orders(self) -> list[SandboxOrder]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM orders ORDER BY rowid").fetchall()
        return [self._order(row) for row in rows]

    def settle(self, order_id: str, status: str, paid_at: str | None) -> SandboxOrder | None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE orders SET status = ?, paid_at = ? WHERE order_id = ?", (status, paid_at, order_id)
            )
        return self.order(order_id)

    def set_order_faults(self, order_id: str, faults: list[str]) -> bool:
        with self._lock, self._db:
            cursor = self._db.execute("UPDATE orders SET faults = ? WHERE order_id = ?", (json.dumps(faults), order_id))
        return cursor.rowcount == 1

    def record(self, attempt: Attempt) -> None:
        row = attempt.as_json()
        row["acknowledged"] = int(attempt.acknowledged)
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO attempts (order_id, attempt, sent_at, body, status_code, response, error, acknowledged) "
                "VALUES (:order_id, :attempt, :sent_at, :body, :status_code, :response, :error, :acknowledged)",
                row,
            )

    def attempts(self, order_id: str | None = None) -> list[Attempt]:
        query = "SELECT * FROM attempts"
        params: tuple[str, ...] = ()
        if order_id is not None:
            query += " WHERE order_id = ?"
            params = (order_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", params).fetchall()
        return [
            Attempt(
                order_id=row["order_id"],
                attempt=row["attempt"],
                sent_at=row["sent_at"],
                body=row["body"],
                status_code=row["status_code"],
                response=row["response"],
                error=row["error"],
                acknowledged=bool(row["acknowledged"]),
            )
            for row in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @staticmethod
    def _order(row: sqlite3.Row) -> SandboxOrder:
        data = dict(row)
        data["faults"] = json.loads(data["faults"])
        return SandboxOrder(**data)
