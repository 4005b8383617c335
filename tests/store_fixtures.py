"""Every notification store, on real servers: SQLite files, and Redis and PostgreSQL started for this run.

The servers are the run's own (`tests.servers`): free loopback ports, temporary
folders, stopped at the end. A binary that is missing stops the run before any
test (see ``pytest_sessionstart`` in ``tests/conftest.py``): never a skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from paycore.stores import MemoryStore, NotificationStore
from paycore.stores.postgres import PostgresStore
from paycore.stores.redis import RedisStore
from paycore.stores.sqlite import SQLiteStore
from tests.servers import LocalServers

STORE_KINDS = ["memory", "sqlite", "redis", "postgres"]
SHARED_STORE_KINDS = ["sqlite", "redis", "postgres"]


class StoreFactory:
    """Makes stores of one kind that share their data (same file, prefix or table), and cleans up."""

    def __init__(self, kind: str, tmp_path: Path, servers: LocalServers) -> None:
        self.kind = kind
        self.name = f"t{uuid.uuid4().hex[:12]}"
        self.path = tmp_path / f"{self.name}.sqlite3"
        self._servers = servers
        self._memory = MemoryStore()
        self._made: list[Any] = []

    @property
    def postgres(self) -> str:
        """The run's PostgreSQL connection string."""
        return self._servers.postgres()

    @property
    def redis_url(self) -> str:
        """The run's Redis URL."""
        return self._servers.redis_url()

    def spec(self) -> dict[str, str]:
        """How another process makes a store sharing this one's data."""
        spec = {"kind": self.kind, "path": str(self.path), "name": self.name}
        if self.kind == "redis":
            spec["url"] = self.redis_url
        if self.kind == "postgres":
            spec["conninfo"] = self.postgres
        return spec

    def __call__(self) -> NotificationStore:
        store = make_store(self.spec()) if self.kind != "memory" else self._memory
        self._made.append(store)
        return store

    def cleanup(self) -> None:
        """Close the stores made and remove their data; a second call does nothing more."""
        made, self._made = self._made, []
        for store in made:
            close = getattr(store, "close", None)
            if close is not None:
                close()
        if self.kind == "redis":
            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(f"{self.name}:*"):
                client.delete(key)
            client.close()
        if self.kind == "postgres":
            with psycopg.connect(self.postgres, autocommit=True) as connection:
                connection.execute(f"DROP TABLE IF EXISTS {self.name}")


def make_store(spec: dict[str, str]) -> NotificationStore:
    if spec["kind"] == "sqlite":
        return SQLiteStore(spec["path"])
    if spec["kind"] == "redis":
        return RedisStore(url=spec["url"], prefix=f"{spec['name']}:")
    if spec["kind"] == "postgres":
        return PostgresStore(spec["conninfo"], table=spec["name"])
    raise ValueError(spec["kind"])


@pytest.fixture(scope="session")
def local_servers() -> Iterator[LocalServers]:
    """The run's own Redis and PostgreSQL, each started when a test first asks for it."""
    servers = LocalServers()
    yield servers
    servers.stop()


@pytest.fixture
def redis_url(local_servers: LocalServers) -> str:
    """``redis://127.0.0.1:<port>/0`` of the run's own Redis."""
    return local_servers.redis_url()


@pytest.fixture
def postgres(local_servers: LocalServers) -> str:
    """The connection string of the run's own PostgreSQL."""
    return local_servers.postgres()


@pytest.fixture
def store_factory(tmp_path: Path, local_servers: LocalServers) -> Iterator[Callable[[str], StoreFactory]]:
    """``store_factory("postgres")``: a `StoreFactory` of that kind, cleaned up after the test."""
    made: list[StoreFactory] = []

    def make(kind: str) -> StoreFactory:
        factory = StoreFactory(kind, tmp_path, local_servers)
        made.append(factory)
        return factory

    yield make
    for factory in made:
        factory.cleanup()


@pytest.fixture(params=STORE_KINDS)
def stores(
    request: pytest.FixtureRequest, store_factory: Callable[[str], StoreFactory]
) -> Callable[[], NotificationStore]:
    return store_factory(request.param)


@pytest.fixture(params=SHARED_STORE_KINDS)
def shared_stores(request: pytest.FixtureRequest, store_factory: Callable[[str], StoreFactory]) -> StoreFactory:
    return store_factory(request.param)
