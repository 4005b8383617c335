"""The shop as a Starlette application.

    uvicorn --factory examples.shop.app:create_app    # settings from the environment (ShopSettings)

The admin pages (``/admin``) answer only to HTTP Basic ``admin`` / ``SHOP_ADMIN_TOKEN``
(off without a token), and each refund form carries a token tied to its order, so
that another site cannot make an administrator's browser refund.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

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

__all__ = ["MAX_FORM_BYTES", "create_app", "refund_token"]

#: the largest form the shop reads (a checkout or a refund holds a few short fields)
MAX_FORM_BYTES = 4096


def refund_token(admin_token: str, order_id: str) -> str:
    """The token a refund form of ``order_id`` carries: only a page the shop served knows it."""
    return hmac.new(admin_token.encode(), f"refund {order_id}".encode(), hashlib.sha256).hexdigest()


def _is_admin(request: Request, admin_token: str) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    expected = f"admin:{admin_token}".encode()
    return hmac.compare_digest(f"{user}:{password}".encode(), expected)


async def _form(request: Request) -> dict[str, str] | None:
    """The posted form's fields, or None when it is larger than a form of the shop's can be.

    Parsed here: Starlette's own form parser needs python-multipart, which a shop need not install.
    """
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"))
    return {name: values[0] for name, values in fields.items()}


def create_app(settings: ShopSettings | None = None) -> Starlette:
    """The shop's routes over one `Shop` (settings from the environment when none are given)."""
    settings = settings or ShopSettings.from_environment()
    shop = Shop(settings)
    admin_only = HTMLResponse(
        "the admin pages need the admin password (SHOP_ADMIN_TOKEN)",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="shop admin"'},
    )

    def order_of(request: Request) -> ShopOrder | None:
        return shop.orders.get(str(request.path_params["order_id"]))

    def products(request: Request) -> Response:
        return HTMLResponse(products_page(PRODUCTS.values(), shop.channels(), shop.accounts.gateway().account))

    async def checkout(request: Request) -> Response:
        fields = await _form(request)
        if fields is None:
            return HTMLResponse("the form is too large", status_code=413)
        product = PRODUCTS.get(fields.get("sku", ""))
        channels = await run_in_threadpool(shop.channels)
        channel = next((channel for channel in channels if channel.value == fields.get("channel")), None)
        if product is None or channel is None:
            return HTMLResponse("no such product or payment method", status_code=400)
        client_ip = request.client.host if request.client else "127.0.0.1"
        try:
            order = await run_in_threadpool(
                shop.checkout, product, channel, base_url=settings.base_url, client_ip=client_ip
            )
        except paycore.PaycoreError as exc:
            # The order is stored: a create that may have reached the gateway is settled by reconciliation.
            return HTMLResponse(f"the payment could not be started: {type(exc).__name__}", status_code=502)
        return RedirectResponse(f"/orders/{order.order_id}/pay", status_code=303)

    def pay(request: Request) -> Response:
        order = order_of(request)
        if order is None:
            return HTMLResponse("no such order", status_code=404)
        return HTMLResponse(pay_page(order))

    def qr_code(request: Request) -> Response:
        order = order_of(request)
        if order is None or not isinstance(order.next_action, paycore.QrCode):
            return Response(status_code=404)
        drawn = io.BytesIO()
        segno.make(order.next_action.content, error="m").save(drawn, kind="svg", scale=4)
        return Response(drawn.getvalue(), media_type="image/svg+xml")

    def status(request: Request) -> Response:
        order = order_of(request)
        if order is None:
            return JSONResponse({"status": "unknown"}, status_code=404)
        return JSONResponse({"status": order.status.value})

    async def returned(request: Request) -> Response:
        order = await run_in_threadpool(order_of, request)
        if order is None or order.account not in shop.accounts:
            return HTMLResponse("no such order", status_code=404)
        claimed = None
        received = await web.from_starlette(request)
        gateway = shop.accounts[order.account]
        if (received.query or received.body) and paycore.Operation.RETURN in gateway.capabilities.operations:
            with contextlib.suppress(paycore.PaycoreError):
                shown = gateway.parse_return(received)
                # Shown only when signed and about this order; even then a claim, never what marks it paid.
                claimed = shown if shown.signature_checked and shown.order_id == order.order_id else None
        # The notification may not have arrived yet: ask the gateway (at most every few seconds), and apply
        # what it says, once. A failed query shows the order as it stands; a notification or reconciliation
        # settles it.
        with contextlib.suppress(paycore.PaycoreError):
            order = await run_in_threadpool(shop.confirm, order)
        return HTMLResponse(order_page(order, claimed))

    def admin(request: Request) -> Response:
        token = settings.admin_token
        if token is None or not _is_admin(request, token):
            return admin_only
        rows = [
            (order, refund_token(token, order.order_id) if shop.refunds_possible(order) else None)
            for order in shop.orders.all()
        ]
        return HTMLResponse(admin_page(rows, request.query_params.get("message", "")))

    async def refund(request: Request) -> Response:
        token = settings.admin_token
        if token is None or not _is_admin(request, token):
            return admin_only
        fields = await _form(request) or {}
        order = await run_in_threadpool(order_of, request)
        if order is None or not hmac.compare_digest(fields.get("token", ""), refund_token(token, order.order_id)):
            return HTMLResponse("this refund was not asked from the shop's admin page", status_code=403)
        if not shop.refunds_possible(order):
            return RedirectResponse("/admin?message=not+refundable", status_code=303)
        try:
            refunded = await run_in_threadpool(shop.refund, order)
        except paycore.PaycoreError as exc:
            return RedirectResponse(f"/admin?message=refund+failed:+{type(exc).__name__}", status_code=303)
        return RedirectResponse(f"/admin?message=refund+{refunded.status.value}", status_code=303)

    async def reconcile(request: Request) -> Response:
        token = settings.admin_token
        if token is None or not _is_admin(request, token):
            return admin_only
        results = await run_in_threadpool(shop.reconcile_pending)
        settled = sum(1 for result in results if result.status is not paycore.PaymentStatus.PENDING)
        return RedirectResponse(f"/admin?message=reconciled+{len(results)}+pending,+{settled}+settled", 303)

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
            Route("/admin/reconcile", reconcile, methods=["POST"]),
            Mount(NOTIFY_PATH, app=web.asgi_app(shop.handler)),
        ],
        lifespan=lifespan,
    )
    app.state.shop = shop
    return app
