"""The testing kit as an application's test suite uses it: the fake's faults, through the plugin's fixtures."""

from __future__ import annotations

import threading
from decimal import Decimal

import httpx
import pytest

import paycore
from paycore import Outcome
from paycore.handler import NotificationHandler, OrderRecord
from paycore.stores import MemoryStore
from paycore.testing import FakeFault, FakeGateway, FakeProvider, GatewayUnderTest


def test_decline_is_a_gateway_refusal_with_its_code(paycore_any_gateway, paycore_fake, paycore_order):
    paycore_fake.set_faults(["decline"])
    with pytest.raises(paycore.GatewayError) as caught:
        paycore_any_gateway().create(paycore_order())
    assert caught.value.gateway_code == "DECLINED"
    assert caught.value.gateway_message == "declined"
    assert not paycore_fake.orders


def test_gateway_error_page_is_a_protocol_error(paycore_any_gateway, paycore_fake, paycore_order):
    order = paycore_order()
    paycore_fake.set_faults([FakeFault.GATEWAY_ERROR], order_id=order.order_id)
    with pytest.raises(paycore.ProtocolError, match="502"):
        paycore_any_gateway().create(order)
    paycore_any_gateway().create(paycore_order())  # another order is not affected


def test_unreachable_gateway_cannot_have_been_reached(paycore_any_gateway, paycore_fake, paycore_order):
    paycore_fake.set_faults(["unreachable"])
    with pytest.raises(paycore.TransportError) as caught:
        paycore_any_gateway().create(paycore_order())
    assert caught.value.may_have_reached_gateway is False
    assert not paycore_fake.orders


def test_timeout_after_sending_created_the_order_anyway(paycore_any_gateway, paycore_fake, paycore_order):
    order = paycore_order()
    paycore_fake.set_faults(["timeout_after_sending"], order_id=order.order_id)
    with pytest.raises(paycore.TransportError) as caught:
        paycore_any_gateway().create(order)
    assert caught.value.may_have_reached_gateway is True
    assert paycore_fake.orders[order.order_id].status == "pending"  # so the merchant must query, not create again
    paycore_fake.set_faults([], order_id=order.order_id)
    assert paycore_any_gateway().query(order.order_id).status is paycore.PaymentStatus.PENDING


def test_bad_signature_is_refused_by_the_merchant(paycore_any_gateway, paycore_fake, paycore_order):
    order = paycore_order()
    paycore_any_gateway().create(order)
    paycore_fake.set_faults(["bad_signature"], order_id=order.order_id)
    with pytest.raises(paycore.SignatureError):
        paycore_any_gateway().verify_notification(paycore_fake.pay(order.order_id))


def test_underpayment_shows_in_notification_and_query(paycore_any_gateway, paycore_fake, paycore_order):
    order = paycore_order(amount=Decimal("10.00"))
    paycore_any_gateway().create(order)
    paycore_fake.set_faults(["underpay"], order_id=order.order_id)
    notification = paycore_any_gateway().verify_notification(paycore_fake.pay(order.order_id))
    assert notification.amount == Decimal("10.00")
    assert notification.paid_amount == Decimal("9.99")
    assert paycore_any_gateway().query(order.order_id).paid_amount == Decimal("9.99")
    handler = NotificationHandler(
        paycore.Accounts({"main": paycore_any_gateway().gateway()}),
        lookup={order.order_id: OrderRecord(order.order_id, order.amount, order.currency, "main")}.get,
        on_paid=pytest.fail,
        store=MemoryStore(),
    )
    assert handler.process(paycore_fake.resend(order.order_id)).outcome is Outcome.UNDERPAID


def test_pending_forever_never_settles(paycore_any_gateway, paycore_fake, paycore_order):
    order = paycore_order()
    paycore_fake.set_faults(["pending_forever"], order_id=order.order_id)
    paycore_any_gateway().create(order)
    with pytest.raises(paycore.InvalidRequest, match="pending forever"):
        paycore_fake.pay(order.order_id)
    assert paycore_any_gateway().query(order.order_id).status is paycore.PaymentStatus.PENDING


