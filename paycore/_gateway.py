"""Gateways: what a merchant application calls.

`Gateway` (on `httpx.Client`) and `AsyncGateway` (on
`httpx.AsyncClient`) have the same methods and drive the same provider
flows; only the sending differs::

    with paycore.Gateway.from_config() as gateway:
        payment = gateway.create(order)
        ...
        notification = gateway.verify_notification(notification_request)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import time
import traceback
from collections.abc import Generator, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import pydantic

from paycore import _deadline, _logs
from paycore._answers import DEFAULT_MAX_ANSWER_BYTES, aread_capped, read_capped
from paycore._deadline import DEFAULT_DEADLINE, deadline_scope
from paycore._plugins import MIN_MASKED_SECRET, ProviderRuntime, start_provider
from paycore._text import clip
from paycore.config import load_config, seconds_setting
from paycore.errors import (
    AmountMismatch,
    ConfigError,
    InvalidRequest,
    MalformedAmount,
    MalformedNotification,
    MerchantMismatch,
    MissingField,
    NotSupported,
    PaycoreError,
    ProtocolError,
    ProviderError,
    SignatureError,
    TransportError,
    VerificationError,
)
from paycore.http import NotificationRequest, Reply
from paycore.models import (
    MAX_ORDER_AMOUNT,
    REFUND_ID_PATTERN,
    BrowserReturn,
    Channel,
    CreateFlow,
    Notification,
    Order,
    Payment,
    Refund,
)
from paycore.provider import Capabilities, Operation, Provider
from paycore.signatures import DIGEST_PREFIX, KEY_PLACEHOLDER, SignatureExplanation, withheld_digest
from paycore.toolkit import utf8

__all__ = ["DEFAULT_FAILURE_REPLY", "DEFAULT_TIMEOUT", "AsyncGateway", "Gateway"]

#: The failure reply of a provider without a ``failure_reply`` hook: any gateway resends on it.
DEFAULT_FAILURE_REPLY = Reply(body="fail", status=400)
# What failure_reply() tells the provider, by error: short, and never holding "ok".
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (SignatureError, "bad signature"),
    (MerchantMismatch, "wrong merchant"),
    (AmountMismatch, "amount mismatch"),
    (MissingField, "missing field"),
    (MalformedAmount, "malformed amount"),
    (MalformedNotification, "malformed notification"),
    (VerificationError, "not verified"),
    (PaycoreError, "not accepted"),
)
_SAYS_OK = re.compile(rb"ok", re.IGNORECASE)
_UNSAFE_REASON = re.compile(r"ok|[\x00-\x1f\x7f]", re.IGNORECASE)

#: Connect fast or fail; give a slow gateway ten seconds to answer.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

# No NullHandler here: a process that configured no handler for these records (uvicorn's default
# logging configures only its own loggers) would then never show a refused notification or a failed
# payment. Python's last-resort handler prints WARNING and above to stderr until the application
# routes the "paycore" logger itself.
logger = logging.getLogger("paycore")
_T = TypeVar("_T")
_ReadT = TypeVar("_ReadT", Notification, BrowserReturn)
_Flow = Generator[httpx.Request, httpx.Response, _T]

_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# An order id as any gateway may hold one: printable ASCII, no spaces, bounded.
_ORDER_REFERENCE = re.compile(r"[\x21-\x7e]{1,128}")
_REFUND_ID = re.compile(REFUND_ID_PATTERN.strip("^$"))

# Failures that happen before a single byte can have reached the gateway: a retry
# after one of these cannot create a second payment.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.LocalProtocolError, httpx.ProxyError)


def _target(request: httpx.Request) -> str:
    # Scheme, host, port and path only: a query or userinfo may carry credentials.
    return f"{request.method} {_logs.safe_target(request.url)}"


def _transport_error(exc: Exception, request: httpx.Request) -> PaycoreError:
    target = _target(request)
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


class _BaseGateway:
    """What both gateways share: the provider, the checks, the logging."""

    def __init__(
        self,
        provider: str | type[Provider[Any]],
        settings: Mapping[str, Any] | pydantic.BaseModel | None = None,
        *,
        account: str = "default",
        timeout: httpx.Timeout | float | None = None,
        deadline: float | None = None,
        max_answer_bytes: int | None = None,
        create_flow: CreateFlow | str | None = None,
    ) -> None:
        # The call's own arguments first: a bad one is refused before a provider loads.
        if not isinstance(account, str) or not _ACCOUNT_NAME.fullmatch(account):
            raise ConfigError("account must be a name of letters, digits, '_' and '-' (at most 64)")
        try:
            default_flow = CreateFlow.SERVER if create_flow is None else CreateFlow(create_flow)
        except ValueError:
            raise ConfigError("create_flow must be 'server' or 'form'") from None
        self._timeout = _client_timeout(timeout)
        self._deadline = DEFAULT_DEADLINE if deadline is None else seconds_setting("deadline", deadline)
        limit = DEFAULT_MAX_ANSWER_BYTES if max_answer_bytes is None else max_answer_bytes
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError("max_answer_bytes must be a positive whole number of bytes")
        self._runtime: ProviderRuntime = start_provider(provider, settings or {}, account=account)
        self._closed = False
        _logs.declare_secret_parameters(type(self._runtime.provider).secret_parameters)
        _logs.install()
        provider_limit = self.provider.max_answer_bytes
        self._max_answer_bytes = min(limit, provider_limit) if provider_limit else limit
        if default_flow not in type(self.provider).create_flows:
            served = ", ".join(sorted(flow.value for flow in type(self.provider).create_flows))
            raise ConfigError(
                f"account {account!r}: provider {self.provider_name!r} has no {default_flow.value!r} create flow "
                f"(it has: {served})"
            )
        self._default_flow = default_flow

    @property
    def create_flow(self) -> CreateFlow:
        """How ``create`` makes a payment when not told: the account's ``create_flow`` setting."""
        return self._default_flow

    @property
    def deadline(self) -> float:
        """Seconds one call may take in all (every request of it, connect to last byte)."""
        return self._deadline

    @property
    def max_answer_bytes(self) -> int:
        """The most bytes read of one answer: the gateway's limit, or the provider's if lower."""
        return self._max_answer_bytes

    @property
    def account(self) -> str:
        """The configured account this gateway serves."""
        return self._runtime.provider.account

    @property
    def provider_name(self) -> str:
        """The provider's name, e.g. ``"juhe"``."""
        return self._runtime.provider.name

    @property
    def provider(self) -> Provider[Any]:
        """The provider instance (its settings hold secrets as SecretStr)."""
        return self._runtime.provider

    @property
    def capabilities(self) -> Capabilities:
        """What the provider supports."""
        return self._runtime.capabilities

    def __repr__(self) -> str:
        return f"<{type(self).__name__} account={self.account!r} provider={self.provider_name!r}>"

    def _create_flow(self, order: Order, flow: CreateFlow | str | None) -> _Flow[Payment]:
        if not isinstance(order, Order):
            raise InvalidRequest(f"create() takes a paycore.Order, not {type(order).__name__}")
        try:
            create_flow = self._default_flow if flow is None else CreateFlow(flow)
        except ValueError:
            raise InvalidRequest(f"unknown create flow {clip(str(flow))!r} (one of: server, form)") from None
        if create_flow not in type(self.provider).create_flows:
            raise NotSupported(
                f"provider {self.provider_name!r} does not support the {create_flow.value!r} create flow"
            )
        provider_class = type(self.provider)
        if isinstance(order.channel, Channel) and not self.provider.serves(order.channel):
            served = ", ".join(sorted(c.value for c in Channel if self.provider.serves(c))) or "none"
            raise InvalidRequest(
                f"provider {self.provider_name!r} does not serve channel {order.channel.value!r} (it serves: {served})"
            )
        if order.currency not in provider_class.currencies:
            # Sent on, the same number would be paid in the gateway's currency.
            taken = ", ".join(sorted(provider_class.currencies))
            raise InvalidRequest(
                f"provider {self.provider_name!r} does not take orders in {order.currency} (it takes: {taken})"
            )
        limit = provider_class.max_order_amount
        if limit is not None and order.amount > limit:
            raise InvalidRequest(f"provider {self.provider_name!r} takes orders of at most {limit}")
        needed = provider_class.order_fields_for(order.channel, create_flow)
        if needed:
            missing = sorted(name for name in needed if getattr(order, name) is None)
            if missing:
                raise InvalidRequest(
                    f"provider {self.provider_name!r} needs the order's {', '.join(missing)} "
                    f"for channel {clip(str(order.channel))!r} on the {create_flow.value!r} create flow"
                )
        hook = self._runtime.hook(Operation.CREATE)
        return self._checked_flow(hook(order=order, flow=create_flow))

    def _order_flow(self, operation: Operation, order_id: str) -> _Flow[Payment]:
        if not isinstance(order_id, str) or not _ORDER_REFERENCE.fullmatch(order_id):
            raise InvalidRequest("order_id must be 1 to 128 printable ASCII characters without spaces")
        hook = self._runtime.hook(operation)
        return self._checked_flow(hook(order_id=order_id))

    def _refund_flow(self, order_id: str, refund_id: str, amount: Decimal | None, reason: str | None) -> _Flow[Refund]:
        if not isinstance(order_id, str) or not _ORDER_REFERENCE.fullmatch(order_id):
            raise InvalidRequest("order_id must be 1 to 128 printable ASCII characters without spaces")
        if not isinstance(refund_id, str) or not _REFUND_ID.fullmatch(refund_id):
            raise InvalidRequest("refund_id must be 1 to 64 letters, digits, '_' or '-' (store it before asking)")
        if amount is None:
            return self._checked_refund_flow(
                self._runtime.hook(Operation.REFUND_QUERY)(order_id=order_id, refund_id=refund_id)
            )
        if type(amount) is not Decimal or not amount.is_finite() or amount <= 0 or amount > MAX_ORDER_AMOUNT:
            raise InvalidRequest(
                f"a refund amount is a positive Decimal of at most {MAX_ORDER_AMOUNT} (money is never a float)"
            )
        if reason is not None and (not isinstance(reason, str) or len(reason) > 256 or utf8(reason) is None):
            raise InvalidRequest("a refund reason is text of at most 256 characters")
        hook = self._runtime.hook(Operation.REFUND)
        return self._checked_refund_flow(hook(order_id=order_id, refund_id=refund_id, amount=amount, reason=reason))

    def _checked_refund_flow(self, flow: object) -> _Flow[Refund]:
        if not isinstance(flow, Generator):
            raise ProviderError(f"provider {self.provider_name!r} returned {type(flow).__name__}, not a flow generator")
        return flow

    def _checked_flow(self, flow: object) -> _Flow[Payment]:
        if not isinstance(flow, Generator):
            raise ProviderError(f"provider {self.provider_name!r} returned {type(flow).__name__}, not a flow generator")
        return flow

    def _observed(self, operation: Operation, order_id: str | None) -> _Observed:
        """Wrap provider bugs as ProviderError and log the outcome, never a secret."""
        return _Observed(self, operation, order_id)

    def _log(
        self,
        operation: Operation,
        order_id: str | None,
        outcome: str,
        started: float,
        exchanges: list[tuple[httpx.Request, int]],
    ) -> None:
        level = logging.INFO if outcome == "ok" else logging.WARNING
        if logger.isEnabledFor(level):
            duration_ms = (time.perf_counter() - started) * 1000
            sent = [f"{_target(request)} -> {status}" for request, status in exchanges]
            requests = "; ".join(sent) or "none"
            logger.log(
                level,
                "%s account=%s provider=%s order_id=%s outcome=%s duration_ms=%.1f requests=%s",
                operation.value,
                self.account,
                self.provider_name,
                clip(order_id) if order_id is not None else None,
                outcome,
                duration_ms,
                requests,
                extra={
                    "paycore_operation": operation.value,
                    "paycore_account": self.account,
                    "paycore_provider": self.provider_name,
                    "paycore_order_id": order_id,
                    "paycore_outcome": outcome,
                    "paycore_duration_ms": duration_ms,
                    "paycore_requests": sent,
                },
            )

    def verify_notification(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> Notification:
        """Verify a notification from the gateway; pure, no I/O.

        ``request`` is the `paycore.NotificationRequest` as received (see
        `paycore.web` to build one from your framework's request). For protocols
        that POST a form, the raw body (bytes or str) or a mapping your framework
        parsed are shortcuts; raw bytes are best, as some gateways send bodies a
        form parser misreads. Answer the gateway with ``notification.ack``, and
        with `failure_reply` when you do not accept it.
        """
        if type(request) is bytes:  # the common shortcut skips every check below
            request = NotificationRequest.of_body(request)
        elif not isinstance(request, NotificationRequest):
            request = _notification_request(request)
        return self._read(Operation.VERIFY, request, Notification)

    def failure_reply(self, reason: BaseException | str | None = None) -> Reply:
        """The answer telling the gateway that a notification was not accepted, so that it resends.

        ``reason`` (the error that refused it, or a short phrase) becomes a short
        phrase for protocols whose failure answer carries one. Never raises: a
        provider hook that fails, or that answers with the letters "ok" in any case
        (which some gateways count as received), gives `DEFAULT_FAILURE_REPLY`.
        """
        phrase = _reason_phrase(reason)
        if Operation.FAILURE_REPLY not in self._runtime.operations:
            return DEFAULT_FAILURE_REPLY
        try:
            given: object = self._runtime.hook(Operation.FAILURE_REPLY)(reason=phrase)
        except Exception as exc:  # noqa: BLE001  # an error answer must always be given
            logger.warning("provider %s failed to build its failure reply (%s)", self.provider_name, type(exc).__name__)
            return DEFAULT_FAILURE_REPLY
        reply: Reply | None = None
        if isinstance(given, Reply):
            try:
                # Rebuilt from its fields: a subclass could send other bytes than its fields say.
                reply = Reply(
                    body=given.body, status=given.status, content_type=given.content_type, headers=given.headers
                )
            except PaycoreError:
                reply = None
        if reply is None or _SAYS_OK.search(reply.content):
            logger.warning(
                "provider %s gave a failure reply that is not a Reply or holds 'ok': answered %r instead",
                self.provider_name,
                DEFAULT_FAILURE_REPLY.body,
            )
            return DEFAULT_FAILURE_REPLY
        return reply

    def parse_return(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> BrowserReturn:
        """Read the buyer's browser return (to ``return_url``): for display, never proof of payment.

        A present but wrong signature is `paycore.SignatureError`; a return
        without one is read with ``signature_checked=False``. Either way,
        ``claimed_status`` is a claim: an order is paid when a verified
        notification or a query says so. NotSupported if the provider cannot read
        its returns.
        """
        self._runtime.hook(Operation.RETURN)  # NotSupported before the request is looked at
        if not isinstance(request, NotificationRequest):
            request = _notification_request(request)
        return self._read(Operation.RETURN, request, BrowserReturn)

    def _read(self, operation: Operation, request: NotificationRequest, kind: type[_ReadT]) -> _ReadT:
        """Call a pure hook that reads what was received; its result must be a ``kind`` (with an order id)."""
        hook = self._runtime.hook(operation)
        observed = self._observed(operation, None)
        with observed:
            result = hook(request=request)
            if not isinstance(result, kind):
                raise ProviderError(
                    f"provider {self.provider_name!r} returned {type(result).__name__}, not a {kind.__name__}"
                )
            observed.order_id = result.order_id
            return result
        raise observed.failure()

    def notification_order_id(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> str | None:
        """The order id a notification *claims*, unverified, or None; for routing only.

        An application that stores each order's account uses it to pick the
        account that must verify the notification (`paycore.Accounts` does).
        NotSupported if the provider cannot tell.
        """
        hook = self._runtime.hook(Operation.ROUTE)
        if not isinstance(request, NotificationRequest):
            request = _notification_request(request)
        observed = self._observed(Operation.ROUTE, None)
        with observed:
            claimed = hook(request=request)
            if claimed is not None and not isinstance(claimed, str):
                raise ProviderError(f"provider {self.provider_name!r} returned {type(claimed).__name__}, not an id")
            return claimed or None
        raise observed.failure()

    def explain_signature(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> SignatureExplanation:
        """Explain the signature of a received message: the text signed under each rule, and which matched.

        For ``paycore sign explain`` and the merchant's own diagnostics only: it
        signs whatever it is given with the account's key (a signing oracle), so
        never expose it to anyone who could send it messages. The key never
        appears in the result (any secret a provider left in is replaced by
        `paycore.signatures.KEY_PLACEHOLDER`). NotSupported if the provider
        cannot explain.
        """
        hook = self._runtime.hook(Operation.EXPLAIN)
        if not isinstance(request, NotificationRequest):
            request = _notification_request(request)
        observed = self._observed(Operation.EXPLAIN, None)
        with observed:
            explanation = hook(request=request)
            if not isinstance(explanation, SignatureExplanation):
                raise ProviderError(
                    f"provider {self.provider_name!r} returned {type(explanation).__name__}, not a SignatureExplanation"
                )
            return _explanation_masked(explanation, self._runtime.masked_secrets)
        raise observed.failure()


def _explanation_masked(explanation: SignatureExplanation, secrets: tuple[str, ...]) -> SignatureExplanation:
    # A digest that was not received is a signature of whatever was given, made with the account's key:
    # printed whole, explaining a tampered notification would forge it. Only a prefix is shown.
    withheld = {
        candidate.digest: withheld_digest(candidate.digest)
        for candidate in explanation.candidates
        if not candidate.matched and len(candidate.digest) > DIGEST_PREFIX
    }

    def mask(text: str | None) -> str | None:
        if text is None:
            return None
        for secret in secrets:  # longest first
            text = text.replace(secret, KEY_PLACEHOLDER)
        for digest, prefix in withheld.items():
            text = text.replace(digest, prefix)
        return text

    candidates = tuple(
        dataclasses.replace(
            candidate,
            label=str(mask(candidate.label)),
            signed_text=str(mask(candidate.signed_text)),
            digest=candidate.digest if candidate.matched else withheld_digest(candidate.digest),
            dropped=tuple(str(mask(name)) for name in candidate.dropped),
        )
        for candidate in explanation.candidates
    )
    return dataclasses.replace(
        explanation,
        rule=str(mask(explanation.rule)),
        received=mask(explanation.received),
        problem=mask(explanation.problem),
        candidates=candidates,
    )


def _notification_request(request: object) -> NotificationRequest:
    """A shortcut (a body, or fields a framework parsed) as the POST it stands for; typed errors otherwise."""
    if isinstance(request, bytes | bytearray | memoryview | str):
        return NotificationRequest(body=request)
    if isinstance(request, Mapping):
        return NotificationRequest.of_form(request)
    raise InvalidRequest(
        f"a notification is a paycore.NotificationRequest, bytes, str or a mapping, not {type(request).__name__}"
    )


def _reason_phrase(reason: BaseException | str | None) -> str:
    if isinstance(reason, str):
        return reason if 0 < len(reason) <= 100 and not _UNSAFE_REASON.search(reason) else "not accepted"
    if isinstance(reason, BaseException):
        return next((phrase for kind, phrase in _REASONS if isinstance(reason, kind)), "server error")
    return "not accepted"


def _scrub(error: PaycoreError, secrets: tuple[str, ...]) -> None:
    """Make ``error`` safe to log: no secret in its message, none anywhere in its chain.

    Its own message (and ``gateway_message``, ``gateway_code``) has every secret, raw or URL-encoded,
    masked. Its chain is cut when any linked exception is not a paycore error (a
    foreign exception may carry anything: a request URL with a key, a whole
    document) or reveals a secret; both ``__cause__`` and ``__context__`` are walked.
    """
    if secrets:
        error.args = tuple(_masked(arg, secrets) if isinstance(arg, str) else arg for arg in error.args)
        for attribute in ("gateway_message", "gateway_code"):
            said = getattr(error, attribute, None)
            if isinstance(said, str):
                setattr(error, attribute, _masked(said, secrets))
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


def _masked(text: str, secrets: tuple[str, ...]) -> str:
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


def _where(exc: BaseException) -> str:
    """Where ``exc`` was raised, as ``file.py:line``: enough to find a bug, nothing of its data."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown place"
    return f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}"


class _Observed:
    """The context of one gateway call: logs its outcome, and turns a provider bug into ProviderError.

    A class, not @contextmanager, as verify is a hot path. A provider's own
    exception is never chained into the ProviderError (it may hold a signing
    string, and so the key): ``__exit__`` swallows it and the caller raises
    `failure()` after the ``with`` block, outside any exception handling, so
    not even ``__context__`` points back at it::

        observed = self._observed(operation, order_id)
        with observed:
            return ...
        raise observed.failure()
    """

    __slots__ = ("_error", "_gateway", "_operation", "_started", "exchanges", "order_id", "sent")
    _error: PaycoreError | None

    def __init__(self, gateway: _BaseGateway, operation: Operation, order_id: str | None) -> None:
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

    def __enter__(self) -> _Observed:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        gateway = self._gateway
        if exc is None:
            gateway._log(self._operation, self.order_id, "ok", self._started, self.exchanges)
            return False
        if isinstance(exc, InvalidRequest) and self.sent and not gateway._closed:
            # "Refused before any I/O" no longer holds: the gateway has the request,
            # and what it answered could not be represented (a pay URL paycore refuses).
            gateway._log(self._operation, self.order_id, "ProtocolError", self._started, self.exchanges)
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
            gateway._log(self._operation, self.order_id, type(exc).__name__, self._started, self.exchanges)
            _scrub(exc, gateway._runtime.masked_secrets)
            return False
        if not isinstance(exc, Exception):  # KeyboardInterrupt and friends pass through untouched
            gateway._log(self._operation, self.order_id, type(exc).__name__, self._started, self.exchanges)
            return False
        gateway._log(self._operation, self.order_id, "ProviderError", self._started, self.exchanges)
        self._error = ProviderError(
            f"provider {gateway.provider_name!r} failed during {self._operation.value}: "
            f"{type(exc).__name__} at {_where(exc)}"
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


def _client_timeout(timeout: httpx.Timeout | float | None) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        for name in ("connect", "read", "write", "pool"):
            value = getattr(timeout, name)
            if value is not None:
                seconds_setting(f"timeout.{name}", value)
        return timeout
    seconds = seconds_setting("timeout", timeout)
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


class Gateway(_BaseGateway):
    """A synchronous gateway on one pooled `httpx.Client`.

    Pass ``client`` to use your own client (the gateway then leaves it open), or
    ``transport`` for a custom transport such as `httpx.MockTransport`.
    """

    def __init__(
        self,
        provider: str | type[Provider[Any]],
        settings: Mapping[str, Any] | pydantic.BaseModel | None = None,
        *,
        account: str = "default",
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        deadline: float | None = None,
        max_answer_bytes: int | None = None,
        create_flow: CreateFlow | str | None = None,
    ) -> None:
        super().__init__(
            provider,
            settings,
            account=account,
            timeout=timeout,
            deadline=deadline,
            max_answer_bytes=max_answer_bytes,
            create_flow=create_flow,
        )
        self._owns_client = client is None
        self._client = client
        self._transport = transport
        self._client_lock = threading.Lock()

    @property
    def http_client(self) -> httpx.Client:
        """The pooled HTTP client, made on first use: its TLS setup costs tens of milliseconds."""
        if self._closed:
            raise InvalidRequest("this gateway has been closed")
        client = self._client
        if client is None:
            with self._client_lock:
                if self._closed:  # closed by another thread meanwhile
                    raise InvalidRequest("this gateway has been closed")
                if self._client is None:
                    made = httpx.Client(transport=self._transport, timeout=self._timeout)
                    _deadline.install(made)
                    self._client = made
                client = self._client
        return client

    @classmethod
    def from_config(
        cls,
        account: str | None = None,
        path: str | os.PathLike[str] | None = None,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        deadline: float | None = None,
        max_answer_bytes: int | None = None,
        create_flow: CreateFlow | str | None = None,
    ) -> Self:
        """Build the gateway of a configured account (see `paycore.config`)."""
        config = load_config(path).account(account)
        return cls(
            config.provider,
            config.settings,
            account=config.name,
            client=client,
            transport=transport,
            timeout=timeout if timeout is not None else config.timeout,
            deadline=deadline if deadline is not None else config.deadline,
            max_answer_bytes=max_answer_bytes,
            create_flow=create_flow if create_flow is not None else config.create_flow,
        )

    def create(self, order: Order, *, flow: CreateFlow | str | None = None) -> Payment:
        """Create the payment of ``order``: a pending Payment whose ``next_action`` says what the buyer does.

        ``flow`` defaults to the account's ``create_flow`` (`create_flow`).
        """
        observed = self._observed(Operation.CREATE, getattr(order, "order_id", None))
        with observed:
            return self._run(self._create_flow(order, flow), observed)
        raise observed.failure()

    def query(self, order_id: str) -> Payment:
        """Ask the gateway where the payment of ``order_id`` stands."""
        observed = self._observed(Operation.QUERY, order_id)
        with observed:
            return self._run(self._order_flow(Operation.QUERY, order_id), observed)
        raise observed.failure()

    def close_payment(self, order_id: str) -> Payment:
        """Close the unpaid payment of ``order_id``; NotSupported if the provider cannot."""
        observed = self._observed(Operation.CLOSE, order_id)
        with observed:
            return self._run(self._order_flow(Operation.CLOSE, order_id), observed)
        raise observed.failure()

    def refund(self, order_id: str, *, refund_id: str, amount: Decimal, reason: str | None = None) -> Refund:
        """Refund ``amount`` of the paid ``order_id`` as the merchant's refund ``refund_id``.

        Store ``refund_id`` before calling, and call again with the same id after
        any failure (``may_have_reached_gateway`` or not): the gateway refunds once.
        NotSupported if the provider cannot refund.
        """
        observed = self._observed(Operation.REFUND, order_id)
        with observed:
            return self._run(self._refund_flow(order_id, refund_id, amount, reason), observed)
        raise observed.failure()

    def query_refund(self, order_id: str, refund_id: str) -> Refund:
        """Where the refund ``refund_id`` of ``order_id`` stands."""
        observed = self._observed(Operation.REFUND_QUERY, order_id)
        with observed:
            return self._run(self._refund_flow(order_id, refund_id, None, None), observed)
        raise observed.failure()

    def _run(self, flow: _Flow[_T], observed: _Observed) -> _T:
        try:
            with deadline_scope(self._deadline):
                request = next(flow)
                while True:
                    _ = self.http_client  # a closed gateway refuses here, before anything is sent
                    observed.sent = True
                    request = flow.send(observed.exchanged(request, self._send(request)))
        except StopIteration as done:
            result: _T = done.value
            return result
        finally:
            flow.close()

    def _send(self, request: httpx.Request) -> httpx.Response:
        _logs.remember_origin(request.url)
        try:
            _deadline.check_before_sending()
            return read_capped(self.http_client.send(request, stream=True), self._max_answer_bytes)
        except (httpx.TransportError, httpx.InvalidURL, httpx.DecodingError) as exc:
            failure = _transport_error(exc, request)
        # Raised outside the handler: httpx's exception holds the request, its URL may hold a key.
        raise failure

    def close(self) -> None:
        """Close the HTTP client, unless the caller passed its own."""
        with self._client_lock:
            self._closed = True
            if self._owns_client and self._client is not None:
                self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncGateway(_BaseGateway):
    """An asynchronous gateway on one pooled `httpx.AsyncClient`.

    The same methods as `Gateway`, awaited; ``verify_notification`` stays
    a plain call because it does no I/O.
    """

    def __init__(
        self,
        provider: str | type[Provider[Any]],
        settings: Mapping[str, Any] | pydantic.BaseModel | None = None,
        *,
        account: str = "default",
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        deadline: float | None = None,
        max_answer_bytes: int | None = None,
        create_flow: CreateFlow | str | None = None,
    ) -> None:
        super().__init__(
            provider,
            settings,
            account=account,
            timeout=timeout,
            deadline=deadline,
            max_answer_bytes=max_answer_bytes,
            create_flow=create_flow,
        )
        self._owns_client = client is None
        self._client = client
        self._transport = transport

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The pooled HTTP client, made on first use: its TLS setup costs tens of milliseconds."""
        if self._closed:
            raise InvalidRequest("this gateway has been closed")
        if self._client is None:
            made = httpx.AsyncClient(transport=self._transport, timeout=self._timeout)
            _deadline.install(made)
            self._client = made
        return self._client

    @classmethod
    def from_config(
        cls,
        account: str | None = None,
        path: str | os.PathLike[str] | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        deadline: float | None = None,
        max_answer_bytes: int | None = None,
        create_flow: CreateFlow | str | None = None,
    ) -> Self:
        """Build the gateway of a configured account (see `paycore.config`)."""
        config = load_config(path).account(account)
        return cls(
            config.provider,
            config.settings,
            account=config.name,
            client=client,
            transport=transport,
            timeout=timeout if timeout is not None else config.timeout,
            deadline=deadline if deadline is not None else config.deadline,
            max_answer_bytes=max_answer_bytes,
            create_flow=create_flow if create_flow is not None else config.create_flow,
        )

    async def create(self, order: Order, *, flow: CreateFlow | str | None = None) -> Payment:
        """Create the payment of ``order``: a pending Payment whose ``next_action`` says what the buyer does.

        ``flow`` defaults to the account's ``create_flow`` (`create_flow`).
        """
        observed = self._observed(Operation.CREATE, getattr(order, "order_id", None))
        with observed:
            return await self._run(self._create_flow(order, flow), observed)
        raise observed.failure()

    async def query(self, order_id: str) -> Payment:
        """Ask the gateway where the payment of ``order_id`` stands."""
        observed = self._observed(Operation.QUERY, order_id)
        with observed:
            return await self._run(self._order_flow(Operation.QUERY, order_id), observed)
        raise observed.failure()

    async def close_payment(self, order_id: str) -> Payment:
        """Close the unpaid payment of ``order_id``; NotSupported if the provider cannot."""
        observed = self._observed(Operation.CLOSE, order_id)
        with observed:
            return await self._run(self._order_flow(Operation.CLOSE, order_id), observed)
        raise observed.failure()

    async def refund(self, order_id: str, *, refund_id: str, amount: Decimal, reason: str | None = None) -> Refund:
        """Refund ``amount`` of the paid ``order_id`` as the merchant's refund ``refund_id`` (see `Gateway.refund`)."""
        observed = self._observed(Operation.REFUND, order_id)
        with observed:
            return await self._run(self._refund_flow(order_id, refund_id, amount, reason), observed)
        raise observed.failure()

    async def query_refund(self, order_id: str, refund_id: str) -> Refund:
        """Where the refund ``refund_id`` of ``order_id`` stands."""
        observed = self._observed(Operation.REFUND_QUERY, order_id)
        with observed:
            return await self._run(self._refund_flow(order_id, refund_id, None, None), observed)
        raise observed.failure()

    async def _run(self, flow: _Flow[_T], observed: _Observed) -> _T:
        try:
            with deadline_scope(self._deadline):
                request = next(flow)
                while True:
                    _ = self.http_client  # a closed gateway refuses here, before anything is sent
                    observed.sent = True
                    request = flow.send(observed.exchanged(request, await self._send(request)))
        except StopIteration as done:
            result: _T = done.value
            return result
        finally:
            flow.close()

    async def _send(self, request: httpx.Request) -> httpx.Response:
        _logs.remember_origin(request.url)
        try:
            _deadline.check_before_sending()
            return await aread_capped(await self.http_client.send(request, stream=True), self._max_answer_bytes)
        except (httpx.TransportError, httpx.InvalidURL, httpx.DecodingError) as exc:
            failure = _transport_error(exc, request)
        # Raised outside the handler: httpx's exception holds the request, its URL may hold a key.
        raise failure

    async def close(self) -> None:
        """Close the HTTP client, unless the caller passed its own (same as ``aclose``)."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client, unless the caller passed its own."""
        self._closed = True
        if self._owns_client and self._client is not None:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
