"""What a provider's sandbox is: the `Sandbox` protocol and the `SandboxOptions` it is built with.

The floor a provider's ``make_sandbox`` hook stands on (the hook specifications
name these types): it imports nothing of paycore. Building, serving and
resending live above, in `paycore.sandbox`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

__all__ = ["Sandbox", "SandboxOptions"]


@dataclass(frozen=True)
class SandboxOptions:
    """How to run a sandbox.

    ``profile`` names how notifications are resent (provider-defined; juhe has
    ``document``, ``realistic`` and ``fast``) and ``notify_interval`` overrides its
    seconds between tries. ``faults`` are switched on for every order.
    ``state_path`` keeps state in a SQLite file instead of memory. ``channels``
    adds the provider's channel codes to those it accepts by default. ``strict``
    follows the protocol's document to the letter where the reference software
    is more lenient (provider-defined). ``certificates`` runs a gateway that
    signs with public key certificates instead of bare keys, where the protocol
    has such a mode (alipay's certificate mode). ``credentials`` gives a
    multi-key protocol's sandbox the secret settings to use instead of generating
    its own (by setting name, e.g. wechatpay's ``apiv3_key`` and ``private_key``):
    a sandbox refuses names it does not take.
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
    certificates: bool = False
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)


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

    def attempts(self, order_id: str | None = None) -> Sequence[Any]:
        """Every notification try so far, oldest first (each an `Attempt`, or the provider's own record)."""

    def wait_for_notifications(self, order_id: str, timeout: float = 30.0) -> Sequence[Any]:
        """Block until the order's notifications are over (acknowledged, or out of tries); return its tries."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
