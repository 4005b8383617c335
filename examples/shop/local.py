"""The shop on this machine: providers' sandboxes, the ``paycore.toml`` naming them, a loopback server.

What ``python -m examples.shop`` and the shop's tests run it on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from examples.shop.app import create_app
from examples.shop.sandbox_config import paycore_toml
from examples.shop.settings import ShopSettings
from paycore.sandbox import Sandbox, SandboxOptions, make_sandbox
from paycore.testing import LoopbackServer

__all__ = ["PROVIDERS", "serve", "start_sandboxes", "write_config"]

#: the providers paycore ships, each with a sandbox
PROVIDERS = ("alipay", "epay", "juhe", "wechatpay")


class _Late:
    """An ASGI application given once the server it runs on exists: the app's settings hold that server's URL."""

    def __init__(self) -> None:
        self.app: Starlette | None = None

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if self.app is None:
            raise RuntimeError("the shop is not made yet")
        await self.app(scope, receive, send)


def start_sandboxes(providers: Iterable[str], profile: str = "fast") -> dict[str, Sandbox]:
    """One started sandbox per provider, by provider name."""
    started: dict[str, Sandbox] = {}
    try:
        for name in providers:
            sandbox = make_sandbox(name, SandboxOptions(profile=profile))
            sandbox.start()
            started[name] = sandbox
    except BaseException:
        for sandbox in started.values():
            sandbox.stop()
        raise
    return started


def write_config(path: Path, default: str, sandboxes: dict[str, Sandbox]) -> None:
    """``paycore.toml`` with one account per sandbox, named after its provider, and ``default``."""
    accounts = {name: {"provider": name, **sandbox.account_settings()} for name, sandbox in sandboxes.items()}
    path.write_text(paycore_toml(default, accounts), encoding="utf-8")


def serve(settings_at: Callable[[str], ShopSettings], *, port: int = 0) -> tuple[LoopbackServer, Starlette]:
    """A loopback server (not started) and the shop on it, made with ``settings_at(the server's URL)``."""
    late = _Late()
    server = LoopbackServer.asgi(late, port=port)
    late.app = create_app(settings_at(server.url))
    return server, late.app
