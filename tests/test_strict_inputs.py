"""Strict inputs: amounts as gateways can carry them, channels the provider serves, typed errors only."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

import paycore
from paycore import Gateway, InvalidRequest
from paycore.testing import FakeProvider


@pytest.mark.parametrize(
    "amount",
    [
        " 1.00 ",
        "1.00\n",
        "\uff11\uff12",  # full-width digits
        "\u0661\u0662",  # Arabic-Indic digits
        "1_000",
        "+5",
        "1e2",
        "1E+200000000",
        "1E+999999999999999999",
        ".5",
        "5.",
        "1,000.00",
        "0x10",
        "9" * 40,
        Decimal("1E+200000000"),
        Decimal("1E+999999999999999999"),
        10**40,
    ],
)
def test_amounts_not_plainly_written_or_absurdly_large_are_refused(paycore_order, amount):
    with pytest.raises(InvalidRequest, match="amount"):
        paycore_order(amount=amount)


def test_the_upper_bound_is_published_and_inclusive(paycore_order):
    assert paycore_order(amount=paycore.MAX_ORDER_AMOUNT).amount == paycore.MAX_ORDER_AMOUNT
    with pytest.raises(InvalidRequest, match="at most"):
        paycore_order(amount=paycore.MAX_ORDER_AMOUNT + Decimal("0.01"))


@pytest.mark.parametrize(
    ("currency", "good", "bad"),
    [("CNY", "12.34", "12.345"), ("JPY", "1200", "12.5"), ("KWD", "1.234", "1.2345")],
)
def test_decimals_follow_the_currency(paycore_order, currency, good, bad):
    assert paycore_order(currency=currency, amount=good).amount == Decimal(good)
    with pytest.raises(InvalidRequest, match="decimal places"):
        paycore_order(currency=currency, amount=bad)


@pytest.mark.parametrize("amount", ["12", "12.5", "0.01", 7, Decimal("3.10")])
def test_plain_amounts_are_accepted_exactly(paycore_order, amount):
    assert paycore_order(amount=amount).amount == Decimal(str(amount))


def test_a_provider_may_declare_a_lower_bound(paycore_order):
    class Small(FakeProvider):
        max_order_amount = Decimal("500")

    sent: list[httpx.Request] = []
    with Gateway(Small, transport=httpx.MockTransport(lambda request: sent.append(request))) as gateway:  # type: ignore[func-returns-value]
        with pytest.raises(InvalidRequest, match="500"):
            gateway.create(paycore_order(amount="500.01"))
    assert sent == []


def test_a_channel_the_provider_does_not_declare_is_refused_before_any_io(paycore_order):
    class AlipayOnly(FakeProvider):
        channels = frozenset({paycore.Channel.ALIPAY_QR})

    sent: list[httpx.Request] = []
    with Gateway(AlipayOnly, transport=httpx.MockTransport(lambda request: sent.append(request))) as gateway:  # type: ignore[func-returns-value]
        with pytest.raises(InvalidRequest, match="wechat_qr"):
            gateway.create(paycore_order(channel=paycore.Channel.WECHAT_QR))
    assert sent == []


def test_echoed_values_are_cut_in_messages(paycore_order):
    huge = "E" * 5_000_000
    body = f"memberid=10001&orderid={huge}&transaction_id=T&amount=1.0000&datetime=20261128231027&returncode=00&sign=X"
    juhe = {"base_url": "https://pay.example.com", "merchant_id": "10001", "secret_key": "k"}
    with Gateway("juhe", juhe) as gateway, pytest.raises(paycore.VerificationError) as excinfo:
        gateway.verify_notification(body.encode())
    assert len(str(excinfo.value)) < 300

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "error", "msg": "x" * 200_000})

    with Gateway("juhe", juhe, transport=httpx.MockTransport(refuse)) as gateway:
        with pytest.raises(paycore.GatewayError) as refused:
            gateway.create(paycore_order())
    assert len(str(refused.value)) < 300
    assert refused.value.gateway_message is not None
    assert len(refused.value.gateway_message) <= paycore.errors.MAX_MESSAGE


def test_every_error_message_is_bounded():
    assert len(str(paycore.ProtocolError("y" * 100_000))) == paycore.errors.MAX_MESSAGE


def test_a_missing_secret_names_the_variable_that_would_supply_it():
    with pytest.raises(paycore.ConfigError, match="PAYCORE_MAIN_SECRET_KEY"):
        Gateway("juhe", {"base_url": "https://pay.example.com", "merchant_id": "1"}, account="main")


@pytest.mark.parametrize("refusal", ["签名验证失败", "验签失败!"])
def test_a_signature_refusal_says_what_to_check(paycore_order, refusal):
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "error", "msg": refusal, "data": []})

    juhe = {"base_url": "https://pay.example.com", "merchant_id": "10001", "secret_key": "k"}
    with Gateway("juhe", juhe, transport=httpx.MockTransport(refuse)) as gateway:
        with pytest.raises(paycore.GatewayError, match="secret_key and merchant_id"):
            gateway.create(paycore_order())
