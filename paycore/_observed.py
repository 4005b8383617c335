"""One observed gateway call: its log line, and the translation of what went wrong into paycore errors.

Every call a gateway makes (a create, a query, verifying a notification) runs
inside an `Observed`: it logs one line per call (operation, account, order,
outcome, duration, requests; never a secret, never a query string), turns an
httpx failure into a `TransportError` that says whether the gateway may have
received the request, turns a provider's bug into a `ProviderError`, and cuts
any secret out of an error and its chain before the caller sees it.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from types import TracebackType
from typing import Protocol

import httpx

from paycore import _deadline, _logs
from paycore._plugins import MIN_MASKED_SECRET, ProviderRuntime
from paycore._text import clip
from paycore.errors import ConfigError, InvalidRequest, PaycoreError, ProtocolError, ProviderError, TransportError
from paycore.provider import Operation

__all__ = ["Observed", "ObservedGateway", "logger", "masked", "request_target", "scrub", "transport_error", "where"]

# No NullHandler here: a process that configured no handler for these records (uvicorn's default
# logging configures only its own loggers) would then never show a refused notification or a failed
# payment. Python's last-resort handler prints WARNING and above to stderr until the application
# routes the "paycore" logger itself.
logger = logging.getLogger("paycore")

# Failures that happen before a single byte can have reached the gateway: a retry
# after one of these cannot create a second payment.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.LocalProtocolError, httpx.ProxyError)


class ObservedGateway(Protocol):
    """What an `Observed` call reads of its gateway."""

    _closed: bool
    _runtime: ProviderRuntime

    @property
    def account(self) -> str: ...

    @property
    def provider_name(self) -> str: ...


def request_target(request: httpx.Request) -> str:
    # Scheme, host, port and path only: a query or userinfo may carry credentials.
    return f"{request.method} {_logs.safe_target(request.url)}"


def transport_error(exc: Exception, request: httpx.Request) -> PaycoreError:
    target = request_target(request)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigError(f"cannot send {target}: {exc}")
    if isinstance(exc, httpx.InvalidURL):
        # The request's URL was parsed when it was built: what fails here is the
        # Location of a redirect the gateway answered with.
        return ProtocolError(f"gateway answered {target} with a redirect to an invalid URL")
    if isinstance(exc, httpx.DecodingError):
        return TransportError(
            f"gateway's answer to {target} could not be decoded ({type(exc).__name__}; the gateway received it)",
            may_have_reached_gateway=True,
        )
    reached = not isinstance(exc, _NOT_SENT)
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException) and _deadline.passed():
        kind = "the call's deadline passed"
    hint = "the gateway may have received it" if reached else "the gateway cannot have received it"
    return TransportError(f"{kind} on {target} ({hint})", may_have_reached_gateway=reached)


def scrub(error: PaycoreError, secrets: tuple[str, ...]) -> None:
    """Make ``error`` safe to log: no secret in its message, none anywhere in its chain.

    Its own message (and ``gateway_message``, ``gateway_code``) has every secret, raw or URL-encoded,
    masked. Its chain is cut when any linked exception is not a paycore error (a
    foreign exception may carry anything: a request URL with a key, a whole
    document) or reveals a secret; both ``__cause__`` and ``__context__`` are walked.
    """
    if secrets:
        error.args = tuple(masked(arg, secrets) if isinstance(arg, str) else arg for arg in error.args)
        for attribute in ("gateway_message", "gateway_code"):
            said = getattr(error, attribute, None)
            if isinstance(said, str):
                setattr(error, attribute, masked(said, secrets))
    seen: set[int] = set()
    pending: list[BaseException | None] = [error.__cause__, error.__context__]
    while pending:
        link = pending.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        if not isinstance(link, PaycoreError) or any(secret in f"{link}{link.args!r}" for secret in secrets):
            error.__cause__ = None
            error.__context__ = None
            error.__suppress_context__ = True
            return
        pending += [link.__cause__, link.__context__]


def masked(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    # A message clipped for length may end inside a secret (a gateway's page echoing a
    # URL with a key in it): any run of six characters or more that begins a secret goes too.
    for secret in secrets:
        head = secret[:MIN_MASKED_SECRET]
        start = text.find(head)
        while start != -1:
            length = MIN_MASKED_SECRET
            while start + length < len(text) and length < len(secret) and text[start + length] == secret[length]:
                length += 1
            text = text[:start] + "***" + text[start + length :]
            start = text.find(head, start + 3)
    return text


def where(exc: BaseException) -> str:
    """Where ``exc`` was raised, as ``file.py:line``: enough to find a bug, nothing of its data."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown place"
    return f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}"


