"""A total deadline per call: a gateway that drips its answer cannot hold a payment request."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

import paycore
from paycore import AsyncGateway, ConfigError, Gateway, TransportError
from paycore.testing import FakeProvider

pytestmark = pytest.mark.anyio

BODY_START = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"


class _DripServer:
    """Answers on a real socket one byte every ``interval`` seconds, up to ``limit`` bytes; counts them."""

    def __init__(self, *, headers_first: bool, interval: float = 0.05, limit: int = 1200) -> None:
        self.sent = 0
        self.headers_first = headers_first
        self.interval = interval
        self.limit = limit
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            if self.headers_first:
                connection.sendall(BODY_START)
                drip = b"x" * self.limit
            else:
                drip = BODY_START[: self.limit]
            try:
                for byte in drip:
                    if self._stop.wait(self.interval):
                        return
                    connection.sendall(bytes([byte]))
                    self.sent += 1
            except OSError:
                return  # the client hung up

    def __enter__(self) -> _DripServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._listener.close()


@pytest.mark.parametrize("headers_first", [False, True], ids=["dripping-headers", "dripping-body"])
def test_a_dripping_gateway_is_cut_off_at_the_deadline(make_order, headers_first):
    with _DripServer(headers_first=headers_first) as server:
        gateway = Gateway(FakeProvider, {"base_url": server.url}, timeout=2, deadline=1.0)
        with gateway, pytest.raises(TransportError, match="deadline passed") as excinfo:
            gateway.create(make_order())
    assert excinfo.value.may_have_reached_gateway
    # 1 s at 20 bytes a second, not the minute the drip would take: the call ended at its deadline
    assert server.sent < 200


@pytest.mark.parametrize("headers_first", [False, True], ids=["dripping-headers", "dripping-body"])
async def test_a_dripping_gateway_is_cut_off_at_the_deadline_async(make_order, headers_first):
    with _DripServer(headers_first=headers_first) as server:
        gateway = AsyncGateway(FakeProvider, {"base_url": server.url}, timeout=2, deadline=1.0)
        async with gateway:
            with pytest.raises(TransportError, match="deadline passed") as excinfo:
                await gateway.create(make_order())
    assert excinfo.value.may_have_reached_gateway
    assert server.sent < 200


def test_the_deadline_is_checked_between_chunks_with_a_transport_of_your_own(make_order):
    import time

    def slow_chunks():
        for _ in range(1000):
            time.sleep(0.01)
            yield b" "

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=slow_chunks())

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler), deadline=0.2) as gateway:
        with pytest.raises(TransportError, match="deadline passed") as excinfo:
            gateway.create(make_order())
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
