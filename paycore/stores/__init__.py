"""Where the notification handler records what it applied: one small protocol, several stores.

A store answers one question atomically — *may this delivery apply this payment?* —
and remembers the answer. `claim` returns:

- ``CLAIMED`` with a token: yours. Apply it, then `complete` (or `release` if
  applying failed, so that the gateway's next resend tries again);
- ``APPLIED``: applied before. Acknowledge again, apply nothing;
- ``BUSY``: another delivery holds the claim right now. Answer a failure the
  gateway retries; by then the holder has completed or released it.

A claim is a lease: if its holder dies (a killed process), the claim expires after
``lease`` seconds and the next delivery takes it over. So a callback must finish
well within the lease (60 s by default).

Stores: `MemoryStore` (tests, one process), `paycore.stores.sqlite.SQLiteStore`
(the default: a file, safe across processes on one machine),
`paycore.stores.redis.RedisStore` and `paycore.stores.postgres.PostgresStore`
(several machines; extras ``paycore[redis]``, ``paycore[postgres]``).
"""

from __future__ import annotations

import enum
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "DEFAULT_LEASE",
    "AsyncNotificationStore",
    "Claim",
    "ClaimResult",
    "MemoryStore",
    "NotificationStore",
    "new_token",
]

#: Seconds a claim holds before another delivery may take it over (its holder presumed dead).
DEFAULT_LEASE = 60.0


class Claim(enum.StrEnum):
    """What `NotificationStore.claim` found."""

    CLAIMED = "claimed"
    APPLIED = "applied"
    BUSY = "busy"


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """The outcome of a claim; ``token`` proves ownership when ``CLAIMED``."""

    outcome: Claim
    token: str | None = None


def new_token() -> str:
    """A claim token no other delivery can guess."""
    return secrets.token_hex(16)


@runtime_checkable
class NotificationStore(Protocol):
    """Atomic claims on payments being applied, and a durable record of those applied."""

    def claim(self, key: str, lease: float = DEFAULT_LEASE) -> ClaimResult:
        """Claim ``key`` for ``lease`` seconds, unless it was applied or is held by a live claim."""

    def complete(self, key: str, token: str, record: str) -> bool:
        """Mark ``key`` applied with ``record`` (JSON text), always; False if ``token`` no longer held the claim.

        Called once the callback has returned: the payment *was* applied, so it is
        recorded even when the lease ran out meanwhile (else every resend would apply
        it again). False tells the caller another delivery may have applied it too.
        """

    def release(self, key: str, token: str) -> None:
        """Give the claim up (applying failed): the next delivery may claim ``key`` again."""

    def applied(self, key: str) -> str | None:
        """The record of ``key`` if it was applied, else None."""


@runtime_checkable
class AsyncNotificationStore(Protocol):
    """`NotificationStore` with coroutine methods, for `paycore.AsyncNotificationHandler`
    (`paycore.stores.redis.AsyncRedisStore`). The async handler awaits them on its loop;
    it runs a synchronous store's methods in a worker thread instead."""

    async def claim(self, key: str, lease: float = DEFAULT_LEASE) -> ClaimResult:
        """See `NotificationStore.claim`."""

    async def complete(self, key: str, token: str, record: str) -> bool:
        """See `NotificationStore.complete`."""

    async def release(self, key: str, token: str) -> None:
        """See `NotificationStore.release`."""

    async def applied(self, key: str) -> str | None:
        """See `NotificationStore.applied`."""


class MemoryStore:
    """A store in this process's memory: for tests and single-process demos. Lost on exit.

    It never blocks, so the async handler calls it directly rather than in a worker thread.
    """

    #: False: calls return at once (no I/O); the async handler need not move them to a thread
    blocking = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[str, tuple[str, float]] = {}
        self._applied: dict[str, str] = {}

    def claim(self, key: str, lease: float = DEFAULT_LEASE) -> ClaimResult:
        with self._lock:
            if key in self._applied:
                return ClaimResult(Claim.APPLIED)
            held = self._claims.get(key)
            now = time.monotonic()
            if held is not None and held[1] > now:
                return ClaimResult(Claim.BUSY)
            token = new_token()
            self._claims[key] = (token, now + lease)
            return ClaimResult(Claim.CLAIMED, token)

    def complete(self, key: str, token: str, record: str) -> bool:
        with self._lock:
            held = self._claims.get(key)
            self._applied.setdefault(key, record)
            if held is None or held[0] != token:
                return False
            del self._claims[key]
            return True

    def release(self, key: str, token: str) -> None:
        with self._lock:
            held = self._claims.get(key)
            if held is not None and held[0] == token:
                del self._claims[key]

    def applied(self, key: str) -> str | None:
        with self._lock:
            return self._applied.get(key)