class Observed:
    """The context of one gateway call: logs its outcome, and turns a provider bug into ProviderError.

    A class, not @contextmanager, as verify is a hot path. A provider's own
    exception is never chained into the ProviderError (it may hold a signing
    string, and so the key): ``__exit__`` swallows it and the caller raises
    `failure()` after the ``with`` block, outside any exception handling, so
    not even ``__context__`` points back at it::

        observed = self._observe(operation, order_id)
        with observed:
            return ...
        raise observed.failure()
    """

    __slots__ = ("_error", "_gateway", "_operation", "_started", "exchanges", "order_id", "sent")
    _error: PaycoreError | None

    def __init__(self, gateway: ObservedGateway, operation: Operation, order_id: str | None) -> None:
        self._gateway = gateway
        self._operation = operation
        #: the order the call is about; verify learns it only from the notification
        self.order_id = order_id if isinstance(order_id, str) else None
        self._started = 0.0
        self._error = None
        #: each request sent and its answer's status, for the log line
        self.exchanges: list[tuple[httpx.Request, int]] = []
        #: whether a request of this call has been handed to the network
        self.sent = False

    def __enter__(self) -> Observed:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        gateway = self._gateway
        if exc is None:
            self._log("ok")
            return False
        if isinstance(exc, InvalidRequest) and self.sent and not gateway._closed:
            # "Refused before any I/O" no longer holds: the gateway has the request,
            # and what it answered could not be represented (a pay URL paycore refuses).
            self._log("ProtocolError")
            self._error = ProtocolError(f"the gateway's answer could not be used: {clip(str(exc), 300)}")
            return True
        if isinstance(exc, PaycoreError):
            if self.exchanges and not exc.may_have_reached_gateway:
                # An earlier request of this call was answered: the gateway has it,
                # whatever stopped a later one before it left.
                exc.may_have_reached_gateway = True
                if isinstance(exc, TransportError):
                    exc.args = (f"{exc.args[0]}; an earlier request of this call did reach the gateway",)
            elif self.sent and not isinstance(exc, TransportError):
                exc.may_have_reached_gateway = True  # raised after a request was sent
            self._log(type(exc).__name__)
            scrub(exc, gateway._runtime.masked_secrets)
            return False
        if not isinstance(exc, Exception):  # KeyboardInterrupt and friends pass through untouched
            self._log(type(exc).__name__)
            return False
        self._log("ProviderError")
        self._error = ProviderError(
            f"provider {gateway.provider_name!r} failed during {self._operation.value}: "
            f"{type(exc).__name__} at {where(exc)}"
            + (" (after a request was sent: the gateway may have received it)" if self.sent else ""),
            may_have_reached_gateway=self.sent,
        )
        return True

    def exchanged(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        """Note one request and its answer for the log line (written out only if logged); hand the answer on."""
        self.exchanges.append((request, response.status_code))
        return response

    def failure(self) -> PaycoreError:
        """The error standing for the exception that ``__exit__`` swallowed."""
        if self._error is None:  # pragma: no cover - only reached after __exit__ swallowed one
            return ProviderError(f"provider {self._gateway.provider_name!r} failed during {self._operation.value}")
        return self._error

    def _log(self, outcome: str) -> None:
        operation, order_id, gateway = self._operation, self.order_id, self._gateway
        level = logging.INFO if outcome == "ok" else logging.WARNING
        if logger.isEnabledFor(level):
            duration_ms = (time.perf_counter() - self._started) * 1000
            sent = [f"{request_target(request)} -> {status}" for request, status in self.exchanges]
            requests = "; ".join(sent) or "none"
            logger.log(
                level,
                "%s account=%s provider=%s order_id=%s outcome=%s duration_ms=%.1f requests=%s",
                operation.value,
                gateway.account,
                gateway.provider_name,
                clip(order_id) if order_id is not None else None,
                outcome,
                duration_ms,
                requests,
                extra={
                    "paycore_operation": operation.value,
                    "paycore_account": gateway.account,
                    "paycore_provider": gateway.provider_name,
                    "paycore_order_id": order_id,
                    "paycore_outcome": outcome,
                    "paycore_duration_ms": duration_ms,
                    "paycore_requests": sent,
                },
            )
