"""No secret anywhere: reprs, exception chains, URLs with credentials, logs at DEBUG."""

from __future__ import annotations

from pathlib import Path

import pytest

import paycore
from paycore import load_config

SECRET = "s3cr3t-key-that-must-never-show"


def _every_text(value: object) -> str:
    return f"{value!r}\n{value!s}"


def test_config_repr_and_str_never_show_a_setting_value(tmp_path: Path):
    path = tmp_path / "paycore.toml"
    path.write_text(f'[accounts.main]\nprovider = "juhe"\nsecret_key = "{SECRET}"\nmerchant_id = "10001"\n')
    config = load_config(path, environ={"PAYCORE_MAIN_TOKEN": SECRET})
    assert SECRET not in _every_text(config)
    assert "main" in repr(config)
    assert SECRET not in _every_text(config.account())
    assert SECRET not in _every_text(config.account().settings)
    assert config.account().settings["secret_key"] == SECRET  # still a mapping of the values


# Exception chains: nothing paycore raises may carry the key in __cause__, __context__ or args.

JUHE = {"base_url": "https://pay.example.com", "merchant_id": "10001", "secret_key": SECRET}
SURROGATE = "A\udc80"


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def assert_no_secret_in_chain(error: BaseException) -> None:
    for link in _chain(error):
        for text in (str(link), repr(link.args), repr(getattr(link, "object", ""))):
            assert SECRET not in text, f"{type(link).__name__} in the chain of {type(error).__name__} holds the key"


def _order(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "amount": "9.90",
        "channel": "alipay_qr",
        "subject": "tea",
        "notify_url": "https://shop.example/notify",
        "return_url": "https://shop.example/done",
    }
    fields.update(overrides)
    return fields


@pytest.mark.parametrize(
    "field",
    ["notify_url", "return_url", "attach", "subject", "description", "product_url"],
)
def test_a_lone_surrogate_in_an_order_is_refused_up_front(field):
    value = f"https://shop.example/{SURROGATE}" if field.endswith("url") else SURROGATE
    with pytest.raises(paycore.InvalidRequest, match=field) as excinfo:
        paycore.Order(**_order(**{field: value}))
    assert_no_secret_in_chain(excinfo.value)


@pytest.mark.parametrize("order_id", [SURROGATE, "A\x00B", "A\nB", "x" * 129])
def test_a_bad_order_id_to_query_is_refused_before_any_io(order_id):
    sent: list[object] = []
    transport = __import__("httpx").MockTransport(lambda request: sent.append(request))  # type: ignore[func-returns-value]
    with paycore.Gateway("juhe", JUHE, transport=transport) as gateway:
        with pytest.raises(paycore.InvalidRequest, match="order_id") as excinfo:
            gateway.query(order_id)
    assert sent == []
    assert_no_secret_in_chain(excinfo.value)


@pytest.mark.parametrize(
    "body",
    [
        f"memberid=10001&orderid={SURROGATE}",
        {"memberid": "10001", "orderid": SURROGATE, "sign": "x"},
        {"memberid": SURROGATE},
    ],
    ids=["str", "mapping-value", "mapping-merchant"],
)
def test_a_lone_surrogate_in_a_notification_is_malformed(body):
    with paycore.Gateway("juhe", JUHE) as gateway:
        with pytest.raises(paycore.MalformedNotification) as excinfo:
            gateway.verify_notification(body)
    assert_no_secret_in_chain(excinfo.value)


def test_a_provider_bug_never_chains_its_internals_into_the_error():
    from paycore.testing import FakeProvider

    class Leaky(FakeProvider):
        @paycore.hookimpl
        def verify_notification(self, request):  # type: ignore[no-untyped-def]
            raise ValueError(f"signing string was amount=1&key={self.settings.secret_key.get_secret_value()}")

    with paycore.Gateway(Leaky, {"secret_key": SECRET}) as gateway:
        with pytest.raises(paycore.ProviderError, match="ValueError") as excinfo:
            gateway.verify_notification(b"x=1")
    assert_no_secret_in_chain(excinfo.value)
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__context__ is None


def test_a_paycore_error_whose_chain_holds_the_key_is_cut():
    from paycore.testing import FakeProvider

    class Careless(FakeProvider):
        @paycore.hookimpl
        def verify_notification(self, request):  # type: ignore[no-untyped-def]
            try:
                raise KeyError(f"key={self.settings.secret_key.get_secret_value()}")
            except KeyError:
                raise paycore.MalformedNotification("unreadable") from None

    with paycore.Gateway(Careless, {"secret_key": SECRET}) as gateway:
        with pytest.raises(paycore.MalformedNotification) as excinfo:
            gateway.verify_notification(b"x=1")
    assert_no_secret_in_chain(excinfo.value)


