"""One test, run through `paycore.Gateway` and `paycore.AsyncGateway` in turn.

A provider's flows are shared by both gateways, but each gateway drives them
(deadlines, answer limits, errors) with its own code: a test should pass through
both. `GatewayUnderTest` gives the test one blocking interface and runs each call
through the kind it was made for, on a gateway opened for that call::

    under_test = GatewayUnderTest("async", "juhe", settings, transport=httpx.MockTransport(peer))
    payment = under_test.create(order)      # an AsyncGateway, on a fresh event loop

The pytest plugin's ``paycore_any_gateway`` fixture makes one per parametrized kind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal, TypeVar

import httpx

from paycore._gateway import AsyncGateway, Gateway
from paycore.errors import InvalidRequest
from paycore.http import NotificationRequest, Reply
from paycore.models import BrowserReturn, CreateFlow, Notification, Order, Payment, Refund
from paycore.provider import Provider
from paycore.signatures import SignatureExplanation

__all__ = ["GatewayKind", "GatewayUnderTest"]

#: Which gateway class runs the calls.
GatewayKind = Literal["sync", "async"]

_T = TypeVar("_T")
_Received = NotificationRequest | bytes | str | Mapping[str, str]


class GatewayUnderTest:
    """Blocking calls, each through a new `Gateway` (``"sync"``) or `AsyncGateway` (``"async"``)."""

    def __init__(
        self,
        kind: GatewayKind,
        provider: str | type[Provider[Any]],
        settings: Mapping[str, Any] | None = None,
        *,
        account: str = "main",
        transport: httpx.MockTransport | Callable[[httpx.Request], httpx.Response] | None = None,
        **options: Any,
    ) -> None:
        if kind not in ("sync", "async"):
            raise InvalidRequest(f"a gateway kind is 'sync' or 'async', not {kind!r}")
        self.kind: GatewayKind = kind
        self.provider = provider
        self.settings = dict(settings or {})
        self.account = account
        #: None for real HTTP (a sandbox's URL in the settings); a handler is wrapped in a MockTransport
        self.transport = (
            transport
            if transport is None or isinstance(transport, httpx.MockTransport)
            else httpx.MockTransport(transport)
        )
        self.options = options

    def __repr__(self) -> str:
        name = self.provider if isinstance(self.provider, str) else self.provider.__name__
        return f"<GatewayUnderTest {self.kind} provider={name!r} account={self.account!r}>"

    def gateway(self) -> Gateway:
        """A synchronous gateway with this configuration (for what both kinds share: pure hooks)."""
        return Gateway(self.provider, self.settings, account=self.account, transport=self.transport, **self.options)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.kind == "sync":
            with self.gateway() as gateway:
                return getattr(gateway, name)(*args, **kwargs)

        async def run() -> Any:
            async with AsyncGateway(
                self.provider, self.settings, account=self.account, transport=self.transport, **self.options
            ) as gateway:
                result = getattr(gateway, name)(*args, **kwargs)
                return await result if asyncio.iscoroutine(result) else result

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(run())
        raise InvalidRequest("GatewayUnderTest blocks: call it from a plain test, not from a running event loop")

    def create(self, order: Order, *, flow: CreateFlow | str | None = None) -> Payment:
        result: Payment = self._call("create", order, flow=flow)
        return result

    def query(self, order_id: str) -> Payment:
        result: Payment = self._call("query", order_id)
        return result

    def close_payment(self, order_id: str) -> Payment:
        result: Payment = self._call("close_payment", order_id)
        return result

    def refund(
        self,
        order_id: str,
        *,
        refund_id: str,
        amount: Decimal,
        reason: str | None = None,
        order_amount: Decimal | None = None,
    ) -> Refund:
        result: Refund = self._call(
            "refund", order_id, refund_id=refund_id, amount=amount, reason=reason, order_amount=order_amount
        )
        return result

    def query_refund(self, order_id: str, refund_id: str) -> Refund:
        result: Refund = self._call("query_refund", order_id, refund_id)
        return result

    def explain_signature(self, request: _Received) -> SignatureExplanation:
        result: SignatureExplanation = self._call("explain_signature", request)
        return result

    def verify_notification(self, request: _Received) -> Notification:
        result: Notification = self._call("verify_notification", request)
        return result

    def failure_reply(self, reason: BaseException | str | None = None) -> Reply:
        result: Reply = self._call("failure_reply", reason)
        return result

    def parse_return(self, request: _Received) -> BrowserReturn:
        result: BrowserReturn = self._call("parse_return", request)
        return result

    def notification_order_id(self, request: _Received) -> str | None:
        result: str | None = self._call("notification_order_id", request)
        return result
