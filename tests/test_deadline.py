"""A total deadline per call: a gateway that drips its answer cannot hold a payment request."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

import paycore
from paycore import AsyncGateway, ConfigError, Gateway, TransportError
from paycore.testing import FakeProvider

pytestmark = pytest.mark.anyio

BODY_START = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"


def _drip(*, headers_first: bool, interval: float = 0.05, limit: int = 1200) -> Iterator[bytes]:
    """An answer one byte every ``interval`` seconds, up to ``limit`` bytes: headers first, or the headers dripped."""
    if headers_first:
        yield BODY_START
    for byte in (b"x" * limit) if headers_first else BODY_START[:limit]:
        time.sleep(interval)
        yield bytes([byte])


@pytest.mark.parametrize("headers_first", [False, True], ids=["dripping-headers", "dripping-body"])
def test_a_dripping_gateway_is_cut_off_at_the_deadline(paycore_order, headers_first, one_answer):
    with one_answer(_drip(headers_first=headers_first)) as server:
        gateway = Gateway(FakeProvider, {"base_url": server.url}, timeout=2, deadline=1.0)
        with gateway, pytest.raises(TransportError, match="deadline passed") as excinfo:
            gateway.create(paycore_order())
    assert excinfo.value.may_have_reached_gateway
    # 1 s at 20 bytes a second, not the minute the drip would take: the call ended at its deadline
    assert server.sent < len(BODY_START) + 200


@pytest.mark.parametrize("headers_first", [False, True], ids=["dripping-headers", "dripping-body"])
async def test_a_dripping_gateway_is_cut_off_at_the_deadline_async(paycore_order, headers_first, one_answer):
    with one_answer(_drip(headers_first=headers_first)) as server:
        gateway = AsyncGateway(FakeProvider, {"base_url": server.url}, timeout=2, deadline=1.0)
        async with gateway:
            with pytest.raises(TransportError, match="deadline passed") as excinfo:
                await gateway.create(paycore_order())
    assert excinfo.value.may_have_reached_gateway
    assert server.sent < len(BODY_START) + 200


def test_the_deadline_is_checked_between_chunks_with_a_transport_of_your_own(paycore_order):
    import time

    def slow_chunks():
        for _ in range(1000):
            time.sleep(0.01)
            yield b" "

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=slow_chunks())

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler), deadline=0.2) as gateway:
        with pytest.raises(TransportError, match="deadline passed") as excinfo:
            gateway.create(paycore_order())
    assert excinfo.value.may_have_reached_gateway


def test_default_deadline_and_from_config(tmp_path, monkeypatch):
    assert Gateway(FakeProvider).deadline == paycore.DEFAULT_DEADLINE
    path = tmp_path / "paycore.toml"
    path.write_text('[accounts.main]\nprovider = "fake"\ndeadline = 7.5\n')
    monkeypatch.setenv("PAYCORE_TESTING", "1")
    assert Gateway.from_config(path=path).deadline == 7.5
    assert Gateway.from_config(path=path, deadline=3).deadline == 3


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), 1e300, "soon", True, None.__class__])
def test_bad_deadlines_and_timeouts_are_config_errors(value):
    with pytest.raises(ConfigError, match="deadline"):
        Gateway(FakeProvider, deadline=value)
    with pytest.raises(ConfigError, match="timeout"):
        Gateway(FakeProvider, timeout=value)
