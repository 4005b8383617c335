"""The shop as a Starlette application: ``create_app(ShopSettings.from_environment())``."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pydantic
import segno
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

import paycore
from examples.shop.catalog import PRODUCTS
from examples.shop.orders import ShopOrder
from examples.shop.pages import admin_page, order_page, pay_page, products_page
from examples.shop.settings import ShopSettings
from examples.shop.wiring import NOTIFY_PATH, Shop
from paycore import web

__all__ = ["create_app"]

_NEXT_ACTION: pydantic.TypeAdapter[paycore.NextAction] = pydantic.TypeAdapter(paycore.NextAction)


def create_app(settings: ShopSettings) -> Starlette:
    """The shop's routes over one `Shop`; it closes its gateways when the application shuts down."""
    shop = Shop(settings)

    def base_url(request: Request) -> str:
        return settings.base_url or str(request.base_url).rstrip("/")

    async def form(request: Request) -> dict[str, str]:
        # Parsed here: Starlette's own form parser needs python-multipart, which a shop need not install.
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        return {name: values[0] for name, values in fields.items()}

    def order_of(request: Request) -> ShopOrder | None:
        return shop.orders.get(str(request.path_params["order_id"]))

    async def products(request: Request) -> Response:
        channels = await run_in_threadpool(shop.channels)
        return HTMLResponse(products_page(PRODUCTS.values(), channels, shop.accounts.gateway().account))

    async def checkout(request: Request) -> Response:
        fields = await form(request)
        product = PRODUCTS.get(fields.get("sku", ""))
        channels = await run_in_threadpool(shop.channels)
        chosen = fields.get("channel", "")
        channel = next((channel for channel in channels if channel.value == chosen), None)
        if product is None or channel is None:
            return HTMLResponse("no such product or payment method", status_code=400)
        client_ip = request.client.host if request.client else "127.0.0.1"
        try:
            order = await run_in_threadpool(
                shop.checkout, product, channel, base_url=base_url(request), client_ip=client_ip
            )
        except paycore.PaycoreError as exc:
            # The order is stored: a create that may have reached the gateway is settled by reconciliation.
            return HTMLResponse(f"the payment could not be started: {type(exc).__name__}", status_code=502)
        return RedirectResponse(f"/orders/{order.order_id}/pay", status_code=303)

    async def pay(request: Request) -> Response:
        order = order_of(request)
        if order is None:
            return HTMLResponse("no such order", status_code=404)
        action = None if order.next_action is None else _NEXT_ACTION.validate_json(order.next_action)
        return HTMLResponse(pay_page(order, action))

    async def qr_code(request: Request) -> Response:
        order = order_of(request)
        if order is None or order.next_action is None:
            return Response(status_code=404)
        action = _NEXT_ACTION.validate_json(order.next_action)
        if not isinstance(action, paycore.QrCode):
            return Response(status_code=404)
        drawn = io.BytesIO()
        segno.make(action.content, error="m").save(drawn, kind="svg", scale=4)
        return Response(drawn.getvalue(), media_type="image/svg+xml")

    async def status(request: Request) -> Response:
        order = order_of(request)
        if order is None:
            return JSONResponse({"status": "unknown"}, status_code=404)
        return JSONResponse({"status": order.status.value})

    async def returned(request: Request) -> Response:
        order = order_of(request)
        if order is None:
            return HTMLResponse("no such order", status_code=404)
        claimed = None
        received = await web.from_starlette(request)
        gateway = shop.accounts[order.account]
        if paycore.Operation.RETURN in gateway.capabilities.operations:
            try:
                claimed = gateway.parse_return(received)  # display only: anyone can send a browser here
            except paycore.PaycoreError:
                claimed = None
        # The notification may not have arrived yet: ask the gateway, and apply what it says, once. A failed
        # query shows the order as it stands; the notification or reconciliation settles it.
        with contextlib.suppress(paycore.PaycoreError):
            order = await run_in_threadpool(shop.confirm, order)
        return HTMLResponse(order_page(order, claimed))

    async def admin(request: Request) -> Response:
        orders = [(order, shop.refunds_possible(order)) for order in shop.orders.all()]
        return HTMLResponse(admin_page(orders, request.query_params.get("message", "")))

    async def refund(request: Request) -> Response:
        order = order_of(request)
        if order is None or not shop.refunds_possible(order):
            return RedirectResponse("/admin?message=not+refundable", status_code=303)
        try:
            refunded = await run_in_threadpool(shop.refund, order)
        except paycore.PaycoreError as exc:
            return RedirectResponse(f"/admin?message=refund+failed:+{type(exc).__name__}", status_code=303)
        return RedirectResponse(f"/admin?message=refund+{refunded.status.value}", status_code=303)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        shop.close()

    app = Starlette(
        routes=[
            Route("/", products),
            Route("/checkout", checkout, methods=["POST"]),
            Route("/orders/{order_id}/pay", pay),
            Route("/orders/{order_id}/qr.svg", qr_code),
            Route("/orders/{order_id}/status", status),
            Route("/orders/{order_id}/return", returned, methods=["GET", "POST"]),
            Route("/admin", admin),
            Route("/admin/orders/{order_id}/refund", refund, methods=["POST"]),
            Mount(NOTIFY_PATH, app=web.asgi_app(shop.handler)),
        ],
        lifespan=lifespan,
    )
    app.state.shop = shop
    return app
