"""Both gateways, driven through httpx.MockTransport and the fake provider."""

from __future__ import annotations

import logging
from decimal import Decimal

import httpx
import pytest

import paycore
from paycore import (
    AsyncGateway,
    CreateFlow,
    Gateway,
    GatewayError,
    InvalidRequest,
    NotSupported,
    PaymentStatus,
    ProtocolError,
    ProviderError,
    SignatureError,
    TransportError,
)
from paycore.testing import FakeGateway, FakeProvider

pytestmark = pytest.mark.anyio


def _sync(fake: FakeGateway, **kwargs) -> Gateway:
    return Gateway(FakeProvider, account="shop", transport=httpx.MockTransport(fake), **kwargs)


def _async(fake: FakeGateway, **kwargs) -> AsyncGateway:
    return AsyncGateway(FakeProvider, account="shop", transport=httpx.MockTransport(fake), **kwargs)


def test_sync_round_trip(paycore_fake, paycore_order):
    order = paycore_order(attach="cart-7")
    with _sync(paycore_fake) as gateway:
        payment = gateway.create(order)
        assert payment.status is PaymentStatus.PENDING
        assert payment.amount == Decimal("12.50")
        assert payment.pay_url == f"https://fake-gateway.invalid/pay/{order.order_id}"
        assert (payment.provider, payment.account) == ("fake", "shop")
        notification = gateway.verify_notification(paycore_fake.pay(order.order_id))
        assert notification.status is PaymentStatus.PAID
        assert notification.attach == "cart-7"
        assert notification.ack == paycore.Reply(body="ok")
        assert str(notification.ack) == "ok"
        notification.check_against(order)
        queried = gateway.query(order.order_id)
        assert queried.status is PaymentStatus.PAID
        assert queried.transaction_id == notification.transaction_id


async def test_async_round_trip(paycore_fake, paycore_order):
    order = paycore_order()
    async with _async(paycore_fake) as gateway:
        payment = await gateway.create(order)
        assert payment.status is PaymentStatus.PENDING
        notification = gateway.verify_notification(paycore_fake.pay(order.order_id).decode())
        assert notification.status is PaymentStatus.PAID
        assert (await gateway.query(order.order_id)).status is PaymentStatus.PAID


def test_close_payment_closes_a_pending_order(paycore_fake, paycore_order):
    order = paycore_order()
    with _sync(paycore_fake) as gateway:
        gateway.create(order)
        assert gateway.close_payment(order.order_id).status is PaymentStatus.CLOSED
        with pytest.raises(GatewayError, match="closed") as excinfo:
            gateway.close_payment(order.order_id)
        assert excinfo.value.gateway_message == "order is closed"


async def test_async_close_payment(paycore_fake, paycore_order):
    order = paycore_order()
    async with _async(paycore_fake) as gateway:
        await gateway.create(order)
        assert (await gateway.close_payment(order.order_id)).status is PaymentStatus.CLOSED


def test_form_flow_does_no_io(paycore_fake, paycore_order):
    order = paycore_order()
    with _sync(paycore_fake) as gateway:
        payment = gateway.create(order, flow=CreateFlow.FORM)
    assert paycore_fake.requests == []
    assert payment.form is not None
    assert payment.form.action == "https://fake-gateway.invalid/pay"
    assert payment.form.fields["order_id"] == order.order_id
    assert "sign" in payment.form.fields


def test_gateway_refusal_is_gateway_error(paycore_fake, paycore_order):
    with _sync(paycore_fake) as gateway:
        with pytest.raises(paycore.OrderNotFound, match="no such order") as not_found:
            gateway.query("missing")
        assert isinstance(not_found.value, GatewayError)
        order = paycore_order()
        gateway.create(order)
        with pytest.raises(GatewayError, match="duplicate"):
            gateway.create(order)


def test_wrong_secret_is_refused_by_the_fake_gateway(paycore_order):
    fake = FakeGateway()
    with Gateway(FakeProvider, {"secret_key": "other"}, transport=httpx.MockTransport(fake)) as gateway:
        with pytest.raises(GatewayError, match="bad signature"):
            gateway.create(paycore_order())
    assert fake.orders == {}


