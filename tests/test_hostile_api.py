"""Every public entry point, fed hostile arguments, raises paycore errors and nothing else.

Types a caller can get wrong, NUL bytes, lone surrogates and huge sizes: each call
either succeeds or raises a `paycore.PaycoreError`. Any other exception (a stray
TypeError, KeyError, UnicodeEncodeError, pydantic's ValidationError) fails here.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest

import paycore
from paycore import AsyncGateway, Gateway, Order, PaycoreError, web
from paycore.sandbox import SandboxOptions, make_sandbox
from paycore.testing import FakeGateway, FakeProvider

HUGE = "9" * 1_000_000
HOSTILE: list[Any] = [
    None,
    0,
    -1,
    1.5,
    float("nan"),
    True,
    b"\xff\x00",
    bytearray(b"x"),
    "",
    "A\x00B",
    "A\udc80",
    "\uff11\uff12",
    HUGE,
    [],
    {},
    {"a": 1},
    object(),
    Decimal("NaN"),
    Decimal("1E+999999999"),
]
JUHE = {"base_url": "https://pay.example.com", "merchant_id": "10001", "secret_key": "k"}
ORDER_FIELDS: dict[str, Any] = {
    "amount": "9.90",
    "channel": "alipay_qr",
    "subject": "tea",
    "notify_url": "https://shop.example/notify",
    "return_url": "https://shop.example/done",
}
OPTIONAL_ORDER_FIELDS = [
    "order_id",
    "currency",
    "attach",
    "description",
    "quantity",
    "product_url",
    "client_ip",
    "payer_id",
    "expires_at",
    "created_at",
]


def call(function: Callable[[], object]) -> None:
    try:
        result = function()
    except PaycoreError:
        return
    stop = getattr(result, "stop", None)  # a sandbox built: release its socket
    if callable(stop):
        stop()


def test_load_config_and_accounts(tmp_path):
    for value in HOSTILE:
        call(lambda value=value: paycore.load_config(value, environ={}))
        call(lambda value=value: paycore.load_config(tmp_path / "absent.toml", environ=value))
        config = paycore.load_config(environ={})
        call(lambda value=value, config=config: config.account(value))
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe garbage \x00")
    call(lambda: paycore.load_config(tmp_path / "bad.toml", environ={}))
    (tmp_path / "dir.toml").mkdir()
    call(lambda: paycore.load_config(tmp_path / "dir.toml", environ={}))


@pytest.mark.parametrize(
    "keyword", ["account", "timeout", "deadline", "max_answer_bytes", "client", "transport", "create_flow"]
)
def test_gateway_construction(keyword):
    for value in HOSTILE:
        call(lambda value=value: Gateway("juhe", JUHE, **{keyword: value}).close())
        call(lambda value=value: AsyncGateway("juhe", JUHE, **{keyword: value}))


def test_gateway_provider_and_settings():
    for value in HOSTILE:
        call(lambda value=value: Gateway(value, JUHE).close())
        call(lambda value=value: Gateway("juhe", value).close())
        for setting in JUHE:
            call(lambda value=value, setting=setting: Gateway("juhe", {**JUHE, setting: value}).close())


@pytest.mark.parametrize("field", [*ORDER_FIELDS, *OPTIONAL_ORDER_FIELDS])
def test_order_fields(field):
    for value in HOSTILE:
        call(lambda value=value: Order(**{**ORDER_FIELDS, field: value}))


def _gateways() -> list[Gateway]:
    fake = FakeGateway()
    return [
        Gateway("juhe", JUHE, transport=httpx.MockTransport(lambda request: httpx.Response(200, text="{}"))),
        Gateway(FakeProvider, transport=httpx.MockTransport(fake)),
    ]


def test_gateway_operations():
    for gateway, value in itertools.product(_gateways(), HOSTILE):
        call(lambda gateway=gateway, value=value: gateway.create(value))
        call(lambda gateway=gateway, value=value: gateway.create(Order(**ORDER_FIELDS), flow=value))
        call(lambda gateway=gateway, value=value: gateway.query(value))
        call(lambda gateway=gateway, value=value: gateway.close_payment(value))
        call(lambda gateway=gateway, value=value: gateway.verify_notification(value))
        call(lambda gateway=gateway, value=value: gateway.verify_notification({"orderid": value, "sign": "x"}))
        if isinstance(value, str | bytes | int | float | Decimal | type(None)):  # hashable: a mapping key
            call(lambda gateway=gateway, value=value: gateway.verify_notification({value: "x"}))


def test_async_gateway_operations():
    async def run() -> None:
        async with AsyncGateway(FakeProvider, transport=httpx.MockTransport(FakeGateway())) as gateway:
            for value in HOSTILE:
                for operation in (gateway.create, gateway.query, gateway.close_payment):
                    with contextlib.suppress(PaycoreError):
                        await operation(value)
                call(lambda value=value: gateway.verify_notification(value))

    anyio.run(run)


def test_notification_check_against():
    with Gateway(FakeProvider, transport=httpx.MockTransport(FakeGateway())) as gateway:
        order = Order(**ORDER_FIELDS)
        fake = FakeGateway()
        paycore_fake = Gateway(FakeProvider, transport=httpx.MockTransport(fake))
        paycore_fake.create(order)
        notification = gateway.verify_notification(fake.pay(order.order_id))
        for value in HOSTILE:
            call(lambda value=value: notification.check_against(value))


def test_make_sandbox(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a state_path that is accepted makes a SQLite file there
    for value in HOSTILE:
        call(lambda value=value: make_sandbox(value))
        call(lambda value=value: make_sandbox("juhe", value))  # type: ignore[arg-type]
    for field in ("host", "port", "merchant_id", "secret_key", "profile", "faults", "state_path", "notify_interval"):
        for value in HOSTILE:
            call(lambda field=field, value=value: make_sandbox("juhe", SandboxOptions(**{field: value})))


def test_payment_form():
    for value in HOSTILE:
        call(lambda value=value: paycore.PaymentForm(action=value, fields={}))
        call(lambda value=value: paycore.PaymentForm(action="https://x.example", fields=value))


def test_numbers_too_large_for_a_float_and_nesting_too_deep(tmp_path):
    for keyword in ("timeout", "deadline"):
        call(lambda keyword=keyword: Gateway("juhe", JUHE, **{keyword: 10**400}).close())
    call(lambda: Gateway("juhe", JUHE, timeout=httpx.Timeout(5, read=10**400)).close())
    big = tmp_path / "big.toml"
    big.write_text('[accounts.main]\nprovider = "juhe"\ntimeout = ' + "9" * 400 + "\n")
    call(lambda: paycore.load_config(big, environ={}).account())
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    call(lambda: paycore.load_config(deep, environ={}))
    environ = {"PAYCORE_MAIN_PROVIDER": "juhe", "PAYCORE_MAIN_CHANNELS": "[" * 100_000}
    call(lambda: paycore.load_config(environ=environ).account())
    for account in (5, None, "", "a b", "x" * 65, "main\x00"):
        call(lambda account=account: Gateway("juhe", JUHE, account=account).close())


def test_cli_verify_with_bytes_that_are_not_utf8(tmp_path):
    import os
    import subprocess
    import sys

    config = tmp_path / "paycore.toml"
    config.write_text(
        '[accounts.main]\nprovider = "juhe"\nbase_url = "https://pay.example.com"\n'
        'merchant_id = "1"\nsecret_key = "k"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}
    result = subprocess.run(
        [sys.executable, "-m", "paycore.cli", "--config", str(config), "verify", "--body", os.fsdecode(b"\xff\xfe")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr  # verification failed, not "unexpected"
    assert "unexpected" not in result.stderr


@pytest.mark.parametrize("field", ["method", "path", "query", "headers", "body", "form"])
def test_notification_request(field):
    for value in HOSTILE:
        call(lambda value=value: paycore.NotificationRequest(**{field: value}).form_fields())
        call(lambda value=value: paycore.NotificationRequest(**{field: value}).query_fields())


@pytest.mark.parametrize("field", ["body", "status", "content_type", "headers"])
def test_reply(field):
    for value in HOSTILE:
        call(lambda value=value: paycore.Reply(**{field: value}))


def test_next_actions_and_channels():
    for value in HOSTILE:
        call(lambda value=value: paycore.QrCode(content=value))
        call(lambda value=value: paycore.AppLink(url=value))
        call(lambda value=value: paycore.Redirect(url=value))
        call(lambda value=value: paycore.SdkParameters(sdk=value, parameters={}))
        call(lambda value=value: paycore.SdkParameters(sdk="x", parameters=value))
        call(lambda value=value: paycore.Channel.of(value, value))


def test_new_gateway_entry_points():
    with Gateway("juhe", JUHE) as gateway:
        for value in HOSTILE:
            call(lambda value=value: gateway.parse_return(value))
            call(lambda value=value: gateway.notification_order_id(value))
            reply = gateway.failure_reply(value)  # never raises, never says "ok"
            assert "ok" not in reply.body.lower()


def test_accounts_entry_points(tmp_path):
    config = tmp_path / "paycore.toml"
    config.write_text(
        '[accounts.main]\nprovider = "juhe"\nbase_url = "https://pay.example.com"\n'
        'merchant_id = "1"\nsecret_key = "key-123456"\n'
    )
    for value in HOSTILE:
        call(lambda value=value: paycore.Accounts.from_config(value))
    with paycore.Accounts.from_config(config, config=None) as accounts:
        for value in HOSTILE:
            call(lambda value=value: accounts[value])
            call(lambda value=value: accounts.gateway(value))
            call(lambda value=value: accounts.notify_url(value))
            call(lambda value=value: accounts.notify_url("https://shop.example", value))
            call(lambda value=value: accounts.account_in_path(value))
            call(lambda value=value: accounts.verify_notification(value))
            call(lambda value=value: accounts.verify_notification(b"orderid=1", account=value))
            call(lambda value=value: accounts.notification_order_id(value))
            assert "ok" not in accounts.failure_reply(value, account=value).body.lower()


def test_web_adapters():
    for value in HOSTILE:
        call(lambda value=value: web.from_wsgi(value))
        call(lambda value=value: web.from_wsgi({"wsgi.input": value, "CONTENT_LENGTH": "3"}))
        call(lambda value=value: web.from_wsgi({"CONTENT_LENGTH": value}))
        call(lambda value=value: web.from_django(value))
        call(lambda value=value: web.from_httpx(value))


def test_notification_handler_entry_points(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # store=None makes the default SQLite file in the working directory
    from paycore.handler import NotificationHandler, OrderRecord
    from paycore.stores import MemoryStore
    from paycore.stores.sqlite import SQLiteStore

    with Gateway(FakeProvider, account="main") as gateway:
        accounts = paycore.Accounts({"main": gateway})
        for value in HOSTILE:
            call(lambda value=value: NotificationHandler(value, lookup=dict.get, on_paid=print, store=MemoryStore()))
            call(lambda value=value: NotificationHandler(accounts, lookup=value, on_paid=print, store=MemoryStore()))
            call(lambda value=value: NotificationHandler(accounts, lookup=dict.get, on_paid=value, store=MemoryStore()))
            call(lambda value=value: NotificationHandler(accounts, lookup=dict.get, on_paid=print, store=value))
            call(lambda value=value: OrderRecord.of(value))
            call(lambda value=value: SQLiteStore(tmp_path / "dir" / "x.db") if value is None else None)
        for found in HOSTILE:  # whatever the merchant's lookup returns, a paycore error or a reply
            handler = NotificationHandler(
                accounts, lookup=lambda order_id, found=found: found, on_paid=print, store=MemoryStore()
            )
            for value in HOSTILE:
                call(lambda handler=handler, value=value: handler.handle(value))
                call(lambda handler=handler, value=value: handler.apply_payment(value))
                call(lambda handler=handler, value=value: handler.reconcile([value]))
