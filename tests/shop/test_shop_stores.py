"""The shop's store is chosen by configuration: SQLite by default, Redis or PostgreSQL by URL (real servers)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import redis

import paycore
from examples.shop.wiring import store_for
from paycore.stores.postgres import PostgresStore
from paycore.stores.redis import RedisStore
from paycore.stores.sqlite import SQLiteStore
from tests.shop.conftest import ShopWorld


def _postgres_url(conninfo: str) -> str:
    fields = dict(part.split("=", 1) for part in conninfo.split())
    return f"postgresql://{fields['user']}@{fields['host']}:{fields['port']}/{fields['dbname']}"


def _paid_once(world: ShopWorld) -> str:
    world.start()
    order = world.checkout()
    world.sandbox.pay(order.order_id)
    world.sandbox.wait_for_notifications(order.order_id)
    assert world.order(order.order_id).applied == 1
    return order.order_id


def test_the_store_is_chosen_by_its_location(tmp_path: Path, redis_url: str, postgres: str) -> None:
    for location, kind in [
        (str(tmp_path / "payments.db"), SQLiteStore),
        (redis_url, RedisStore),
        (_postgres_url(postgres), PostgresStore),
    ]:
        store = store_for(location)
        assert isinstance(store, kind)
        store.close()  # type: ignore[attr-defined]  # each of the three has one


def test_a_shop_on_redis_applies_once_and_keeps_the_record_there(tmp_path: Path, redis_url: str) -> None:
    world = ShopWorld("juhe", tmp_path, store=redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        order_id = _paid_once(world)
        assert client.hexists("paycore:applied", f"{order_id}:paid") or any(
            order_id in field.decode() for field in client.hkeys("paycore:applied")
        )
    finally:
        world.close()
        for key in client.scan_iter("paycore:*"):
            client.delete(key)
        client.close()


def test_a_shop_on_postgresql_applies_once_and_keeps_the_record_there(tmp_path: Path, postgres: str) -> None:
    world = ShopWorld("juhe", tmp_path, store=_postgres_url(postgres))
    try:
        order_id = _paid_once(world)
        with psycopg.connect(postgres) as connection:
            rows = connection.execute("SELECT key FROM paycore_notifications").fetchall()
        assert any(order_id in str(row[0]) for row in rows)
    finally:
        world.close()
        with psycopg.connect(postgres, autocommit=True) as connection:
            connection.execute("DROP TABLE IF EXISTS paycore_notifications")


@pytest.mark.parametrize("location", ["redis://127.0.0.1:1/0?max_connections=5", "postgresql://nobody@127.0.0.1:1/x"])
def test_a_store_location_that_cannot_serve_is_a_config_error(location: str) -> None:
    with pytest.raises(paycore.ConfigError):
        store_for(location)