def test_late_payment_after_close(paycore_any_gateway, paycore_fake, paycore_order):
    order = paycore_order()
    paycore_any_gateway().create(order)
    assert paycore_any_gateway().close_payment(order.order_id).status is paycore.PaymentStatus.CLOSED
    with pytest.raises(paycore.InvalidRequest, match="closed"):
        paycore_fake.pay(order.order_id)  # without the fault, a closed order stays closed
    paycore_fake.set_faults(["late_payment"], order_id=order.order_id)
    notification = paycore_any_gateway().verify_notification(paycore_fake.pay(order.order_id))
    assert notification.status is paycore.PaymentStatus.PAID


def test_resend_is_the_same_notification_and_the_handler_applies_it_once(paycore_gateway, paycore_fake, paycore_order):
    order = paycore_order()
    paycore_gateway.create(order)
    first = paycore_fake.pay(order.order_id)
    assert paycore_fake.resend(order.order_id) == first
    with pytest.raises(paycore.InvalidRequest, match="already paid"):
        paycore_fake.pay(order.order_id)  # a second payment would be a new transaction: refused
    paid: list[paycore.AppliedPayment] = []
    handler = NotificationHandler(
        paycore.Accounts({"main": paycore_gateway}),
        lookup={order.order_id: OrderRecord(order.order_id, order.amount, order.currency, "main")}.get,
        on_paid=paid.append,
        store=MemoryStore(),
    )
    outcomes = [handler.process(body).outcome for body in (first, paycore_fake.resend(order.order_id))]
    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert len(paid) == 1


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        ("signature", paycore.SignatureError),
        ("amount", paycore.SignatureError),
        ("merchant", paycore.MerchantMismatch),
        ("unsigned", paycore.MissingField),
    ],
)
def test_spoilt_notifications_are_refused(paycore_any_gateway, paycore_fake, paycore_order, broken, error):
    order = paycore_order()
    paycore_any_gateway().create(order)
    paycore_fake.pay(order.order_id)
    genuine = paycore_fake.notification_request(order.order_id, path="/pay/notify/main")
    assert paycore_any_gateway().verify_notification(genuine).order_id == order.order_id
    with pytest.raises(error):
        paycore_any_gateway().verify_notification(paycore_fake.notification_request(order.order_id, broken=broken))


def test_faults_are_checked_by_name(paycore_fake):
    with pytest.raises(paycore.InvalidRequest, match="unknown fake fault"):
        paycore_fake.set_faults(["declined"])
    with pytest.raises(paycore.InvalidRequest, match="no order"):
        paycore_fake.pay("never-created")
    assert paycore_fake.faults() == frozenset()


def test_deliver_posts_to_the_merchants_endpoint_over_http(paycore_loopback, paycore_fake, paycore_order):
    """The fake keeps notify_url; duplicate delivery reaches a real endpoint twice, applied once."""
    with paycore.Gateway(
        paycore.testing.FakeProvider, account="main", transport=httpx.MockTransport(paycore_fake)
    ) as verifier:
        orders: dict[str, OrderRecord] = {}
        paid: list[paycore.AppliedPayment] = []
        handler = NotificationHandler(
            paycore.Accounts({"main": verifier}), lookup=orders.get, on_paid=paid.append, store=MemoryStore()
        )
        shop = paycore_loopback.asgi(paycore.web.asgi_app(handler))
        order = paycore_order(notify_url=f"{shop.url}/notify/main")
        orders[order.order_id] = OrderRecord(order.order_id, order.amount, order.currency, "main")
        verifier.create(order)
        paycore_fake.set_faults(["duplicate"], order_id=order.order_id)
        paycore_fake.pay(order.order_id)
        answers = paycore_fake.deliver(order.order_id)
    assert [(answer.status_code, answer.text) for answer in answers if answer] == [(200, "ok"), (200, "ok")]
    assert len(paid) == 1
    assert len(paycore_fake.deliveries) == 2


def test_deliver_to_an_endpoint_that_is_down_records_no_answer(paycore_gateway, paycore_fake, paycore_order):
    order = paycore_order(notify_url="http://127.0.0.1:9/notify/main")  # the discard port: nothing listens
    paycore_gateway.create(order)
    paycore_fake.pay(order.order_id)
    assert paycore_fake.deliver(order.order_id, timeout=2) == [None]


def test_order_factory_gives_new_ids_and_takes_fields(paycore_order):
    first, second = paycore_order(), paycore_order(amount=Decimal("1.00"), attach="cart-1")
    assert first.order_id != second.order_id
    assert (second.amount, second.attach) == (Decimal("1.00"), "cart-1")
    with pytest.raises(paycore.InvalidRequest):
        paycore_order(amount=1.5)  # money is Decimal, also in tests


