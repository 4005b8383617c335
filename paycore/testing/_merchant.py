"""A merchant in miniature for end-to-end tests: a gateway, its orders, and its endpoints on a loopback socket."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Self

import httpx

from paycore import web
from paycore._accounts import Accounts
from paycore._gateway import Gateway
from paycore.errors import PaycoreError
from paycore.handler import AppliedPayment, NotificationHandler, OrderRecord
from paycore.models import BrowserReturn, Order
from paycore.provider import Provider
from paycore.stores import MemoryStore
from paycore.testing._server import LoopbackServer

__all__ = ["Merchant"]


class Merchant:
    """A shop as a gateway sees it: orders created through one account, a notify endpoint, a return page.

    It serves on 127.0.0.1 (a free port): ``POST``/``GET`` to ``/notify/<account>``
    go to a `paycore.NotificationHandler` that applies each payment once (a
    `paycore.stores.MemoryStore`) into ``paid``; ``/return`` reads the buyer's
    return with ``gateway.parse_return`` into ``returns`` and shows a page with
    ``<p id="thanks">`` (a return that does not verify gets a 400). ``answers`` scripts the first answers of the notify
    endpoint (before the handler's), to test a gateway's resends: a text (answered with status 200) or a
    ``(status, text)`` pair, for gateways that read the status::

        with sandbox, Merchant("epay", sandbox.account_settings(), client_ip="127.0.0.1") as shop:
            order = shop.order(amount=Decimal("12.50"), channel="alipay_qr", subject="Green tea")
            shop.gateway.create(order)
            sandbox.pay(order.order_id)
            sandbox.wait_for_notifications(order.order_id)
            assert [payment.order_id for payment in shop.paid] == [order.order_id]

    ``order_defaults`` (keyword arguments) are the fields of every `order` unless
    given; ``notify_url`` and ``return_url`` point at this merchant.
    """

    def __init__(
        self,
        provider: str | type[Provider[Any]],
        settings: Mapping[str, Any],
        *,
        account: str = "main",
        answers: Iterable[str | tuple[int, str]] = (),
        **order_defaults: Any,
    ) -> None:
        self.account = account
        self.gateway = Gateway(provider, dict(settings), account=account)
        self.orders: dict[str, OrderRecord] = {}
        self.paid: list[AppliedPayment] = []
        self.returns: list[BrowserReturn] = []
        #: the HTTP method of each request to the notify endpoint, in order
        self.notify_methods: list[str] = []
        self.answers: list[str | tuple[int, str]] = list(answers)
        self.order_defaults = order_defaults
        self.handler = NotificationHandler(
            Accounts({account: self.gateway}), lookup=self.orders.get, on_paid=self.paid.append, store=MemoryStore()
        )
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._serve)

    def __repr__(self) -> str:
        return f"<Merchant account={self.account!r} orders={len(self.orders)} paid={len(self.paid)}>"

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def notify_url(self) -> str:
        return f"{self.url}/notify/{self.account}"

    @property
    def return_url(self) -> str:
        return f"{self.url}/return"

    def order(self, **fields: Any) -> Order:
        """A new order (``order_defaults`` and ``fields``), known to the notify endpoint from now on."""
        order = Order(**{"notify_url": self.notify_url, "return_url": self.return_url, **self.order_defaults, **fields})
        self.orders[order.order_id] = OrderRecord(order.order_id, order.amount, order.currency, self.account)
        return order

    def _serve(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/return":
            try:
                shown = self.gateway.parse_return(web.from_httpx(request))
            except PaycoreError as exc:
                return httpx.Response(400, text=f"not a return: {type(exc).__name__}")
            with self._lock:
                self.returns.append(shown)
            return httpx.Response(200, text='<p id="thanks">thanks</p>', headers={"content-type": "text/html"})
        with self._lock:
            self.notify_methods.append(request.method)
            if self.answers:
                scripted = self.answers.pop(0)
                status, text = scripted if isinstance(scripted, tuple) else (200, scripted)
                return httpx.Response(status, text=text)
        return web.to_httpx(self.handler.process(web.from_httpx(request)).reply)

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self.gateway.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
