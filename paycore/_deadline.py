"""A total deadline for one gateway call, enforced on every socket operation.

httpx's timeouts bound each network operation, not a call: a server that sends
one byte every half second never trips a 10-second read timeout and can hold a
payment request for hours. paycore sets a deadline for each call (a context
variable) and wraps the network backend of its own HTTP client so that every
connect, read and write waits at most until that deadline. Past it, the operation
fails as httpx's own timeout would, and the gateway reports a `TransportError`.

The backend is reached through httpx's connection pool (``_pool._network_backend``),
which httpx does not publish; `install` checks what it finds and leaves a client
it does not recognise alone (the deadline is then checked between requests and
between chunks of an answer only). The end-to-end test of a dripping server
fails if a new httpx release moves it.
"""

from __future__ import annotations

import contextvars
import ssl
import time
import typing
from collections.abc import Iterable

import httpcore
import httpx

__all__ = [
    "DEFAULT_DEADLINE",
    "check_before_sending",
    "check_while_reading",
    "deadline_scope",
    "install",
    "passed",
    "remaining",
]

#: Seconds one call may take in all: connect, send, wait and read, every request of it.
DEFAULT_DEADLINE = 20.0

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("paycore_deadline", default=None)
_Timeout = type[httpcore.TimeoutException]


class deadline_scope:  # used like a function: ``with deadline_scope(20.0):``
    """Within the block, socket operations end at ``seconds`` from now."""

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._token: contextvars.Token[float | None] | None = None

    def __enter__(self) -> None:
        self._token = _deadline.set(time.monotonic() + self._seconds)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _deadline.reset(self._token)


def remaining() -> float | None:
    """Seconds left before the current call's deadline, None outside a call."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def passed() -> bool:
    left = remaining()
    return left is not None and left <= 0


def check_before_sending() -> None:
    """Before a request: httpx's PoolTimeout (nothing sent) if the call's deadline has passed."""
    if passed():
        raise httpx.PoolTimeout("paycore's deadline for this call has passed")


def check_while_reading() -> None:
    """Between chunks of an answer: httpx's ReadTimeout if the call's deadline has passed."""
    if passed():
        raise httpx.ReadTimeout("paycore's deadline for this call has passed")


def _bounded(timeout: float | None, timeout_class: _Timeout) -> float | None:
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise timeout_class("paycore's deadline for this call has passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_unix_socket(path, bounded, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def install(client: httpx.Client | httpx.AsyncClient) -> bool:
    """Wrap the network backend of every pool of ``client`` (made by paycore); True if any was."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    wrapped = False
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, _Backend | _AsyncBackend):
            wrapped = True
        elif isinstance(backend, httpcore.NetworkBackend):
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]  # checked: a pool with a backend
            wrapped = True
        elif isinstance(backend, httpcore.AsyncNetworkBackend):
            pool._network_backend = _AsyncBackend(backend)  # type: ignore[union-attr]  # checked: a pool with a backend
            wrapped = True
    return wrapped
