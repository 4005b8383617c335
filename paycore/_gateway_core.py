"""What `paycore.Gateway` and `paycore.AsyncGateway` are, written once: set-up, checks, and each call as a flow.

A gateway call (create, query, close, refund, query a refund) is one sans-I/O
generator, `GatewayCore._call`: the checks made before any I/O, the provider's
own flow, the call's deadline, its log line and the translation of failures. It
yields each `httpx.Request` to send and receives its `httpx.Response` (or the
exception sending raised). The two gateways only send: `paycore._gateway` drives
the same calls with an `httpx.Client` and an `httpx.AsyncClient`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Generator, Mapping
from decimal import Decimal
from typing import Any, Generic, Self, TypeVar

import httpx
import pydantic

from paycore import _deadline, _logs
from paycore._answers import DEFAULT_MAX_ANSWER_BYTES
from paycore._deadline import DEFAULT_DEADLINE, deadline_scope
from paycore._kinds import REFUND_ID_PATTERN
from paycore._observed import Observed, transport_error
from paycore._plugins import ProviderRuntime, start_provider
from paycore._reading import GatewayReading
from paycore._text import clip
from paycore.config import load_config, seconds_setting
from paycore.errors import ConfigError, InvalidRequest, NotSupported, ProviderError
from paycore.models import MAX_ORDER_AMOUNT, Channel, CreateFlow, Order, Payment, Refund
from paycore.provider import Capabilities, Operation, Provider
from paycore.toolkit import utf8

__all__ = ["DEFAULT_TIMEOUT", "ORDER_REFERENCE", "Call", "GatewayCore"]

#: Connect fast or fail; give a slow gateway ten seconds to answer.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

#: An order id as any gateway may hold one: printable ASCII, no spaces, bounded.
ORDER_REFERENCE = re.compile(r"[\x21-\x7e]{1,128}")
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_REFUND_ID = re.compile(REFUND_ID_PATTERN.strip("^$"))

_T = TypeVar("_T")
_ClientT = TypeVar("_ClientT", httpx.Client, httpx.AsyncClient)
_TransportT = TypeVar("_TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)
#: A provider's flow: it yields requests, receives their answers, returns the result.
_Flow = Generator[httpx.Request, httpx.Response, _T]
#: A whole gateway call: the same, with the answers as the network gave them (or what sending raised).
Call = Generator[httpx.Request, httpx.Response, _T]


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


class GatewayCore(GatewayReading, Generic[_ClientT, _TransportT]):
    """A gateway on one pooled HTTP client of type ``_ClientT``; the subclass says how to make one and send."""

    def __init__(
        self,
        provider: str | type[Provider[Any]],
        settings: Mapping[str, Any] | pydantic.BaseModel | None = None,
        *,
        account: str = "default",
        client: _ClientT | None = None,
        transport: _TransportT | None = None,
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
        self._owns_client = client is None
        self._client: _ClientT | None = client
        self._transport: _TransportT | None = transport
        self._client_lock = threading.Lock()

    @classmethod
    def from_config(
        cls,
        account: str | None = None,
        path: str | os.PathLike[str] | None = None,
        *,
        client: _ClientT | None = None,
        transport: _TransportT | None = None,
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
    def provider(self) -> Provider[Any]:
        """The provider instance (its settings hold secrets as SecretStr)."""
        return self._runtime.provider

    @property
    def capabilities(self) -> Capabilities:
        """What the provider supports."""
        return self._runtime.capabilities

    @property
    def http_client(self) -> _ClientT:
        """The pooled HTTP client, made on first use: its TLS setup costs tens of milliseconds."""
        if self._closed:
            raise InvalidRequest("this gateway has been closed")
        client = self._client
        if client is None:
            with self._client_lock:
                if self._closed:  # closed by another thread meanwhile
                    raise InvalidRequest("this gateway has been closed")
                if self._client is None:
                    made = self._new_client(self._transport, self._timeout)
                    _deadline.install(made)
                    self._client = made
                client = self._client
        return client

    def _new_client(self, transport: _TransportT | None, timeout: httpx.Timeout) -> _ClientT:
        raise NotImplementedError  # pragma: no cover - each gateway makes its own kind

    def __repr__(self) -> str:
        return f"<{type(self).__name__} account={self.account!r} provider={self.provider_name!r}>"

    # -- each call, as one flow ------------------------------------------------------------------

    def _create_call(self, order: Order, flow: CreateFlow | str | None) -> Call[Payment]:
        return self._call(Operation.CREATE, getattr(order, "order_id", None), lambda: self._create_flow(order, flow))

    def _order_call(self, operation: Operation, order_id: str) -> Call[Payment]:
        return self._call(operation, order_id, lambda: self._order_flow(operation, order_id))

    def _refund_call(
        self,
        operation: Operation,
        order_id: str,
        refund_id: str,
        amount: Decimal | None,
        reason: str | None,
        order_amount: Decimal | None = None,
    ) -> Call[Refund]:
        return self._call(
            operation, order_id, lambda: self._refund_flow(order_id, refund_id, amount, reason, order_amount)
        )

    def _call(self, operation: Operation, order_id: object, start: Callable[[], _Flow[_T]]) -> Call[_T]:
        """One observed call: the checks and the provider's flow (``start``), each request yielded to be sent."""
        observed = self._observe(operation, order_id if isinstance(order_id, str) else None)
        with observed:
            flow = start()
            try:
                with deadline_scope(self._deadline):
                    request = next(flow)
                    while True:
                        response = yield from self._exchange(request, observed)
                        request = flow.send(response)
            except StopIteration as done:
                result: _T = done.value
                return result
            finally:
                flow.close()
        raise observed.failure()

    def _exchange(self, request: httpx.Request, observed: Observed) -> Generator[httpx.Request, Any, httpx.Response]:
        """Have the driver send ``request``; its answer, or a paycore error for what sending raised."""
        _ = self.http_client  # made (or refused, when closed) before anything counts as sent
        observed.sent = True
        _logs.remember_origin(request.url)
        try:
            _deadline.check_before_sending()
            response: httpx.Response = yield request
        except (httpx.TransportError, httpx.InvalidURL, httpx.DecodingError) as exc:
            failure = transport_error(exc, request)
        else:
            return observed.exchanged(request, response)
        # Raised outside the handler: httpx's exception holds the request, its URL may hold a key.
        raise failure

    # -- the checks before any I/O ---------------------------------------------------------------

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
        if not isinstance(order_id, str) or not ORDER_REFERENCE.fullmatch(order_id):
            raise InvalidRequest("order_id must be 1 to 128 printable ASCII characters without spaces")
        hook = self._runtime.hook(operation)
        return self._checked_flow(hook(order_id=order_id))

    def _refund_flow(
        self,
        order_id: str,
        refund_id: str,
        amount: Decimal | None,
        reason: str | None,
        order_amount: Decimal | None = None,
    ) -> _Flow[Refund]:
        if not isinstance(order_id, str) or not ORDER_REFERENCE.fullmatch(order_id):
            raise InvalidRequest("order_id must be 1 to 128 printable ASCII characters without spaces")
        if not isinstance(refund_id, str) or not _REFUND_ID.fullmatch(refund_id):
            raise InvalidRequest("refund_id must be 1 to 64 letters, digits, '_' or '-' (store it before asking)")
        if amount is None:
            query = self._runtime.hook(Operation.REFUND_QUERY)
            return self._checked_flow(query(order_id=order_id, refund_id=refund_id))
        if type(amount) is not Decimal or not amount.is_finite() or amount <= 0 or amount > MAX_ORDER_AMOUNT:
            raise InvalidRequest(
                f"a refund amount is a positive Decimal of at most {MAX_ORDER_AMOUNT} (money is never a float)"
            )
        if reason is not None and (not isinstance(reason, str) or len(reason) > 256 or utf8(reason) is None):
            raise InvalidRequest("a refund reason is text of at most 256 characters")
        arguments: dict[str, object] = {
            "order_id": order_id,
            "refund_id": refund_id,
            "amount": amount,
            "reason": reason,
        }
        if order_amount is not None:
            if (
                type(order_amount) is not Decimal
                or not order_amount.is_finite()
                or not 0 < order_amount <= MAX_ORDER_AMOUNT
            ):
                raise InvalidRequest("order_amount is the order's total: a positive Decimal (money is never a float)")
            if amount > order_amount:
                raise InvalidRequest(f"a refund of {amount} is more than the order's {order_amount}")
        hook = self._runtime.hook(Operation.REFUND)  # NotSupported first
        if "order_amount" in self._runtime.arguments[Operation.REFUND]:
            arguments["order_amount"] = order_amount
        return self._checked_flow(hook(**arguments))

    def _checked_flow(self, flow: Any) -> _Flow[Any]:
        if not isinstance(flow, Generator):
            raise ProviderError(f"provider {self.provider_name!r} returned {type(flow).__name__}, not a flow generator")
        return flow