@pytest.mark.parametrize("secret", ["bad\udc80key", "ok-key"])
def test_a_secret_that_is_not_text_is_a_config_error(secret):
    settings = {**JUHE, "secret_key": secret}
    if secret == "ok-key":
        paycore.Gateway("juhe", settings).close()
        return
    with pytest.raises(paycore.ConfigError, match="secret_key") as excinfo:
        paycore.Gateway("juhe", settings)
    assert secret not in str(excinfo.value)
    assert_no_secret_in_chain(excinfo.value)


# Credentials in URLs are refused wherever a URL is configured or given.

PASSWORD = "hunter2-password"


@pytest.mark.parametrize(
    "base_url",
    [
        f"https://user:{PASSWORD}@pay.example.com",
        f"https://{PASSWORD}@pay.example.com",
        "https://pay.example.com\r\nX-Injected: 1",
        "https://pay.example.com:99999",
        "https://pay.example.com:-1",
        "https://pay.example.com/\x00",
        "https://",
    ],
)
def test_a_base_url_with_credentials_or_garbage_is_a_config_error(base_url):
    with pytest.raises(paycore.ConfigError, match="base_url") as excinfo:
        paycore.Gateway("juhe", {**JUHE, "base_url": base_url})
    assert PASSWORD not in str(excinfo.value)
    assert_no_secret_in_chain(excinfo.value)


def test_paycore_accounts_never_prints_a_password_in_a_url(tmp_path: Path):
    import os
    import subprocess
    import sys

    path = tmp_path / "paycore.toml"
    path.write_text(
        f'[accounts.main]\nprovider = "juhe"\nbase_url = "https://u:{PASSWORD}@pay.example.com"\n'
        f'merchant_id = "1"\nsecret_key = "{SECRET}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}
    result = subprocess.run(
        [sys.executable, "-m", "paycore.cli", "--config", str(path), "accounts"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "base_url" in result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("field", ["notify_url", "return_url", "product_url"])
def test_order_urls_with_credentials_are_refused(field):
    with pytest.raises(paycore.InvalidRequest, match=field) as excinfo:
        paycore.Order(**_order(**{field: f"https://shop:{PASSWORD}@shop.example/x"}))
    assert PASSWORD not in str(excinfo.value)


# Logs at DEBUG, everywhere: no secret, no query string of a gateway request.


def _key_in_url_provider():
    """A provider that must send its key in the query string, as epay's query does."""
    from paycore.testing import FakeProvider

    class KeyInUrl(FakeProvider):
        provider_name = "key-in-url"
        secret_parameters = frozenset({"key"})

        @paycore.hookimpl
        def query_payment(self, order_id):  # type: ignore[no-untyped-def]
            url = f"{self.settings.base_url}/api.php"
            params = {"act": "order", "out_trade_no": order_id, "key": self.settings.secret_key.get_secret_value()}
            response = yield __import__("httpx").Request("GET", url, params=params)
            if response.status_code != 200:
                raise paycore.GatewayError("refused")
            return paycore.Payment(
                order_id=order_id, status=paycore.PaymentStatus.PENDING, provider=self.name, account=self.account
            )

    return KeyInUrl


def test_no_logger_at_debug_shows_a_secret_or_a_gateway_query_string(caplog):
    import logging

    import httpx

    from paycore.testing import LoopbackServer

    provider = _key_in_url_provider()
    with LoopbackServer(lambda request: httpx.Response(200, text="{}")) as server:
        settings = {"base_url": server.url, "secret_key": SECRET}
        with caplog.at_level(logging.DEBUG):  # the root logger: paycore, httpx and httpcore alike
            with paycore.Gateway(provider, settings, account="shop") as gateway:
                gateway.query("A1")
            assert any(record.name == "httpx" for record in caplog.records), "httpx logged nothing to check"
            assert any(record.name.startswith("httpcore") for record in caplog.records)
    text = caplog.text + "".join(repr(record.args) for record in caplog.records)
    assert SECRET not in text
    assert "act=order" not in text
    assert "out_trade_no" not in text
    # paycore's own line is still useful: method, host, path, outcome, duration
    [line] = [r.getMessage() for r in caplog.records if r.name == "paycore" and "query" in r.getMessage()]
    assert f"GET {server.url}/api.php" in line
    assert "outcome=ok" in line
    assert "duration_ms=" in line


def test_secret_parameters_are_redacted_in_any_url_httpx_logs(caplog):
    import logging

    import httpx

    provider = _key_in_url_provider()
    paycore.Gateway(provider, {"secret_key": SECRET}).close()  # declares "key" secret to the log filter
    with caplog.at_level(logging.INFO, logger="httpx"):
        # a request paycore did not send, to a host it never talked to
        with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200))) as client:
            client.get("https://elsewhere.example/x", params={"key": SECRET, "page": "2"})
    assert SECRET not in caplog.text
    assert "page=2" in caplog.text


# A provider written from outside, careless with its chains: the gateway still keeps the key out.

B64_KEY = "AbC+dEf/ghI=s3cr3t"  # base64 keys hold + / =, which URLs encode


