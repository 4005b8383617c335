"""The seams hold for providers unlike juhe: GET notifications, header signatures, QR codes.

Three test-only providers (tests/seam_providers.py) use the public API alone, under
`Gateway` and `AsyncGateway`, through the demo's round trip on their own sandboxes
over real sockets, and behind real Starlette, Flask and Django apps.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import anyio
import httpx
import pytest

import paycore
from paycore import web
from paycore._demo import run_demo
from paycore.sandbox import SandboxOptions, make_sandbox
from paycore.testing import LoopbackServer
from tests.django_app import django_wsgi
from tests.seam_providers import KEY, GetPay, HookPay, QrPay, hook_signature, md5_sign

PROVIDERS = [GetPay, HookPay, QrPay]


@pytest.mark.parametrize("use_async", [False, True], ids=["Gateway", "AsyncGateway"])
@pytest.mark.parametrize(
    ("provider", "next_step", "answered"),
    [
        (GetPay, "send the buyer's browser to http://127.0.0.1", "answered HTTP 200 'success'"),
        (HookPay, "call the hookpay_bridge SDK with appId, package, signType", "answered HTTP 204 ''"),
        (QrPay, "show the buyer a QR code of weixin://wxpay/bizpayurl?pr=", "answered HTTP 200 'OK'"),
    ],
)
def test_the_demo_round_trip_runs_on_each(provider, next_step, answered, use_async):
    said: list[str] = []
    run_demo(provider, use_async=use_async, say=said.append)
    text = "\n".join(said)
    assert next_step in text
    assert answered in text
    assert "query confirms: paid" in text


def _order(**extra: Any) -> paycore.Order:
    fields: dict[str, Any] = {
        "amount": Decimal("12.30"),
        "channel": paycore.Channel.WECHAT_QR,
        "subject": "tea",
        "notify_url": "https://shop.example/notify/main",
        "return_url": "https://shop.example/done",
        **extra,
    }
    return paycore.Order(**fields)


class Both:
    """One provider under `Gateway` or `AsyncGateway`, calls made synchronously."""

    def __init__(self, kind: str, provider: type[paycore.Provider[Any]], settings: dict[str, Any]) -> None:
        self.kind, self.provider, self.settings = kind, provider, settings
        cls = paycore.Gateway if kind == "sync" else paycore.AsyncGateway
        self.gateway = cls(provider, settings, account="main")

    def create(self, order: paycore.Order) -> paycore.Payment:
        if isinstance(self.gateway, paycore.Gateway):
            return self.gateway.create(order)

        async def run() -> paycore.Payment:
            # A client of this event loop, closed with it: anyio.run's loop ends when run() returns.
            async with httpx.AsyncClient() as client:
                gateway = paycore.AsyncGateway(self.provider, self.settings, account="main", client=client)
                return await gateway.create(order)

        return anyio.run(run)


@pytest.fixture(params=["sync", "async"])
def paycore_any_gateway(request: pytest.FixtureRequest):
    made: list[Both] = []

    def make(provider: type[paycore.Provider[Any]], settings: dict[str, Any]) -> Both:
        made.append(Both(request.param, provider, settings))
        return made[-1]

    yield make
    for each in made:
        if isinstance(each.gateway, paycore.Gateway):
            each.gateway.close()


def test_required_order_fields_are_refused_before_any_io(paycore_any_gateway):
    unreachable = {"base_url": "http://127.0.0.1:9", "merchant_id": "m1", "secret_key": KEY}
    get_pay = paycore_any_gateway(GetPay, unreachable)
    with pytest.raises(paycore.InvalidRequest, match="needs the order's client_ip") as excinfo:
        get_pay.create(_order(channel=paycore.Channel.ALIPAY_PAGE))
    assert excinfo.value.may_have_reached_gateway is False
    hook_pay = paycore_any_gateway(HookPay, unreachable)
    with pytest.raises(paycore.InvalidRequest, match="payer_id for channel 'wechat_jsapi'"):
        hook_pay.create(_order(channel=paycore.Channel.WECHAT_JSAPI))
    assert HookPay.order_fields_for(paycore.Channel.WECHAT_QR) == frozenset()
    assert GetPay.capabilities().required_order_fields == frozenset({"client_ip"})


class _FlowFields(GetPay):
    provider_name = "flow-fields"
    required_order_fields = frozenset()
    create_flows = frozenset(paycore.CreateFlow)
    flow_order_fields = MappingProxyType({paycore.CreateFlow.SERVER: frozenset({"client_ip"})})


def test_order_fields_by_create_flow():
    channel = paycore.Channel.ALIPAY_PAGE
    assert _FlowFields.order_fields_for(channel, paycore.CreateFlow.SERVER) == frozenset({"client_ip"})
    assert _FlowFields.order_fields_for(channel, paycore.CreateFlow.FORM) == frozenset()
    # Without a flow: what an order must set to be created either way.
    assert _FlowFields.order_fields_for(channel) == frozenset({"client_ip"})
    assert _FlowFields.capabilities().flow_order_fields == {paycore.CreateFlow.SERVER: frozenset({"client_ip"})}


def test_a_flow_order_field_that_is_no_optional_order_field_is_refused():
    class Misspelt(_FlowFields):
        flow_order_fields = MappingProxyType({paycore.CreateFlow.FORM: frozenset({"client_id"})})

    with pytest.raises(paycore.ProviderError, match="client_id"):
        paycore.Gateway(Misspelt, {"base_url": "http://127.0.0.1:9", "merchant_id": "m1", "secret_key": KEY})


@pytest.fixture
def sandboxes():
    started = {}
    for provider in PROVIDERS:
        sandbox = make_sandbox(provider, SandboxOptions())
        sandbox.start()
        started[provider] = sandbox
    yield started
    for sandbox in started.values():
        sandbox.stop()


def _endpoint(gateway: paycore.Gateway | paycore.AsyncGateway, seen: list[Any]):
    def handle(request: httpx.Request) -> httpx.Response:
        received = web.from_httpx(request)
        try:
            notification = gateway.verify_notification(received)
        except paycore.PaycoreError as exc:
            seen.append(exc)
            return web.to_httpx(gateway.failure_reply(exc))
        seen.append(notification)
        return web.to_httpx(notification.ack)

    return handle


def test_get_notifications_and_signed_returns(sandboxes, paycore_any_gateway):
    sandbox = sandboxes[GetPay]
    both = paycore_any_gateway(GetPay, sandbox.account_settings())
    seen: list[Any] = []
    with LoopbackServer(_endpoint(both.gateway, seen)) as merchant:
        order = _order(channel=paycore.Channel.ALIPAY_PAGE, client_ip="203.0.113.9", notify_url=f"{merchant.url}/n")
        payment = both.create(order)
        assert isinstance(payment.next_action, paycore.Redirect)
        assert payment.pay_url == payment.next_action.url
        sandbox.pay(order.order_id)
        request, answer = sandbox.deliveries[-1]
        assert request.method == "GET"
        assert (answer.status_code, answer.text) == (200, "success")
        assert seen[-1].order_id == order.order_id
        assert seen[-1].amount == Decimal("12.30")
        # The same fields POSTed, or with one changed: refused, answered "fail".
        refused = [
            httpx.post(f"{merchant.url}/n", params=dict(request.url.params)),
            httpx.get(str(request.url).replace("amount=12.30", "amount=0.01")),
            httpx.get(str(request.url) + "&order_id=other"),
        ]
        assert [(r.status_code, r.text) for r in refused] == [(200, "fail")] * 3
        assert [type(error) for error in seen[-3:]] == [
            paycore.MalformedNotification,
            paycore.SignatureError,
            paycore.MalformedNotification,
        ]
    # The browser return, through the gateway: signed here, so checked.
    signed = {"order_id": order.order_id, "status": "paid", "amount": "12.30"}
    query = httpx.QueryParams({**signed, "sign": md5_sign(signed, KEY)})
    shown = both.gateway.parse_return(paycore.NotificationRequest(method="GET", path="/done", query=str(query)))
    assert (shown.order_id, shown.claimed_status, shown.signature_checked) == (order.order_id, "paid", True)
    with pytest.raises(paycore.SignatureError):
        both.gateway.parse_return(paycore.NotificationRequest(method="GET", query=str(query).replace("paid", "x")))


def test_header_signed_json_notifications(sandboxes, paycore_any_gateway):
    sandbox = sandboxes[HookPay]
    both = paycore_any_gateway(HookPay, sandbox.account_settings())
    seen: list[Any] = []
    with LoopbackServer(_endpoint(both.gateway, seen)) as merchant:
        order = _order(channel=paycore.Channel.WECHAT_JSAPI, payer_id="o-abc", notify_url=f"{merchant.url}/n")
        payment = both.create(order)
        assert isinstance(payment.next_action, paycore.SdkParameters)
        assert payment.next_action.parameters["package"] == f"prepay_id={order.order_id}"
        assert payment.pay_url is None
        sandbox.pay(order.order_id)
        request, answer = sandbox.deliveries[-1]
        assert (answer.status_code, answer.content) == (204, b"")
        body = request.content
        headers = dict(request.headers)

        headers.pop("content-length")

        def post(content: bytes, **changed: str) -> httpx.Response:
            return httpx.post(f"{merchant.url}/n", content=content, headers={**headers, **changed})

        tampered = body.replace(b"12.30", b"0.01")
        stale = str(int(time.time()) - 3600)
        refused = [
            post(tampered),
            post(body, **{"x-hook-signature": ""}),
            post(body, **{"x-hook-timestamp": stale, "x-hook-signature": hook_signature(stale, "n", body, KEY)}),
        ]
    for response in refused:
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/json"
        assert json.loads(response.content)["code"] == "FAIL"
        assert "ok" not in response.text.lower()
    assert [json.loads(r.content)["message"] for r in refused] == ["bad signature", "missing field", "bad signature"]


def test_qr_code_results(sandboxes, paycore_any_gateway):
    sandbox = sandboxes[QrPay]
    both = paycore_any_gateway(QrPay, sandbox.account_settings())
    payment = both.create(_order())
    assert payment.next_action == paycore.QrCode(content=f"weixin://wxpay/bizpayurl?pr={payment.order_id}")
    assert (payment.pay_url, payment.form) == (None, None)
    assert payment.model_dump(mode="json")["next_action"]["kind"] == "qr_code"
    assert both.gateway.failure_reply(paycore.SignatureError("x")) == paycore.DEFAULT_FAILURE_REPLY


# Real frameworks, served over loopback sockets, fed by the sandboxes.


def _starlette_app(gateway: paycore.Gateway) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def notify(request: Request) -> Response:
        received = await web.from_starlette(request)
        try:
            notification = gateway.verify_notification(received)
        except paycore.PaycoreError as exc:
            return web.to_starlette(gateway.failure_reply(exc))
        return web.to_starlette(notification.ack)

    return Starlette(routes=[Route("/notify/{account}", notify, methods=["GET", "POST"])])


def _flask_app(gateway: paycore.Gateway) -> Any:
    import flask

    app = flask.Flask("seams")

    @app.route("/notify/<account>", methods=["GET", "POST"])
    def notify(account: str) -> Any:
        received = web.from_wsgi(flask.request.environ)
        try:
            notification = gateway.verify_notification(received)
        except paycore.PaycoreError as exc:
            return web.to_wsgi(gateway.failure_reply(exc))
        return web.to_wsgi(notification.ack)

    return app


def _django_app(gateway: paycore.Gateway) -> Any:
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt  # a gateway sends no CSRF token
    def notify(request: Any, account: str) -> Any:
        received = web.from_django(request)
        try:
            notification = gateway.verify_notification(received)
        except paycore.PaycoreError as exc:
            return web.to_django(gateway.failure_reply(exc))
        return web.to_django(notification.ack)

    return django_wsgi([path("notify/<str:account>", notify)])


@pytest.mark.parametrize("framework", ["starlette", "flask", "django"])
@pytest.mark.parametrize("provider", PROVIDERS, ids=[p.provider_name for p in PROVIDERS])
def test_framework_adapters_carry_every_kind_of_notification(framework, provider, sandboxes):
    sandbox = sandboxes[provider]
    with paycore.Gateway(provider, sandbox.account_settings(), account="main") as gateway:
        if framework == "starlette":
            server = LoopbackServer.asgi(_starlette_app(gateway))
        else:
            server = LoopbackServer.wsgi((_flask_app if framework == "flask" else _django_app)(gateway))
        with server:
            channel = sorted(provider.channels)[0]
            order = _order(
                channel=channel,
                client_ip="203.0.113.9",
                payer_id="o-abc",
                notify_url=f"{server.url}/notify/main?from=sandbox",
            )
            gateway.create(order)
            sandbox.pay(order.order_id)
            request, answer = sandbox.deliveries[-1]
            expected = {GetPay: (200, b"success"), HookPay: (204, b""), QrPay: (200, b"OK")}[provider]
            assert (answer.status_code, answer.content) == expected
            # Tampered: the provider's failure answer, through the framework, never "ok".
            forged = httpx.Request(
                request.method,
                str(request.url).replace("12.30", "0.01"),
                headers=[(k, v) for k, v in request.headers.multi_items() if k != "content-length"],
                content=request.content.replace(b"12.30", b"0.01"),
            )
            with httpx.Client() as client:
                refused = client.send(forged)
            assert refused.status_code == (400 if provider is not GetPay else 200)
            assert "ok" not in refused.text.lower()
            assert refused.text in ("fail", '{"code": "FAIL", "message": "bad signature"}')


@pytest.mark.parametrize(
    ("declared", "text"),
    [
        ({paycore.CreateFlow.SERVER: "client_ip"}, "not sets of field names"),
        ({"server": frozenset({"client_ip"}), paycore.CreateFlow.FORM: frozenset()}, None),
    ],
)
def test_flow_order_fields_must_be_sets_of_names(declared, text):
    class Declared(_FlowFields):
        flow_order_fields = MappingProxyType(declared)

    settings = {"base_url": "http://127.0.0.1:9", "merchant_id": "m1", "secret_key": KEY}
    if text is None:
        paycore.Gateway(Declared, settings).close()
    else:
        with pytest.raises(paycore.ProviderError, match=text):
            paycore.Gateway(Declared, settings)


def test_flow_order_fields_for_a_flow_the_provider_does_not_list_are_refused():
    class ServerOnly(_FlowFields):
        create_flows = frozenset({paycore.CreateFlow.SERVER})
        flow_order_fields = MappingProxyType({paycore.CreateFlow.FORM: frozenset({"client_ip"})})

    with pytest.raises(paycore.ProviderError, match="create flows it does not list: form"):
        paycore.Gateway(ServerOnly, {"base_url": "http://127.0.0.1:9", "merchant_id": "m1", "secret_key": KEY})


@pytest.mark.parametrize("declared", [frozenset(), frozenset({"cny"}), frozenset({"RMB", "yuan"}), "CNY", None])
def test_currencies_must_be_a_non_empty_set_of_iso_codes(declared):
    class Declared(_FlowFields):
        currencies = declared  # type: ignore[assignment]  # what a careless author might write

    with pytest.raises(paycore.ProviderError, match="currencies as a non-empty set of ISO 4217 codes"):
        paycore.Gateway(Declared, {"base_url": "http://127.0.0.1:9", "merchant_id": "m1", "secret_key": KEY})


def test_an_order_in_a_currency_the_provider_does_not_take_is_refused_before_any_io(paycore_order):
    sent: list[httpx.Request] = []

    def gateway_answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    settings = {"base_url": "http://127.0.0.1:9", "merchant_id": "m1", "secret_key": KEY}
    with paycore.Gateway(_FlowFields, settings, transport=httpx.MockTransport(gateway_answer)) as gateway:
        assert gateway.capabilities.currencies == frozenset({"CNY"})  # the default
        with pytest.raises(paycore.InvalidRequest, match=r"does not take orders in USD \(it takes: CNY\)"):
            gateway.create(paycore_order(currency="USD", channel="alipay_page", client_ip="203.0.113.9"))
    assert sent == []
