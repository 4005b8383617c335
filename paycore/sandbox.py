"""Local sandbox gateways: what a provider offers, and what paycore asks of it.

A provider that ships a sandbox implements the optional ``make_sandbox`` hook (as a
classmethod: a sandbox belongs to no account) and returns a `Sandbox`::

    sandbox = paycore.sandbox.make_sandbox("juhe", SandboxOptions(profile="fast"))
    with sandbox:                                   # serves on 127.0.0.1, a free port
        gateway = paycore.Gateway("juhe", sandbox.account_settings())
        ...
        sandbox.pay(order.order_id)                 # as the buyer would, at the cashier

``paycore sandbox --provider NAME`` serves one in the foreground and
``paycore demo`` runs a whole payment round trip on one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    from paycore.provider import Provider

__all__ = ["PUBLIC_SANDBOX_KEY", "Sandbox", "SandboxOptions", "make_sandbox"]

#: The sandbox's default key: public and documented, a test key like any
#: "sk_test" key, so printing it leaks nothing. A key passed by the user is never printed.
PUBLIC_SANDBOX_KEY = "paycore-sandbox-public-test-key"


@dataclass(frozen=True)
class SandboxOptions:
    """How to run a sandbox.

    ``profile`` names how notifications are resent (provider-defined; juhe has
    ``document``, ``realistic`` and ``fast``) and ``notify_interval`` overrides its
    seconds between tries. ``faults`` are switched on for every order.
    ``state_path`` keeps state in a SQLite file instead of memory. ``channels``
    adds the provider's channel codes to those it accepts by default. ``strict``
    follows the protocol's document to the letter where the reference software
    is more lenient (provider-defined).
    """

    host: str = "127.0.0.1"
    port: int = 0
    merchant_id: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    profile: str | None = None
    faults: tuple[str, ...] = ()
    state_path: str | None = None
    notify_interval: float | None = None
    channels: tuple[str, ...] = ()
    strict: bool = False


@runtime_checkable
class Sandbox(Protocol):
    """A local gateway speaking a provider's protocol, run in this process."""

    @property
    def url(self) -> str:
        """The base URL it serves on, e.g. ``http://127.0.0.1:54321``."""

    def account_settings(self) -> dict[str, Any]:
        """The provider settings of an account that uses this sandbox."""

    def start(self) -> None:
        """Serve in a background thread; return once it accepts connections."""

    def stop(self) -> None:
        """Stop serving."""

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted."""

    def pay(self, order_id: str) -> None:
        """Pay the order as a buyer would; the gateway then notifies the merchant."""

    def fail(self, order_id: str) -> None:
        """Fail the order's payment; the gateway notifies the merchant if its protocol does (some never do)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def make_sandbox(provider: str | type[Provider[Any]], options: SandboxOptions | None = None) -> Sandbox:
    """Build (not start) the sandbox of ``provider``: an installed provider's name, or its class."""
    from paycore._plugins import provider_sandbox
    from paycore.errors import InvalidRequest

    if options is not None and not isinstance(options, SandboxOptions):
        raise InvalidRequest(f"make_sandbox() takes SandboxOptions, not {type(options).__name__}")
    return provider_sandbox(provider, options or SandboxOptions())