def _careless_provider(mode: str):
    import httpx
    import pydantic

    from paycore.testing import FakeProvider, FakeSettings

    class Settings(FakeSettings):
        old_keys: dict[str, pydantic.SecretStr] = pydantic.Field(default_factory=dict)

    class Careless(FakeProvider):
        settings_model = Settings
        secret_parameters = frozenset({"key"})

        @paycore.hookimpl
        def query_payment(self, order_id):  # type: ignore[no-untyped-def]
            key = self.settings.secret_key.get_secret_value()
            response = yield httpx.Request("GET", f"{self.settings.base_url}/q", params={"id": order_id, "key": key})
            if mode == "status":
                try:
                    response.raise_for_status()  # the message holds the URL, key URL-encoded
                except httpx.HTTPStatusError as exc:
                    raise paycore.GatewayError("refused") from exc
            if mode == "echo":
                raise paycore.GatewayError(f"gateway refused: {response.text}", gateway_message=response.text)
            if mode == "nested":
                try:
                    raise ValueError("signed with " + self.settings.old_keys["k1"].get_secret_value())
                except ValueError as exc:
                    raise paycore.ProtocolError("bad") from exc
            if mode == "context":
                try:
                    raise KeyError(f"key={key}")
                except KeyError:
                    raise paycore.GatewayError("refused") from ValueError("a clean cause")
            raise AssertionError(mode)

    return Careless


@pytest.mark.parametrize("mode", ["status", "echo", "nested", "context"])
def test_no_chain_or_message_holds_a_key_whatever_the_provider_does(mode):
    import traceback
    from urllib.parse import quote

    import httpx

    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad request: {request.url}")  # a gateway that echoes the request

    settings = {"secret_key": B64_KEY, "old_keys": {"k1": "old-" + B64_KEY}}
    with paycore.Gateway(_careless_provider(mode), settings, transport=httpx.MockTransport(gateway)) as juhe:
        with pytest.raises(paycore.PaycoreError) as excinfo:
            juhe.query("A1")
    error = excinfo.value
    printed = "".join(traceback.format_exception(error))
    for form in (B64_KEY, quote(B64_KEY, safe=""), "s3cr3t"):
        assert form not in printed
        assert form not in str(getattr(error, "gateway_message", ""))
        for link in _chain(error):
            assert form not in f"{link}{link.args!r}"
    assert error.__context__ is None or isinstance(error.__context__, paycore.PaycoreError)
    assert error.may_have_reached_gateway


def test_a_transport_error_keeps_no_httpx_exception_holding_the_url():
    import httpx

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with paycore.Gateway(
        _careless_provider("status"), {"secret_key": SECRET}, transport=httpx.MockTransport(down)
    ) as g:
        with pytest.raises(paycore.TransportError) as excinfo:
            g.query("A1")
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__context__ is None


def test_the_public_sandbox_key_is_no_secret_and_is_not_masked():
    # Masking it (and each word it begins with) garbled every sandbox session's messages: "src/***_acme/...".
    from paycore._plugins import ProviderRuntime
    from paycore.sandbox import PUBLIC_SANDBOX_KEY
    from paycore.testing import FakeProvider, FakeSettings

    public = FakeProvider(FakeSettings(secret_key=PUBLIC_SANDBOX_KEY), name="fake", account="main")
    assert ProviderRuntime(public).masked_secrets == ()
    private = FakeProvider(FakeSettings(secret_key="a-real-merchant-key-0123"), name="fake", account="main")
    assert "a-real-merchant-key-0123" in ProviderRuntime(private).masked_secrets


def test_a_settings_error_keeps_no_secret_in_its_hidden_context():
    # `raise ... from None` inside the except block only hides the context from printed tracebacks:
    # __context__ still held pydantic's error, whose input is every setting, the secret included.
    from paycore.testing import FakeProvider

    secret = "a-real-merchant-key-0123456789"
    with pytest.raises(paycore.ConfigError) as caught:
        paycore.Gateway(FakeProvider, {"base_url": "not a url", "secret_key": secret})
    chain: list[BaseException] = []
    error: BaseException | None = caught.value
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert chain == [caught.value]
    assert secret not in repr(vars(caught.value))


@pytest.mark.parametrize(
    "conninfo",
    [
        "host=127.0.0.1 port=1 dbname=shop user=shop password=pg-password-0123456789",  # nothing listens
        "host=127.0.0.1 password=pg-password-0123456789 no_such_option=1",  # unreadable
        "postgresql://shop:pg-password-0123456789@127.0.0.1:1/shop?sslmode=nonsense",
    ],
    ids=["refused", "bad option", "bad url"],
)
def test_a_postgres_store_error_keeps_no_password_even_in_its_hidden_context(conninfo):
    # psycopg's error (its message, or its connection info) may hold the password: an error reporter
    # sends __context__ even when the traceback hides it.
    from paycore.stores.postgres import PostgresStore

    with pytest.raises(paycore.ConfigError) as caught:
        PostgresStore(conninfo)
    assert _chain(caught.value) == [caught.value]
    assert "pg-password-0123456789" not in repr(vars(caught.value)) + str(caught.value)