async def test_async_gateway_fixture(paycore_async_gateway, paycore_fake, paycore_order):
    order = paycore_order()
    async with paycore_async_gateway as gateway:
        assert (await gateway.create(order)).status is paycore.PaymentStatus.PENDING
    assert [request.url.path for request in paycore_fake.requests] == ["/orders"]


pytestmark = pytest.mark.anyio


def test_gateway_kind_runs_each_gateway(paycore_gateway_kind, paycore_any_gateway):
    under_test = paycore_any_gateway()
    assert isinstance(under_test, GatewayUnderTest)
    assert under_test.kind == paycore_gateway_kind


def test_sandbox_fixture_serves_a_providers_sandbox(paycore_sandbox, paycore_order):
    sandbox = paycore_sandbox("juhe")
    with paycore.Gateway("juhe", sandbox.account_settings(), account="main") as gateway:
        order = paycore_order()
        assert gateway.create(order).status is paycore.PaymentStatus.PENDING
        sandbox.pay(order.order_id)
        assert gateway.query(order.order_id).status is paycore.PaymentStatus.PAID


def test_gateway_under_test_refuses_to_block_an_event_loop():
    import asyncio

    async def inside() -> None:
        GatewayUnderTest("async", paycore.testing.FakeProvider, transport=FakeGateway()).query("A1")

    with pytest.raises(paycore.InvalidRequest, match="running event loop"):
        asyncio.run(inside())


