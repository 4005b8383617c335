"""Unit tests of the seams' types: NotificationRequest, Reply, next actions, channels, accounts, create flows."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

import paycore
import paycore.testing
from paycore import web
from paycore.http import MAX_NOTIFICATION_BYTES
from paycore.testing import FakeGateway, FakeProvider, fake_sign

# NotificationRequest


def test_notification_request_reads_query_and_form_strictly():
    request = paycore.NotificationRequest(
        method="get", path="/notify/main", query="?a=1&b=%E6%94%AF", headers={"X-Sign": "s"}, body=b"c=2"
    )
    assert (request.method, request.query, request.header("x-sign")) == ("GET", "a=1&b=%E6%94%AF", "s")
    assert request.query_fields() == {"a": "1", "b": "支"}
    assert request.form_fields() == {"c": "2"}
    for bad_query in ("a=1&a=2", "a=%FF", "novalue&&"):
        with pytest.raises(paycore.MalformedNotification):
            paycore.NotificationRequest(query=bad_query).query_fields()
    assert "c=2" not in repr(request)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"method": "P O S T"}, paycore.InvalidRequest),
        ({"path": "notify"}, paycore.InvalidRequest),
        ({"body": 12}, paycore.InvalidRequest),
        ({"body": "\udc80"}, paycore.MalformedNotification),
        ({"path": "/\udc80"}, paycore.MalformedNotification),
        ({"headers": [("a",)]}, paycore.InvalidRequest),
        ({"headers": {"a": 1}}, paycore.InvalidRequest),
        ({"form": {"a": 1}}, paycore.MalformedNotification),
        ({"body": b"x" * (MAX_NOTIFICATION_BYTES + 1)}, paycore.MalformedNotification),
    ],
)
def test_notification_request_refuses_with_typed_errors(arguments, error):
    with pytest.raises(error):
        paycore.NotificationRequest(**arguments)


def test_repeated_headers_are_joined():
    request = paycore.NotificationRequest(headers=[("X-A", "1"), ("x-a", "2")])
    assert request.headers == {"x-a": "1, 2"}


# Reply


def test_reply_is_text_for_simple_cases_and_refuses_header_injection():
    reply = paycore.Reply(body="OK")
    assert (str(reply), reply.status, reply.content) == ("OK", 200, b"OK")
    for bad in (
        {"status": 99},
        {"status": True},
        {"content_type": "text/plain\r\nSet-Cookie: x"},
        {"headers": (("X-A", "1\r\n2"),)},
        {"headers": (("Content-Length", "3"),)},
        {"headers": (("Transfer-Encoding", "chunked"),)},
        {"headers": (("Connection", "close"),)},
        {"content_type": ""},
        {"headers": [("X", "y")]},
        {"body": b"bytes"},
    ):
        with pytest.raises(paycore.InvalidRequest):
            paycore.Reply(**bad)


def test_a_text_ack_becomes_a_reply():
    notification = paycore.Notification(
        order_id="A", status="paid", amount=Decimal(1), currency="CNY", provider="p", account="a", ack="success"
    )
    assert notification.ack == paycore.Reply(body="success")
    with pytest.raises(paycore.InvalidRequest):
        paycore.Notification(
            order_id="A", status="paid", amount=Decimal(1), currency="CNY", provider="p", account="a", ack=3
        )


# The failure reply never says "ok", whatever the provider does.


class _OkFailureProvider(FakeProvider):
    provider_name = "ok-failure"

    @paycore.hookimpl
    def failure_reply(self, reason: str) -> paycore.Reply:
        return paycore.Reply(body="not ok", status=400)


class _BrokenFailureProvider(FakeProvider):
    provider_name = "broken-failure"

    @paycore.hookimpl
    def failure_reply(self, reason: str) -> paycore.Reply:
        raise RuntimeError("bug")


@pytest.mark.parametrize("provider", [_OkFailureProvider, _BrokenFailureProvider])
def test_a_failure_reply_holding_ok_or_failing_is_replaced(provider):
    with paycore.Gateway(provider) as gateway:
        assert gateway.failure_reply(paycore.SignatureError("x")) == paycore.DEFAULT_FAILURE_REPLY


@pytest.mark.parametrize(
    ("reason", "phrase"),
    [
        (paycore.SignatureError("key abc"), "bad signature"),
        (paycore.AmountMismatch("x"), "amount mismatch"),
        (paycore.MissingField("x"), "missing field"),
        (RuntimeError("db down"), "server error"),
        ("token expired", "not accepted"),  # holds "ok"
        ("order unknown", "order unknown"),
        (None, "not accepted"),
    ],
)
def test_failure_reasons_are_short_and_never_hold_ok(reason, phrase):
    with paycore.Gateway(FakeProvider) as gateway:
        assert gateway.failure_reply(reason).body == f"fail: {phrase}"


# Next actions


def test_payment_fills_the_convenience_fields_from_the_action_and_back():
    common: dict[str, Any] = {"order_id": "A", "status": "pending", "provider": "p", "account": "a"}
    by_url = paycore.Payment(**common, pay_url="https://pay.example/c")
    assert by_url.next_action == paycore.Redirect(url="https://pay.example/c")
    form = paycore.PaymentForm(action="https://pay.example/f", method="GET", fields={"a": "1"})
    assert paycore.Payment(**common, next_action=form).form == form
    assert 'method="get"' in form.to_html()
    for conflicting in (
        {"pay_url": "https://a.example", "next_action": paycore.Redirect(url="https://b.example")},
        {"pay_url": "https://a.example", "next_action": paycore.QrCode(content="weixin://x")},
        {"pay_url": "https://a.example", "form": form},
    ):
        with pytest.raises(paycore.InvalidRequest):
            paycore.Payment(**common, **conflicting)


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "weixin:// x", "no-scheme", ""]
)
def test_app_links_and_qr_codes_refuse_unsafe_or_malformed_uris(link):
    for model, field in ((paycore.AppLink, "url"), (paycore.QrCode, "content")):
        with pytest.raises(paycore.InvalidRequest):
            model(**{field: link})


def test_sdk_parameters_and_descriptions():
    action = paycore.SdkParameters(sdk="wechat_jsapi", parameters={"appId": "wx1", "paySign": "s"})
    assert action.describe() == "call the wechat_jsapi SDK with appId, paySign"
    assert paycore.AppLink(url="alipays://platformapi/startapp?x=1").describe().startswith("open alipays://")
    with pytest.raises(paycore.InvalidRequest):
        paycore.SdkParameters(sdk="Bad SDK", parameters={})


# Channels


def test_every_channel_is_one_wallet_on_one_surface():
    pairs = {(channel.wallet, channel.surface) for channel in paycore.Channel}
    assert len(pairs) == len(paycore.Channel)
    for channel in paycore.Channel:
        assert paycore.Channel.of(channel.wallet, channel.surface) is channel
    assert paycore.Channel.of("wechat", "jsapi") is paycore.Channel.WECHAT_JSAPI
    with pytest.raises(paycore.InvalidRequest):
        paycore.Channel.of("jd", "qr")


# Required order fields and create flows


def test_a_provider_requiring_a_field_order_lacks_fails_at_load():
    class Typo(FakeProvider):
        provider_name = "typo"
        required_order_fields = frozenset({"clientip"})

    with pytest.raises(paycore.ProviderError, match="clientip"):
        paycore.Gateway(Typo)
    with pytest.raises(paycore.ProviderError, match="amount"):  # required anyway: not an optional field
        paycore.Gateway(type("Amount", (FakeProvider,), {"required_order_fields": frozenset({"amount"})}))


def test_an_account_chooses_its_default_create_flow(tmp_path, monkeypatch, paycore_order):
    monkeypatch.setenv("PAYCORE_TESTING", "1")
    config = tmp_path / "paycore.toml"
    config.write_text('[accounts.shop]\nprovider = "fake"\ncreate_flow = "form"\n')
    fake = FakeGateway()
    with paycore.Gateway.from_config(path=config, transport=httpx.MockTransport(fake)) as gateway:
        assert gateway.create_flow is paycore.CreateFlow.FORM
        payment = gateway.create(paycore_order())
        assert isinstance(payment.next_action, paycore.PaymentForm)
        assert fake.requests == []  # a form needs no request
        assert gateway.create(paycore_order(), flow="server").pay_url is not None
    config.write_text('[accounts.shop]\nprovider = "fake"\ncreate_flow = "browser"\n')
    with pytest.raises(paycore.ConfigError, match="create_flow"):
        paycore.Gateway.from_config(path=config)


def test_a_create_flow_the_provider_lacks_is_a_config_error():
    class ServerOnly(FakeProvider):
        provider_name = "server-only"
        create_flows = frozenset({paycore.CreateFlow.SERVER})

    with pytest.raises(paycore.ConfigError, match="no 'form' create flow"):
        paycore.Gateway(ServerOnly, create_flow="form")


# Accounts


@pytest.fixture
def accounts(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYCORE_TESTING", "1")
    config = tmp_path / "paycore.toml"
    config.write_text(
        'default = "b"\n[accounts.a]\nprovider = "fake"\nsecret_key = "key-aaaaaa"\n'
        '[accounts.b]\nprovider = "fake"\nsecret_key = "key-bbbbbb"\n'
    )
    with paycore.Accounts.from_config(config) as loaded:
        yield loaded


def _notification(secret: str, order_id: str = "O1") -> bytes:
    fields = {
        "merchant_id": "fake-merchant",
        "order_id": order_id,
        "amount": "9.90",
        "currency": "CNY",
        "status": "paid",
    }
    fields["sign"] = fake_sign(fields, secret)
    return "&".join(f"{k}={v}" for k, v in fields.items()).encode()


def test_accounts_route_by_the_account_in_the_path(accounts):
    assert (accounts.names, accounts.default, accounts.gateway().account) == (("a", "b"), "b", "b")
    assert accounts.notify_url("https://shop.example/notify/", "a") == "https://shop.example/notify/a"
    body = _notification("key-aaaaaa")
    verified = accounts.verify_notification(paycore.NotificationRequest(path="/notify/a", body=body))
    assert verified.account == "a"
    with pytest.raises(paycore.SignatureError):  # b's key does not verify a's notification
        accounts.verify_notification(paycore.NotificationRequest(path="/notify/b", body=body))
    for path in ("/notify/c", "/notify/", "/notify/a/../b/x"):
        with pytest.raises(paycore.MalformedNotification, match="names no configured account"):
            accounts.verify_notification(paycore.NotificationRequest(path=path, body=body))
    assert accounts.verify_notification(body, account="a").account == "a"
    with pytest.raises(paycore.ConfigError):
        accounts["c"]
    with pytest.raises(paycore.InvalidRequest):
        accounts.notify_url("https://user:pw@shop.example/n")


def test_accounts_find_the_claimed_order_for_stored_account_routing(accounts):
    body = _notification("key-aaaaaa", order_id="STORED-1")
    assert accounts.notification_order_id(body) == "STORED-1"
    assert accounts.notification_order_id(b"\xff") is None
    reply = accounts.reply_for(paycore.NotificationRequest(path="/notify/a"), paycore.SignatureError("x"))
    assert reply.body == "fail: bad signature"


def test_accounts_without_a_default_need_a_name(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYCORE_TESTING", "1")
    config = tmp_path / "paycore.toml"
    config.write_text('[accounts.a]\nprovider = "fake"\n[accounts.b]\nprovider = "fake"\n')
    with paycore.Accounts.from_config(config) as loaded:
        assert loaded.default is None
        with pytest.raises(paycore.ConfigError, match="no default"):
            loaded.gateway()
        assert loaded.gateway("a").account == "a"


# Framework adapters, unit level (the real frameworks run in test_seams.py)


def test_from_wsgi_bounds_the_body_and_reads_the_path_as_utf8():
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/notify/支".encode().decode("latin-1"),
        "QUERY_STRING": "a=1",
        "CONTENT_LENGTH": "3",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_X_SIGN": "s",
        "wsgi.input": io.BytesIO(b"a=1"),
    }
    request = web.from_wsgi(environ)
    assert (request.path, request.body, request.header("x-sign")) == ("/notify/支", b"a=1", "s")
    with pytest.raises(paycore.MalformedNotification, match="larger"):
        web.from_wsgi({**environ, "CONTENT_LENGTH": str(MAX_NOTIFICATION_BYTES + 1)})
    with pytest.raises(paycore.MalformedNotification, match="Content-Length"):
        web.from_wsgi({**environ, "CONTENT_LENGTH": "x"})
    with pytest.raises(paycore.InvalidRequest):
        web.from_wsgi(None)  # type: ignore[arg-type]


def test_from_httpx_and_to_httpx_round_trip():
    request = web.from_httpx(httpx.Request("GET", "http://shop.example/n/a?x=%20y", headers={"X-A": "1"}))
    assert (request.method, request.path, request.query, request.header("x-a")) == ("GET", "/n/a", "x=%20y", "1")
    response = web.to_httpx(paycore.Reply(body='{"code": "FAIL"}', status=400, content_type="application/json"))
    assert (response.status_code, response.headers["content-type"], response.text) == (
        400,
        "application/json",
        '{"code": "FAIL"}',
    )


def test_a_raw_asgi_app_receives_and_answers_through_the_adapters():
    seen: list[paycore.NotificationRequest] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(await web.from_asgi(scope, receive))
        await web.send_asgi(paycore.Reply(status=204), send)

    with paycore.testing.LoopbackServer.asgi(app) as server:
        answer = httpx.post(f"{server.url}/notify/main?x=1", content=b'{"a": 1}', headers={"X-Sig": "s"})
    assert (answer.status_code, answer.content) == (204, b"")
    assert (seen[0].method, seen[0].path, seen[0].query, seen[0].body) == ("POST", "/notify/main", "x=1", b'{"a": 1}')
    assert seen[0].header("x-sig") == "s"


def test_public_submodules_load_on_first_use():
    import importlib
    import subprocess
    import sys

    code = "import paycore; print(paycore.web.asgi_app.__name__, paycore.stores.MemoryStore.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["asgi_app", "MemoryStore"], result.stderr
    assert importlib.import_module("paycore").handler.NotificationHandler is paycore.NotificationHandler


def test_replies_without_a_body_send_no_length_or_type():
    with pytest.raises(paycore.InvalidRequest, match="no body"):
        paycore.Reply(status=204, body="x")
    empty = paycore.Reply(status=204)
    started: list[Any] = []
    assert list(web.to_wsgi(empty)({}, lambda status, headers: started.append((status, headers)))) == [b""]
    assert started == [("204 No Content", [])]


def test_juhe_accounts_decide_their_channels(tmp_path):
    settings = {"base_url": "https://pay.example.com", "merchant_id": "1", "secret_key": "key-123456"}
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"status": "error", "msg": "stop here"})

    order = paycore.Order(
        amount=Decimal("1.00"),
        channel=paycore.Channel.ALIPAY_PAGE,
        subject="tea",
        notify_url="https://shop.example/n",
        return_url="https://shop.example/r",
    )
    with paycore.Gateway("juhe", settings, transport=httpx.MockTransport(answer)) as plain:
        with pytest.raises(paycore.InvalidRequest, match="does not serve channel 'alipay_page'"):
            plain.create(order)
    assert sent == []
    extended = {**settings, "channels": {"alipay_page": "920"}}
    with paycore.Gateway("juhe", extended, transport=httpx.MockTransport(answer)) as gateway:
        with pytest.raises(paycore.GatewayError):
            gateway.create(order)
    assert b"pay_bankcode=920" in sent[0].content


def test_accounts_refuse_a_default_that_is_not_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYCORE_TESTING", "1")
    monkeypatch.setenv("PAYCORE_ACCOUNT", "gone")
    config = tmp_path / "paycore.toml"
    config.write_text('[accounts.a]\nprovider = "fake"\n')
    with pytest.raises(paycore.ConfigError, match="'gone' is not configured"):
        paycore.Accounts.from_config(config)


def test_framework_multidicts_are_read_as_one_value_per_field_or_refused():
    from tests.django_app import configure_django

    configure_django()
    from django.http import QueryDict
    from werkzeug.datastructures import ImmutableMultiDict

    fields = {"merchant_id": "fake-merchant", "order_id": "M1", "amount": "9.90", "currency": "CNY", "status": "paid"}
    fields["sign"] = fake_sign(fields, "fake-secret")
    with paycore.Gateway(FakeProvider) as gateway:
        # Django's request.POST and Flask's request.form: verified as the fields they hold.
        assert gateway.verify_notification(QueryDict(urlencode(fields))).order_id == "M1"
        assert gateway.verify_notification(ImmutableMultiDict(fields)).order_id == "M1"
        # A field given twice: one reader takes the first, another the last; refused, as in a raw body.
        twice = [*fields.items(), ("order_id", "M2")]
        for parsed in (ImmutableMultiDict(twice), QueryDict(urlencode(twice))):
            with pytest.raises(paycore.MalformedNotification, match="more than once"):
                gateway.verify_notification(parsed)


def test_a_failure_reply_cannot_smuggle_ok_past_the_check():
    class LyingText(str):
        def lower(self) -> str:
            return "fail"

    class Sneaky(paycore.Reply):
        @property
        def content(self) -> bytes:
            return b"OK"

    with pytest.raises(paycore.InvalidRequest):
        paycore.Reply(body=LyingText("OK"))

    class Smuggler(FakeProvider):
        provider_name = "smuggler"

        @paycore.hookimpl
        def failure_reply(self, reason: str) -> paycore.Reply:
            return Sneaky(body="fail", status=400)

    with paycore.Gateway(Smuggler) as gateway:
        reply = gateway.failure_reply("x")
        assert type(reply) is paycore.Reply
        assert b"ok" not in web.to_httpx(reply).content.lower()
        assert reply == paycore.Reply(body="fail", status=400)


def test_adapters_and_helpers_answer_hostile_input_with_paycore_errors():
    with paycore.Gateway(FakeProvider, account="main") as gateway:
        accounts = paycore.Accounts({"main": gateway})
        assert "ok" not in accounts.reply_for(b"x").body.lower()  # never raises, whatever it is given
        assert accounts.reply_for(None, paycore.SignatureError("x")).body == "fail: bad signature"
        long_id = "A" * 200
        claimed = accounts.notification_order_id(f"order_id={long_id}&merchant_id=m".encode())
        assert claimed is None  # not an order id query() would take: never handed to the lookup
    with pytest.raises(paycore.InvalidRequest):
        paycore.NotificationRequest.of_body(None)  # type: ignore[arg-type]
    assert paycore.NotificationRequest.of_body("a=1").form_fields() == {"a": "1"}  # type: ignore[arg-type]
    with pytest.raises(paycore.InvalidRequest):
        paycore.Payment.model_validate({"order_id": "A"})
    with pytest.raises(paycore.InvalidRequest):
        paycore.Payment.model_validate_json(b"{not json")


def test_from_wsgi_reads_chunked_bodies_bounded_and_survives_a_broken_stream():
    import io

    chunked = {"REQUEST_METHOD": "POST", "PATH_INFO": "/n/main", "wsgi.input_terminated": True}
    request = web.from_wsgi({**chunked, "wsgi.input": io.BytesIO(b"a=1&b=2")})
    assert request.form_fields() == {"a": "1", "b": "2"}
    with pytest.raises(paycore.MalformedNotification, match="larger"):
        web.from_wsgi({**chunked, "wsgi.input": io.BytesIO(b"x" * (MAX_NOTIFICATION_BYTES + 5))})

    class Gone:
        def read(self, size: int) -> bytes:
            raise OSError("client disconnected")

    with pytest.raises(paycore.MalformedNotification, match="could not be read"):
        web.from_wsgi({**chunked, "CONTENT_LENGTH": "5", "wsgi.input": Gone()})


def test_every_adapter_reads_a_raw_utf8_query_alike():
    import asyncio

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/n", "query_string": "a=中".encode(), "headers": []}
    from_asgi = asyncio.run(web.from_asgi(scope, receive))
    from_wsgi = web.from_wsgi(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/n", "QUERY_STRING": "a=中".encode().decode("latin-1")}
    )
    assert from_asgi.query == from_wsgi.query == "a=中"


def test_the_asgi_endpoint_refuses_websockets_and_reads_sparse_scopes():
    import asyncio

    from paycore.handler import NotificationHandler
    from paycore.stores import MemoryStore

    with paycore.Gateway(FakeProvider, account="main") as gateway:
        handler = NotificationHandler(
            paycore.Accounts({"main": gateway}), lookup={}.get, on_paid=print, store=MemoryStore()
        )
        app = web.asgi_app(handler)
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": None}

        asyncio.run(app({"type": "websocket", "path": "/notify/main"}, receive, send))
        assert sent == [{"type": "websocket.close", "code": 1008}]
        sent.clear()
        asyncio.run(app({"type": "http", "method": "POST", "path": "/notify/main"}, receive, send))  # no headers
        assert sent[0]["status"] == 400
        assert b"ok" not in sent[1]["body"].lower()


def test_wsgi_app_answers_an_unreadable_notification_as_the_account_in_its_path():
    from paycore.handler import NotificationHandler
    from paycore.stores import MemoryStore
    from tests.seam_providers import GetPay

    with (
        paycore.Gateway(FakeProvider, account="main") as main,
        paycore.Gateway(GetPay, {"base_url": "https://getpay.example"}, account="getpay") as getpay,
    ):
        accounts = paycore.Accounts({"main": main, "getpay": getpay}, default="main")
        app = web.wsgi_app(NotificationHandler(accounts, lookup=dict.get, on_paid=print, store=MemoryStore()))
        answers: list[str] = []
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/notify/getpay",
            "CONTENT_LENGTH": "not a number",
            "wsgi.input": io.BytesIO(b"x"),
        }
        body = b"".join(app(environ, lambda status, headers, exc_info=None: answers.append(status)))
    # GetPay's failure reply (200 "fail"), not the default account's (400 "fail: ...")
    assert (answers[0], body) == ("200 OK", b"fail")
