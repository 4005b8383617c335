"""Every notification store, on real servers: SQLite files, Redis at 127.0.0.1:6379, PostgreSQL at 127.0.0.1:5432.

A server that is down fails the tests that need it: never a skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paycore.stores import MemoryStore, NotificationStore
from paycore.stores.postgres import PostgresStore
from paycore.stores.redis import RedisStore
from paycore.stores.sqlite import SQLiteStore

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES = "host=127.0.0.1 port=5432 dbname=test user=postgres"
STORE_KINDS = ["memory", "sqlite", "redis", "postgres"]
SHARED_STORE_KINDS = ["sqlite", "redis", "postgres"]


class StoreFactory:
    """Makes stores of one kind that share their data (same file, prefix or table), and cleans up."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.name = f"t{uuid.uuid4().hex[:12]}"
        self.path = tmp_path / f"{self.name}.sqlite3"
        self._memory = MemoryStore()
        self._made: list[Any] = []

    def spec(self) -> dict[str, str]:
        """How another process makes a store sharing this one's data."""
        return {"kind": self.kind, "path": str(self.path), "name": self.name}

    def __call__(self) -> NotificationStore:
        store = make_store(self.spec()) if self.kind != "memory" else self._memory
        self._made.append(store)
        return store

    def cleanup(self) -> None:
        if self.kind == "redis":
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{self.name}:*"):
                client.delete(key)
            client.close()
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(POSTGRES, autocommit=True) as connection:
                connection.execute(f"DROP TABLE IF EXISTS {self.name}")
        for store in self._made:
            close = getattr(store, "close", None)
            if close is not None:
                close()


def make_store(spec: dict[str, str]) -> NotificationStore:
    if spec["kind"] == "sqlite":
        return SQLiteStore(spec["path"])
    if spec["kind"] == "redis":
        return RedisStore(url=REDIS_URL, prefix=f"{spec['name']}:")
    if spec["kind"] == "postgres":
        return PostgresStore(POSTGRES, table=spec["name"])
    raise ValueError(spec["kind"])


@pytest.fixture(params=STORE_KINDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], NotificationStore]]:
    factory = StoreFactory(request.param, tmp_path)
    yield factory
    factory.cleanup()


@pytest.fixture(params=SHARED_STORE_KINDS)
def shared_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    factory = StoreFactory(request.param, tmp_path)
    yield factory
    factory.cleanup()