def test_fake_gateway_is_safe_to_share_between_threads_of_one_test(paycore_fake, paycore_order):
    """A merchant app under test may call from several threads; every order still lands once."""
    orders = [paycore_order() for _ in range(20)]

    def create(order: paycore.Order) -> None:
        with paycore.Gateway(paycore.testing.FakeProvider, transport=httpx.MockTransport(paycore_fake)) as gateway:
            gateway.create(order)

    threads = [threading.Thread(target=create, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(paycore_fake.orders) == sorted(order.order_id for order in orders)


def test_plugin_is_registered_by_entry_point_and_loads_paycore_lazily(pytester):
    """A project with no conftest gets the fixtures; a session that asks for none never imports paycore's models."""
    pytester.makepyfile(
        test_shop="""
        def test_fixtures(paycore_order, paycore_gateway, paycore_fake):
            order = paycore_order()
            payment = paycore_gateway.create(order)
            assert payment.order_id == order.order_id
            assert paycore_fake.orders[order.order_id].status == "pending"
        """,
        test_plain="""
        import sys

        def test_nothing_of_paycore_loaded():
            assert "paycore.testing.pytest_plugin" in sys.modules  # the plugin is there ...
            assert "paycore.models" not in sys.modules  # ... and cost nothing
            assert "httpx" not in sys.modules
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-p", "no:anyio")
    result.assert_outcomes(passed=2)
    alone = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-p", "no:anyio", "test_plain.py")
    alone.assert_outcomes(passed=1)


SHOP_CONFIG = """
default = "main"

[accounts.main]
provider = "juhe"
base_url = "https://pay.example.com"
merchant_id = "10002"
timeout = 5

[accounts.main.channels]
alipay_qr = "903"

[accounts.main_b]
provider = "epay"
base_url = "https://epay.example.com"
merchant_id = "1001"
secret_key = "main-b-key-0123456789"
"""


def test_one_switch_turns_a_configured_account_into_the_fake(
    tmp_path, monkeypatch, paycore_fake_account, paycore_loopback
):
    """The application loads its configuration as in production; only the switched account changes."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "paycore.toml").write_text(SHOP_CONFIG)
    monkeypatch.setenv("PAYCORE_MAIN_SECRET_KEY", "the-production-key-from-the-environment")
    monkeypatch.setenv("PAYCORE_MAIN_B_MERCHANT_ID", "1002")
    fake = paycore_fake_account()  # the default account, "main"

    # The application's own code, unchanged:
    accounts = paycore.Accounts.from_config()
    orders: dict[str, OrderRecord] = {}
    paid: list[paycore.AppliedPayment] = []
    handler = NotificationHandler(accounts, lookup=orders.get, on_paid=paid.append, store=MemoryStore())
    shop = paycore_loopback.asgi(paycore.web.asgi_app(handler))
    try:
        assert accounts.gateway().provider_name == "fake"
        assert accounts["main_b"].provider_name == "epay"  # untouched, its variables too
        assert accounts["main_b"].provider.settings.merchant_id == "1002"
        order = paycore.Order(
            amount=Decimal("9.90"),
            channel="alipay_qr",
            subject="Green tea",
            notify_url=accounts.notify_url(f"{shop.url}/pay/notify"),
            return_url=f"{shop.url}/done",
        )
        orders[order.order_id] = OrderRecord(order.order_id, order.amount, order.currency, "main")
        accounts.gateway().create(order)  # over real HTTP to the served fake
        fake.set_faults(["duplicate"], order_id=order.order_id)
        fake.pay(order.order_id)
        answers = fake.deliver(order.order_id)
    finally:
        accounts.close()
    assert [answer.text for answer in answers if answer] == ["ok", "ok"]
    assert [event.order_id for event in paid] == [order.order_id]


def test_switching_an_account_only_in_the_environment(tmp_path, monkeypatch, paycore_fake_account, paycore_order):
    monkeypatch.chdir(tmp_path)  # no paycore.toml here
    monkeypatch.delenv("PAYCORE_CONFIG", raising=False)
    monkeypatch.setenv("PAYCORE_SHOP_PROVIDER", "juhe")
    monkeypatch.setenv("PAYCORE_SHOP_CHANNELS", '{"alipay_qr": "903"}')
    fake = paycore_fake_account("shop")
    with paycore.Gateway.from_config("shop") as gateway:
        assert gateway.provider_name == "fake"
        order = paycore_order()
        gateway.create(order)
    assert fake.orders[order.order_id].status == "pending"
    with pytest.raises(paycore.ConfigError, match="no account named"):
        paycore_fake_account("nobody")


MANY_PROVIDERS_CONFIG = """
default = "cn"

[accounts.cn]
provider = "juhe"
base_url = "https://pay.example.com"
merchant_id = "10001"
# secret_key comes from the production environment only

[accounts.ali]
provider = "alipay"
app_id = "2021000000000000"
# private_key and alipay_public_key: production secrets, absent in tests

[accounts.shop_epay]
provider = "epay"
base_url = "https://epay.example.com"
merchant_id = "1001"
"""


def test_every_account_switched_at_once_needs_no_provider_secret(
    tmp_path, monkeypatch, paycore_fake_account, paycore_order
):
    # Without it, loading the configuration needs every provider's real secrets, Alipay's keys included.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "paycore.toml").write_text(MANY_PROVIDERS_CONFIG)
    monkeypatch.setenv("PAYCORE_ALI_PRIVATE_KEY", "/nonexistent/production-key.pem")
    fake = paycore_fake_account(every=True)
    with paycore.Accounts.from_config() as accounts:
        assert {name: accounts[name].provider_name for name in accounts.names} == {
            "ali": "fake",
            "cn": "fake",
            "shop_epay": "fake",
        }
        assert accounts.default == "cn"
        for name in accounts.names:
            order = paycore_order()
            accounts[name].create(order)
            assert fake.orders[order.order_id].status == "pending"
    with pytest.raises(paycore.InvalidRequest, match="every=True or an account"):
        paycore_fake_account("cn", every=True)


def test_toml_copies_read_back_the_same():
    import tomllib

    from paycore.testing._switch import toml_text

    data = {
        "default": "main",
        "accounts": {
            "main": {"provider": "juhe", "base_url": 'https://x.example/"q"', "timeout": 5, "deadline": 1.5},
            "a.b": {"provider": "epay", "channels": {"alipay_qr": "903", "weird key": "\u7eff\u8336\n\t"}},
            "flags": {"provider": "fake", "strict": True, "codes": ["a", "b"]},
        },
    }
    assert tomllib.loads(toml_text(data)) == data


def test_the_bad_signature_fault_spoils_notification_request_too(paycore_gateway, paycore_fake, paycore_order):
    order = paycore_order()
    paycore_gateway.create(order)
    paycore_fake.set_faults("bad_signature", order_id=order.order_id)  # one fault, not its letters
    paycore_fake.pay(order.order_id)
    with pytest.raises(paycore.SignatureError):
        paycore_gateway.verify_notification(paycore_fake.notification_request(order.order_id))
    assert paycore_fake.faults(order.order_id) == {FakeFault.BAD_SIGNATURE}


def test_an_asgi_app_that_raises_answers_500_not_a_hang_up(paycore_loopback):
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def broken(request):
        raise RuntimeError("the shop's bug")

    async def bare(scope, receive, send):
        raise RuntimeError("before any answer")

    starlette = paycore_loopback.asgi(Starlette(routes=[Route("/notify/main", broken, methods=["POST"])]))
    raw = paycore_loopback.asgi(bare)
    assert httpx.post(f"{starlette.url}/notify/main", content=b"x").status_code == 500
    answer = httpx.get(f"{raw.url}/anything")
    assert (answer.status_code, answer.text) == (500, "the application raised RuntimeError")


def test_a_transport_fault_over_a_socket_drops_the_connection(paycore_loopback, paycore_fake, paycore_order):
    server = paycore_loopback.handler(paycore_fake)
    paycore_fake.set_faults("unreachable")
    with paycore.Gateway(paycore.testing.FakeProvider, {"base_url": server.url}) as gateway:
        with pytest.raises(paycore.TransportError) as caught:
            gateway.create(paycore_order())
    assert caught.value.may_have_reached_gateway is True  # a dropped connection: as close as a socket gets


def test_paycore_transport_says_to_override_it_for_another_provider(pytester):
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def paycore_provider():
            return "juhe"
        """
    )
    pytester.makepyfile(test_other="def test_it(paycore_gateway):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-p", "no:anyio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*paycore_transport is the fake gateway, but paycore_provider is 'juhe': override*"])


def test_a_merchant_applies_each_payment_once_over_real_http(paycore_loopback, paycore_fake):
    from decimal import Decimal

    from paycore.testing import Merchant

    gateway_server = paycore_loopback.handler(paycore_fake)
    settings = {"base_url": gateway_server.url}
    defaults = {"amount": Decimal("9.90"), "channel": "alipay_qr", "subject": "tea"}
    with Merchant(paycore.testing.FakeProvider, settings, answers=["busy"], **defaults) as shop:
        order = shop.order(attach="cart-1")
        assert (order.notify_url, order.return_url) == (f"{shop.url}/notify/main", f"{shop.url}/return")
        shop.gateway.create(order)
        paycore_fake.pay(order.order_id)
        first = paycore_fake.deliver(order.order_id)
        assert [response.text for response in first if response is not None] == ["busy"]  # scripted, not applied
        assert shop.paid == []
        paycore_fake.deliver(order.order_id)
        paycore_fake.deliver(order.order_id)  # the gateway's resend: acknowledged, not applied again
        assert [(payment.order_id, payment.amount) for payment in shop.paid] == [(order.order_id, Decimal("9.90"))]
        assert shop.notify_methods == ["POST", "POST", "POST"]
        # The return page: what the provider cannot read is a 400, not recorded; a return is read, for display.
        assert httpx.get(f"{shop.url}/return?status=paid").status_code == 400
        back = httpx.get(f"{shop.url}/return?order_id={order.order_id}&status=paid")
        assert (back.status_code, 'id="thanks"' in back.text) == (200, True)
        assert [(shown.order_id, shown.claimed_status) for shown in shop.returns] == [
            (order.order_id, paycore.PaymentStatus.PAID)
        ]
        unknown = paycore.Order(notify_url=shop.notify_url, return_url=shop.return_url, **defaults)
        shop.gateway.create(unknown)  # not through shop.order: the merchant does not know it
        paycore_fake.pay(unknown.order_id)
        paycore_fake.deliver(unknown.order_id)
        assert [payment.order_id for payment in shop.paid] == [order.order_id]
    assert repr(shop) == "<Merchant account='main' orders=1 paid=1>"


def test_a_sandbox_with_a_key_of_its_own_sits_beside_other_accounts(paycore_sandbox):
    # As documented in testing.md: the public test key is refused beside other accounts, a suite's own is not.
    public = paycore_sandbox("juhe")
    own = paycore_sandbox("juhe", secret_key="a-test-key-of-this-suite-0123")
    assert own.account_settings()["secret_key"] == "a-test-key-of-this-suite-0123"
    other = paycore.Gateway(FakeProvider, account="other")
    with pytest.raises(paycore.ConfigError, match="public test key"):
        paycore.Accounts(
            {"sandbox": paycore.Gateway("juhe", public.account_settings(), account="sandbox"), "other": other}
        )
    with paycore.Accounts(
        {"sandbox": paycore.Gateway("juhe", own.account_settings(), account="sandbox"), "other": other}
    ) as accounts:
        assert accounts.names == ("other", "sandbox")