def test_tampered_notification_is_refused(paycore_fake, paycore_order):
    order = paycore_order()
    with _sync(paycore_fake) as gateway:
        gateway.create(order)
        body = paycore_fake.pay(order.order_id)
        with pytest.raises(SignatureError):
            gateway.verify_notification(body.replace(b"amount=12.50", b"amount=99.50"))


def test_notification_as_a_mapping(paycore_fake, paycore_order):
    order = paycore_order()
    with _sync(paycore_fake) as gateway:
        gateway.create(order)
        fields = dict(httpx.QueryParams(paycore_fake.pay(order.order_id).decode()))
        assert gateway.verify_notification(fields).order_id == order.order_id


def test_notification_of_a_bad_type_is_invalid_request(paycore_fake):
    with _sync(paycore_fake) as gateway, pytest.raises(InvalidRequest, match="int"):
        gateway.verify_notification(42)  # type: ignore[arg-type]


def test_create_takes_an_order(paycore_fake):
    with _sync(paycore_fake) as gateway, pytest.raises(InvalidRequest, match=r"paycore\.Order"):
        gateway.create({"amount": "1"})  # type: ignore[arg-type]


def test_unknown_flow_is_invalid_request(paycore_fake, paycore_order):
    with _sync(paycore_fake) as gateway, pytest.raises(InvalidRequest, match="flow"):
        gateway.create(paycore_order(), flow="carrier-pigeon")


def test_empty_order_id_is_invalid_request(paycore_fake):
    with _sync(paycore_fake) as gateway, pytest.raises(InvalidRequest):
        gateway.query("")


@pytest.mark.parametrize(
    ("error", "reached"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow connect"), False),
        (httpx.PoolTimeout("pool"), False),
        (httpx.ReadTimeout("slow answer"), True),
        (httpx.ReadError("reset"), True),
        (httpx.WriteTimeout("slow write"), True),
        (httpx.RemoteProtocolError("garbled"), True),
    ],
)
def test_transport_errors_say_whether_the_request_may_have_arrived(paycore_order, error, reached):
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(TransportError) as excinfo:
            gateway.create(paycore_order())
    assert excinfo.value.may_have_reached_gateway is reached
    assert type(error).__name__ in str(excinfo.value)


