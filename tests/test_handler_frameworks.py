"""The handler's notify endpoints in real Starlette, Flask and Django apps, over loopback sockets.

Each endpoint is the few lines docs/notifications.md shows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

import paycore
import paycore.http
from paycore import web
from paycore.handler import NotificationHandler, OrderRecord
from paycore.stores import MemoryStore
from paycore.testing import FakeGateway, FakeProvider, FakeSettings, LoopbackServer
from tests.django_app import django_wsgi

SECRET = "frameworks-test-secret"


def _starlette(handler: NotificationHandler) -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    return Starlette(routes=[Mount("/pay/notify", app=web.asgi_app(handler))])


def _flask(handler: NotificationHandler) -> Any:
    import flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    app = flask.Flask("shop")
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/pay/notify": web.wsgi_app(handler)})  # type: ignore[method-assign]
    return app


def _django(handler: NotificationHandler) -> Any:
    from django.urls import path

    return django_wsgi([path("pay/notify/<str:account>", web.django_view(handler))])


@pytest.mark.parametrize("framework", ["starlette", "flask", "django"])
def test_the_handler_endpoint_in_each_framework(framework):
    fake = FakeGateway(FakeSettings(secret_key=SECRET))
    with paycore.Gateway(
        FakeProvider, {"secret_key": SECRET}, account="main", transport=httpx.MockTransport(fake)
    ) as gateway:
        accounts = paycore.Accounts({"main": gateway})
        orders: dict[str, OrderRecord] = {}
        paid: list[paycore.AppliedPayment] = []
        handler = NotificationHandler(accounts, lookup=orders.get, on_paid=paid.append, store=MemoryStore())
        app = {"starlette": _starlette, "flask": _flask, "django": _django}[framework](handler)
        server = LoopbackServer.asgi(app) if framework == "starlette" else LoopbackServer.wsgi(app)
        with server, httpx.Client() as client:
            order = paycore.Order(
                amount=Decimal("9.90"),
                channel=paycore.Channel.ALIPAY_QR,
                subject="tea",
                notify_url=accounts.notify_url(f"{server.url}/pay/notify"),
                return_url=f"{server.url}/done",
            )
            gateway.create(order)
            orders[order.order_id] = OrderRecord(order.order_id, order.amount, account="main")
            body = fake.pay(order.order_id)
            answers = [client.post(order.notify_url, content=body) for _ in range(3)]
            assert [(answer.status_code, answer.text) for answer in answers] == [(200, "ok")] * 3
            assert [event.order_id for event in paid] == [order.order_id]
            # A path naming no account: the account stored with the order verifies it (a duplicate here).
            elsewhere = client.post(f"{server.url}/pay/notify/other", content=body)
            assert (elsewhere.status_code, elsewhere.text) == (200, "ok")
            forged = client.post(order.notify_url, content=body.replace(b"9.90", b"0.01"))
            oversized = client.post(order.notify_url, content=b"x" * (paycore.http.MAX_NOTIFICATION_BYTES + 1))
            for refused in (forged, oversized):
                assert refused.status_code >= 400
                assert "ok" not in refused.text.lower()
            assert len(paid) == 1
