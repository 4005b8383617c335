"""A local juhe gateway for demos and tests: ``pip install 'paycore-juhe[sandbox]'``.

It speaks the protocol as real deployments do — the checks, the answer shapes,
the notifications and their resends — with its own, independent signing code::

    from paycore_juhe.sandbox import JuheSandbox, SandboxConfig

    with JuheSandbox(SandboxConfig(profile="fast")) as sandbox:
        gateway = paycore.Gateway("juhe", sandbox.account_settings())
        payment = gateway.create(order)
        sandbox.pay(order.order_id)            # as the buyer would, at the cashier
        sandbox.wait_for_notifications(order.order_id)  # every attempt, once delivery is over

Endpoints: ``POST /Pay_Index.html``, ``POST /Pay_Trade_query.html``, the cashier at
``/cashier/{order_id}``, and an admin JSON API under ``/admin/`` (orders, pay or
fail, the notification log, waiting for delivery, faults). See ``docs/sandbox.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

import httpx

from paycore import InvalidRequest, ProtocolError
from paycore_juhe.sandbox._app import SandboxState, create_app
from paycore_juhe.sandbox._config import (
    DEFAULT_CHANNELS,
    DEFAULT_MERCHANT_ID,
    PROFILES,
    REFERENCE_DATETIME,
    Fault,
    Profile,
    SandboxConfig,
    parse_faults,
)
from paycore_juhe.sandbox._server import ThreadedServer
from paycore_juhe.sandbox._store import Attempt, SandboxOrder

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_MERCHANT_ID",
    "PROFILES",
    "REFERENCE_DATETIME",
    "Attempt",
    "Fault",
    "JuheSandbox",
    "Profile",
    "SandboxConfig",
    "SandboxOrder",
    "parse_faults",
]


class JuheSandbox:
    """A juhe gateway on 127.0.0.1, bound to a port (a free one by default) when built."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.state = SandboxState(self.config)
        self.app = create_app(self.state)
        self._server = ThreadedServer(self.app, self.config.host, self.config.port)

    def __repr__(self) -> str:
        return f"<JuheSandbox {self.url} merchant={self.config.merchant_id!r} profile={self.config.profile!r}>"

    @property
    def url(self) -> str:
        return self._server.url

    def account_settings(self) -> dict[str, Any]:
        """Settings of a ``juhe`` account on this sandbox (they include its key)."""
        return {"base_url": self.url, "merchant_id": self.config.merchant_id, "secret_key": self.config.secret_key}

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        """Stop serving and close the state (an in-memory state is gone)."""
        self._server.stop()
        self.state.store.close()

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever()
        finally:
            self.state.store.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _admin(self, method: str, path: str, payload: object | None = None, *, http_timeout: float = 10) -> Any:
        response = httpx.request(method, f"{self.url}/admin{path}", json=payload, timeout=http_timeout)
        if response.status_code == 404:
            raise InvalidRequest(f"the sandbox has no such order ({path})")
        if response.status_code == 400:
            raise InvalidRequest(f"the sandbox refused {method} {path}: {response.json().get('error')}")
        if response.is_error:
            raise ProtocolError(f"the sandbox's admin API answered HTTP {response.status_code} to {method} {path}")
        return response.json()

    def pay(self, order_id: str) -> None:
        """Pay the order, as the buyer's click on Pay would; the merchant is then notified."""
        self._admin("POST", f"/orders/{order_id}/pay")

    def fail(self, order_id: str) -> None:
        """Fail the order's payment; the merchant is then notified."""
        self._admin("POST", f"/orders/{order_id}/fail")

    def set_faults(
        self, faults: Iterable[Fault | str], *, order_id: str | None = None, slow_seconds: float | None = None
    ) -> None:
        """Switch faults on for every order, or for one; an empty list switches them off."""
        names = sorted(Fault(fault).value for fault in faults)
        if order_id is None:
            payload: dict[str, object] = {"faults": names}
            if slow_seconds is not None:
                payload["slow_seconds"] = slow_seconds
            self._admin("PUT", "/faults", payload)
        else:
            self._admin("PUT", f"/orders/{order_id}/faults", {"faults": names})

    def wait_for_notifications(self, order_id: str, timeout: float = 30.0) -> list[Attempt]:
        """Block until the order's notifications are over (acknowledged, or out of tries); return them.

        Tests call this instead of sleeping and polling. TimeoutError if delivery
        is still going on after ``timeout`` seconds (at most 300).
        """
        answer = self._admin(
            "GET", f"/orders/{order_id}/notifications/wait?timeout={timeout}", http_timeout=timeout + 10
        )
        if not answer["done"]:
            raise TimeoutError(f"notifications for order {order_id!r} still going after {timeout} s")
        return self.attempts(order_id)

    def orders(self) -> list[SandboxOrder]:
        return self.state.store.orders()

    def attempts(self, order_id: str | None = None) -> list[Attempt]:
        """Every notification attempt so far, oldest first."""
        return self.state.store.attempts(order_id)