async def test_async_transport_error(paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    async with AsyncGateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(TransportError) as excinfo:
            await gateway.query("A1")
    assert excinfo.value.may_have_reached_gateway is True


def test_real_connection_refused_cannot_have_reached(paycore_order):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Gateway(FakeProvider, {"base_url": f"http://127.0.0.1:{port}"}, timeout=2.0) as gateway:
        with pytest.raises(TransportError) as excinfo:
            gateway.query("A1")
    assert excinfo.value.may_have_reached_gateway is False


def test_unparseable_answer_is_protocol_error(paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(ProtocolError, match="without JSON"):
            gateway.create(paycore_order())


class _BuggyProvider(FakeProvider):
    provider_name = "buggy"

    @paycore.hookimpl
    def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
        return {}["missing"]  # a provider bug: KeyError


def test_provider_bug_becomes_provider_error_naming_where_not_what():
    with Gateway(_BuggyProvider) as gateway, pytest.raises(ProviderError, match="KeyError") as excinfo:
        gateway.verify_notification(b"x=1")
    # the place to look, never the provider's own data (which may hold a signing string)
    assert "test_gateway.py:" in str(excinfo.value)
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__context__ is None


class _NoCloseProvider(FakeProvider):
    provider_name = "noclose"
    close_payment = None  # type: ignore[assignment]


def test_missing_optional_operation_is_not_supported_before_io(paycore_order):
    fake = FakeGateway()
    with Gateway(_NoCloseProvider, transport=httpx.MockTransport(fake)) as gateway:
        assert "close" not in gateway.capabilities.operations
        with pytest.raises(NotSupported, match="close"):
            gateway.close_payment("A1")
    assert fake.requests == []


class _ServerOnlyProvider(FakeProvider):
    provider_name = "serveronly"
    create_flows = frozenset({CreateFlow.SERVER})


def test_unsupported_create_flow_is_not_supported(paycore_order):
    fake = FakeGateway()
    with Gateway(_ServerOnlyProvider, transport=httpx.MockTransport(fake)) as gateway:
        with pytest.raises(NotSupported, match="form"):
            gateway.create(paycore_order(), flow="form")
    assert fake.requests == []


def test_calls_are_logged_without_secrets(paycore_fake, paycore_order, caplog):
    secret = "s3cr3t-value-never-logged"
    fake = FakeGateway(paycore.testing.FakeSettings(secret_key=secret))
    caplog.set_level(logging.INFO, logger="paycore")
    order = paycore_order()
    with Gateway(FakeProvider, {"secret_key": secret}, account="shop", transport=httpx.MockTransport(fake)) as gateway:
        gateway.create(order)
        with pytest.raises(GatewayError):
            gateway.query("missing")
        gateway.verify_notification(fake.pay(order.order_id))
    records = [r for r in caplog.records if r.name == "paycore"]
    assert [r.paycore_operation for r in records] == ["create", "query", "verify"]
    assert records[2].paycore_order_id == order.order_id  # learnt from the verified notification
    assert records[0].paycore_outcome == "ok"
    assert records[0].paycore_order_id == order.order_id
    assert records[0].paycore_account == "shop"
    assert records[1].paycore_outcome == "OrderNotFound"
    assert records[1].levelno == logging.WARNING
    assert all(r.paycore_duration_ms >= 0 for r in records)
    assert secret not in caplog.text
    assert secret not in repr(gateway)
    assert secret not in repr(gateway.provider.settings)


def test_own_client_is_left_open(paycore_fake, paycore_order):
    client = httpx.Client(transport=httpx.MockTransport(paycore_fake))
    with Gateway(FakeProvider, client=client) as gateway:
        gateway.create(paycore_order())
    assert not client.is_closed
    client.close()


def test_gateway_closes_its_own_client(paycore_fake, paycore_order):
    gateway = _sync(paycore_fake)
    client = gateway.http_client
    gateway.close()
    assert client.is_closed
    with pytest.raises(InvalidRequest, match="closed"):
        gateway.create(paycore_order())


@pytest.mark.parametrize("method", ["aclose", "close"])
async def test_async_gateway_closes_its_own_client(paycore_fake, paycore_order, method):
    gateway = _async(paycore_fake)
    client = gateway.http_client
    await getattr(gateway, method)()
    assert client.is_closed
    with pytest.raises(InvalidRequest, match="closed"):
        await gateway.create(paycore_order())


def test_closing_an_unused_gateway_makes_no_client(paycore_fake):
    gateway = _sync(paycore_fake)
    gateway.close()
    assert gateway._client is None


def test_default_timeout_is_bounded(paycore_fake):
    with _sync(paycore_fake) as gateway:
        assert gateway.http_client.timeout == paycore.DEFAULT_TIMEOUT
    with _sync(paycore_fake, timeout=3) as gateway:
        assert gateway.http_client.timeout.read == 3
        assert gateway.http_client.timeout.connect == 3


class _KeyInQueryProvider(FakeProvider):
    """Sends its key in the URL, as some protocols must."""

    @paycore.hookimpl
    def create_payment(self, order, flow):  # type: ignore[no-untyped-def]
        yield httpx.Request("POST", "https://merchant:hunter2@pay.example:8443/api?token=s3cret")
        raise AssertionError("not reached")


def test_transport_error_message_drops_credentials_and_query(paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with Gateway(_KeyInQueryProvider, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(TransportError) as excinfo:
            gateway.create(paycore_order())
    message = str(excinfo.value)
    assert "POST https://pay.example:8443/api" in message
    assert "hunter2" not in message
    assert "s3cret" not in message
