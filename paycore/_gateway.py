"""Gateways: what a merchant application calls.

`Gateway` (on `httpx.Client`) and `AsyncGateway` (on `httpx.AsyncClient`) have
the same methods and run the same calls (`paycore._gateway_core`): each call is
a sans-I/O flow, and a gateway only sends the requests it yields. That sending
is all that is written twice::

    with paycore.Gateway.from_config() as gateway:
        payment = gateway.create(order)
        ...
        notification = gateway.verify_notification(notification_request)
"""

from __future__ import annotations

from decimal import Decimal
from types import TracebackType
from typing import Self, TypeVar

import httpx

from paycore._answers import aread_capped, read_capped
from paycore._flows import FlowRun
from paycore._gateway_core import DEFAULT_TIMEOUT, Call, GatewayCore
from paycore._reading import DEFAULT_FAILURE_REPLY
from paycore.models import CreateFlow, Order, Payment, Refund
from paycore.provider import Operation

__all__ = ["DEFAULT_FAILURE_REPLY", "DEFAULT_TIMEOUT", "AsyncGateway", "Gateway"]

_T = TypeVar("_T")


class Gateway(GatewayCore[httpx.Client, httpx.BaseTransport]):
    """A synchronous gateway on one pooled `httpx.Client`.

    Pass ``client`` to use your own client (the gateway then leaves it open), or
    ``transport`` for a custom transport such as `httpx.MockTransport`.
    """

    def create(self, order: Order, *, flow: CreateFlow | str | None = None) -> Payment:
        """Create the payment of ``order``: a pending Payment whose ``next_action`` says what the buyer does.

        ``flow`` defaults to the account's ``create_flow`` (`create_flow`).
        """
        return self._drive(self._create_call(order, flow))

    def query(self, order_id: str) -> Payment:
        """Ask the gateway where the payment of ``order_id`` stands."""
        return self._drive(self._order_call(Operation.QUERY, order_id))

    def close_payment(self, order_id: str) -> Payment:
        """Close the unpaid payment of ``order_id``; NotSupported if the provider cannot."""
        return self._drive(self._order_call(Operation.CLOSE, order_id))

    def refund(
        self,
        order_id: str,
        *,
        refund_id: str,
        amount: Decimal,
        reason: str | None = None,
        order_amount: Decimal | None = None,
    ) -> Refund:
        """Refund ``amount`` of the paid ``order_id`` as the merchant's refund ``refund_id``.

        Store ``refund_id`` before calling, and call again with the same id after
        any failure (``may_have_reached_gateway`` or not): the gateway refunds once.
        ``order_amount``, the order's total, is for gateways that want it with each
        refund (WeChat Pay); paycore checks that ``amount`` does not exceed it.
        NotSupported if the provider cannot refund.
        """
        return self._drive(self._refund_call(Operation.REFUND, order_id, refund_id, amount, reason, order_amount))

    def query_refund(self, order_id: str, refund_id: str) -> Refund:
        """Where the refund ``refund_id`` of ``order_id`` stands."""
        return self._drive(self._refund_call(Operation.REFUND_QUERY, order_id, refund_id, None, None))

    def _drive(self, call: Call[_T]) -> _T:
        return FlowRun(call).drive(self._send)

    def _send(self, request: httpx.Request, run: FlowRun[httpx.Request, _T]) -> None:
        try:
            run.reply(read_capped(self.http_client.send(request, stream=True), self._max_answer_bytes))
        except BaseException as exc:  # noqa: BLE001  # handed to the call, which translates, logs and raises it
            run.fail(exc)

    def _new_client(self, transport: httpx.BaseTransport | None, timeout: httpx.Timeout) -> httpx.Client:
        return httpx.Client(transport=transport, timeout=timeout)

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


class AsyncGateway(GatewayCore[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """An asynchronous gateway on one pooled `httpx.AsyncClient`.

    The same methods as `Gateway`, awaited; ``verify_notification`` stays
    a plain call because it does no I/O.
    """

    async def create(self, order: Order, *, flow: CreateFlow | str | None = None) -> Payment:
        """Create the payment of ``order``: a pending Payment whose ``next_action`` says what the buyer does.

        ``flow`` defaults to the account's ``create_flow`` (`create_flow`).
        """
        return await self._drive(self._create_call(order, flow))

    async def query(self, order_id: str) -> Payment:
        """Ask the gateway where the payment of ``order_id`` stands."""
        return await self._drive(self._order_call(Operation.QUERY, order_id))

    async def close_payment(self, order_id: str) -> Payment:
        """Close the unpaid payment of ``order_id``; NotSupported if the provider cannot."""
        return await self._drive(self._order_call(Operation.CLOSE, order_id))

    async def refund(
        self,
        order_id: str,
        *,
        refund_id: str,
        amount: Decimal,
        reason: str | None = None,
        order_amount: Decimal | None = None,
    ) -> Refund:
        """Refund ``amount`` of the paid ``order_id`` as the merchant's refund ``refund_id`` (see `Gateway.refund`)."""
        refund = self._refund_call(Operation.REFUND, order_id, refund_id, amount, reason, order_amount)
        return await self._drive(refund)

    async def query_refund(self, order_id: str, refund_id: str) -> Refund:
        """Where the refund ``refund_id`` of ``order_id`` stands."""
        return await self._drive(self._refund_call(Operation.REFUND_QUERY, order_id, refund_id, None, None))

    async def _drive(self, call: Call[_T]) -> _T:
        run = FlowRun(call)
        for request in run:
            await self._send(request, run)
        return run.result

    async def _send(self, request: httpx.Request, run: FlowRun[httpx.Request, _T]) -> None:
        try:
            answer = await self.http_client.send(request, stream=True)
            run.reply(await aread_capped(answer, self._max_answer_bytes))
        except BaseException as exc:  # noqa: BLE001  # handed to the call, which translates, logs and raises it
            run.fail(exc)

    def _new_client(self, transport: httpx.AsyncBaseTransport | None, timeout: httpx.Timeout) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, timeout=timeout)

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
