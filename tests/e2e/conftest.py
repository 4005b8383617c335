"""End-to-end fixtures: the juhe sandbox and a merchant endpoint, on real loopback sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from paycore_juhe.sandbox import JuheSandbox, SandboxConfig

from paycore import Gateway, Notification, PaycoreError, Reply, web
from paycore.testing import LoopbackServer


@dataclass
class Merchant:
    """A merchant's notification endpoint: records every body, answers ``answer``."""

    gateway: Gateway
    answer: str | None = None  # None: the notification's ack after verifying it
    bodies: list[bytes] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    refused: list[PaycoreError] = field(default_factory=list)
    returns: list[bytes] = field(default_factory=list)
    url: str = ""
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/return" and request.method == "POST":
            self.returns.append(request.content)  # the buyer's browser return: display only
            return httpx.Response(200, text="thanks for your purchase")
        if request.url.path != "/notify":
            return httpx.Response(404, text="not found")  # e.g. a browser's /favicon.ico
        with self._arrived:
            self.bodies.append(request.content)
            try:
                notification = self.gateway.verify_notification(web.from_httpx(request))
                self.notifications.append(notification)
                reply = notification.ack if self.answer is None else Reply(body=self.answer)
            except PaycoreError as exc:
                self.refused.append(exc)
                reply = self.gateway.failure_reply(exc)
            self._arrived.notify_all()
        return web.to_httpx(reply)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.bodies) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.bodies)} notifications arrived, expected {count}")
                self._arrived.wait(remaining)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., JuheSandbox]]:
    started: list[JuheSandbox] = []

    def make(**config: Any) -> JuheSandbox:
        config.setdefault("profile", "fast")
        sandbox = JuheSandbox(SandboxConfig(**config))
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., JuheSandbox]) -> JuheSandbox:
    return make_sandbox()


@pytest.fixture
def gateway(sandbox: JuheSandbox) -> Iterator[Gateway]:
    with Gateway("juhe", sandbox.account_settings(), account="sandbox", timeout=5) as juhe:
        yield juhe


@pytest.fixture
def merchant(gateway: Gateway) -> Iterator[Merchant]:
    endpoint = Merchant(gateway)
    with LoopbackServer(endpoint.handle) as server:
        endpoint.url = server.url
        yield endpoint


@pytest.fixture
def paycore_order_defaults(merchant: Merchant) -> dict[str, Any]:
    """The plugin's order factory, pointed at this test's merchant endpoint."""
    return {
        "amount": Decimal("300.00"),
        "channel": "alipay_qr",
        "subject": "Green tea",
        "notify_url": f"{merchant.url}/notify",
        "return_url": f"{merchant.url}/return",
    }


@pytest.fixture
def wait_attempts() -> Callable[..., list[Any]]:
    """Wait until the sandbox has recorded ``count`` attempts for ``order_id``."""

    def wait(sandbox: JuheSandbox, order_id: str, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(attempts := sandbox.attempts(order_id)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(attempts)} attempts recorded, expected {count}")
            time.sleep(0.01)
        return attempts

    return wait
