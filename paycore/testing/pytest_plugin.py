"""paycore's pytest plugin: fixtures for applications' and providers' test suites.

Registered through the ``pytest11`` entry point, so it is active wherever paycore
is installed; nothing here is autouse, every fixture is prefixed ``paycore_``, and
paycore itself is imported only when a test asks for a fixture.

Fixtures (see the testing guide for examples):

- ``paycore_order``: a factory of valid `paycore.Order` objects, ``paycore_order(amount=Decimal("5"))``;
  its defaults come from ``paycore_order_defaults``, which a ``conftest.py`` may override.
- ``paycore_fake``: a fresh `paycore.testing.FakeGateway`, with its faults and notifications.
- ``paycore_fake_account``: switches a configured account to the fake, for code that loads its configuration.
- ``paycore_transport``: an ``httpx.MockTransport`` over ``paycore_fake``.
- ``paycore_provider`` / ``paycore_settings``: the provider (name or class) and the settings the gateway
  fixtures use; the fake and ``{}`` unless a ``conftest.py`` overrides them.
- ``paycore_gateway`` / ``paycore_async_gateway``: a `paycore.Gateway` / `paycore.AsyncGateway`
  of account ``main`` on ``paycore_transport``, closed after the test.
- ``paycore_gateway_kind``: parametrizes a test over ``"sync"`` and ``"async"``;
  ``paycore_any_gateway`` builds a `paycore.testing.GatewayUnderTest` of that kind.
- ``paycore_loopback``: serves ASGI / WSGI applications or httpx handlers over real loopback sockets.
- ``paycore_sandbox``: starts an installed provider's sandbox on a free port (``fast`` profile).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from paycore import AsyncGateway, Gateway, Order
    from paycore.provider import Provider
    from paycore.sandbox import Sandbox
    from paycore.testing import FakeGateway, GatewayUnderTest, LoopbackServer
    from paycore.testing._server import AsgiApp, Handler, WsgiApp

    #: a provider's entry-point name, or its class
    ProviderRef = str | type[Provider[Any]]

__all__ = [
    "LoopbackServers",
    "paycore_any_gateway",
    "paycore_async_gateway",
    "paycore_fake",
    "paycore_fake_account",
    "paycore_gateway",
    "paycore_gateway_kind",
    "paycore_loopback",
    "paycore_order",
    "paycore_order_defaults",
    "paycore_provider",
    "paycore_sandbox",
    "paycore_settings",
    "paycore_transport",
]


@pytest.fixture
def paycore_order_defaults() -> dict[str, Any]:
    """The fields ``paycore_order`` fills in; override this fixture to change them for a suite."""
    return {
        "amount": Decimal("12.50"),
        "channel": "alipay_qr",
        "subject": "Green tea",
        "notify_url": "https://shop.example/pay/notify/main",
        "return_url": "https://shop.example/pay/done",
    }


@pytest.fixture
def paycore_order(paycore_order_defaults: dict[str, Any]) -> Callable[..., Order]:
    """A factory of orders: ``paycore_order(**fields)``; each call gets a new order id unless given one."""
    from paycore import Order

    def make(**fields: Any) -> Order:
        return Order(**{**paycore_order_defaults, **fields})

    return make


@pytest.fixture
def paycore_fake() -> FakeGateway:
    """A fresh fake gateway for this test (its default settings match ``FakeProvider``'s)."""
    from paycore.testing import FakeGateway

    return FakeGateway()


@pytest.fixture
def paycore_transport(paycore_fake: FakeGateway, paycore_provider: ProviderRef) -> httpx.MockTransport:
    """The transport the gateway fixtures use: the fake gateway, in memory, when the provider is the fake.

    For another provider, override it (an ``httpx.MockTransport`` over your peer
    gateway) or pass a handler to ``paycore_any_gateway(handler)``.
    """
    import httpx

    from paycore.testing import FakeProvider

    if paycore_provider not in (FakeProvider, "fake"):
        pytest.fail(
            f"paycore_transport is the fake gateway, but paycore_provider is {paycore_provider!r}: override "
            "paycore_transport in your conftest.py (an httpx.MockTransport over your peer gateway), or pass a "
            "handler to paycore_any_gateway(handler)",
            pytrace=False,
        )
    return httpx.MockTransport(paycore_fake)


@pytest.fixture
def paycore_provider() -> ProviderRef:
    """The provider of the gateway fixtures: ``FakeProvider``; override it with a name or a class."""
    from paycore.testing import FakeProvider

    return FakeProvider


@pytest.fixture
def paycore_settings() -> dict[str, Any]:
    """The account settings of the gateway fixtures; override it alongside ``paycore_provider``."""
    return {}


@pytest.fixture
def paycore_gateway(
    paycore_provider: ProviderRef,
    paycore_settings: dict[str, Any],
    paycore_transport: httpx.MockTransport,
) -> Iterator[Gateway]:
    """A `paycore.Gateway` of account ``main``, closed after the test."""
    from paycore import Gateway

    with Gateway(paycore_provider, paycore_settings, account="main", transport=paycore_transport) as gateway:
        yield gateway


@pytest.fixture
def paycore_async_gateway(
    paycore_provider: ProviderRef,
    paycore_settings: dict[str, Any],
    paycore_transport: httpx.MockTransport,
) -> Iterator[AsyncGateway]:
    """A `paycore.AsyncGateway` of account ``main``; use it in async tests, ``async with`` it or not."""
    from paycore import AsyncGateway

    gateway = AsyncGateway(paycore_provider, paycore_settings, account="main", transport=paycore_transport)
    yield gateway
    try:
        asyncio.run(gateway.aclose())  # an in-memory transport holds no connection to any event loop
    except RuntimeError:
        pytest.fail(
            "paycore_async_gateway was left open on a transport bound to the test's event loop, which has ended: "
            "use it as `async with paycore_async_gateway as gateway:`",
            pytrace=False,
        )


@pytest.fixture(params=["sync", "async"], ids=["Gateway", "AsyncGateway"])
def paycore_gateway_kind(request: pytest.FixtureRequest) -> str:
    """``"sync"`` then ``"async"``: a test using it (or ``paycore_any_gateway``) runs once with each."""
    kind: str = request.param
    return kind


@pytest.fixture
def paycore_any_gateway(
    request: pytest.FixtureRequest,
    paycore_gateway_kind: str,
    paycore_provider: ProviderRef,
    paycore_settings: dict[str, Any],
) -> Callable[..., GatewayUnderTest]:
    """A factory of `paycore.testing.GatewayUnderTest` of this run's kind.

    ``paycore_any_gateway()`` uses ``paycore_provider``, ``paycore_settings`` and
    ``paycore_transport``; ``paycore_any_gateway(handler_or_transport, provider=..., account=..., **settings)``
    replaces any of them (keyword settings are merged over ``paycore_settings``). For
    plain (not async) tests: each call blocks, on an event loop of its own.
    """
    from paycore.testing import GatewayUnderTest

    def make(
        transport: Any = None,
        *,
        provider: ProviderRef | None = None,
        account: str = "main",
        **settings: Any,
    ) -> GatewayUnderTest:
        return GatewayUnderTest(
            "async" if paycore_gateway_kind == "async" else "sync",
            provider or paycore_provider,
            {**paycore_settings, **settings},
            account=account,
            # paycore_transport only when no transport is given: it is the fake's unless overridden.
            transport=request.getfixturevalue("paycore_transport") if transport is None else transport,
        )

    return make


class LoopbackServers:
    """Starts loopback servers for one test and stops them all after it."""

    def __init__(self) -> None:
        self._servers: list[LoopbackServer] = []

    def _started(self, server: LoopbackServer) -> LoopbackServer:
        server.start()
        self._servers.append(server)
        return server

    def asgi(self, app: AsgiApp) -> LoopbackServer:
        """Serve an ASGI application (Starlette, FastAPI) on 127.0.0.1 and a free port."""
        from paycore.testing import LoopbackServer

        return self._started(LoopbackServer.asgi(app))

    def wsgi(self, app: WsgiApp) -> LoopbackServer:
        """Serve a WSGI application (Flask, Django) on 127.0.0.1 and a free port."""
        from paycore.testing import LoopbackServer

        return self._started(LoopbackServer.wsgi(app))

    def handler(self, handler: Handler) -> LoopbackServer:
        """Serve an httpx-style handler (a `FakeGateway`, say) on 127.0.0.1 and a free port."""
        from paycore.testing import LoopbackServer

        return self._started(LoopbackServer(handler))

    def stop_all(self) -> None:
        while self._servers:
            self._servers.pop().stop()


@pytest.fixture
def paycore_loopback() -> Iterator[LoopbackServers]:
    """Serve applications over real sockets: ``paycore_loopback.asgi(app).url``; stopped after the test."""
    servers = LoopbackServers()
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture
def paycore_fake_account(
    paycore_fake: FakeGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., FakeGateway]]:
    """Switch a configured account to the fake: ``paycore_fake_account("main")`` (default: the default account).

    ``paycore_fake_account(every=True)`` switches every configured account at once,
    so that loading the configuration needs no provider's secret. The application's
    own configuration (``PAYCORE_CONFIG`` or ``./paycore.toml``) is copied with each
    switched account's table replaced by ``provider = "fake"``, its
    ``PAYCORE_<ACCOUNT>_*`` variables replaced, ``PAYCORE_TESTING=1`` set, and
    ``paycore_fake`` served on a loopback socket as their gateway. Returns the fake
    gateway, for its faults and notifications. Undone after the test.
    """
    from paycore.testing import LoopbackServer
    from paycore.testing._switch import fake_account_environment

    servers: list[LoopbackServer] = []

    def switch(account: str | None = None, *, every: bool = False) -> FakeGateway:
        from paycore.errors import InvalidRequest

        if every and account is not None:
            raise InvalidRequest("name every=True or an account, not both")
        if not servers:
            servers.append(LoopbackServer(paycore_fake).start())
        _, changes = fake_account_environment(account, servers[0].url, tmp_path, every=every)
        for variable, value in changes.items():
            if value is None:
                monkeypatch.delenv(variable, raising=False)
            else:
                monkeypatch.setenv(variable, value)
        return paycore_fake

    try:
        yield switch
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def paycore_sandbox(paycore_provider: ProviderRef) -> Iterator[Callable[..., Sandbox]]:
    """Start a provider's local sandbox: ``paycore_sandbox("juhe", faults=("duplicate",))``; stopped after the test.

    Without a provider, ``paycore_provider``'s. Keyword arguments are `paycore.sandbox.SandboxOptions`
    fields; the profile is ``fast`` unless given. The sandbox's ``account_settings()`` are an
    account on it; its admin API and faults are the provider's own (see its docs).
    """
    from paycore.sandbox import SandboxOptions, make_sandbox

    started: list[Sandbox] = []

    def start(provider: ProviderRef | None = None, **options: Any) -> Sandbox:
        options.setdefault("profile", "fast")
        sandbox = make_sandbox(provider or paycore_provider, SandboxOptions(**options))
        sandbox.start()
        started.append(sandbox)
        return sandbox

    try:
        yield start
    finally:
        while started:
            started.pop().stop()
