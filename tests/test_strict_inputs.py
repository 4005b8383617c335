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
def test_amounts_not_plainly_written_or_absurdly_large_are_refused(make_order, amount):
    with pytest.raises(InvalidRequest, match="amount"):
        make_order(amount=amount)


def test_the_upper_bound_is_published_and_inclusive(make_order):
    assert make_order(amount=paycore.MAX_ORDER_AMOUNT).amount == paycore.MAX_ORDER_AMOUNT
    with pytest.raises(InvalidRequest, match="at most"):
        make_order(amount=paycore.MAX_ORDER_AMOUNT + Decimal("0.01"))


@pytest.mark.parametrize(
    ("currency", "good", "bad"),
    [("CNY", "12.34", "12.345"), ("JPY", "1200", "12.5"), ("KWD", "1.234", "1.2345")],
)
def test_decimals_follow_the_currency(make_order, currency, good, bad):
    assert make_order(currency=currency, amount=good).amount == Decimal(good)
    with pytest.raises(InvalidRequest, match="decimal places"):
        make_order(currency=currency, amount=bad)


@pytest.mark.parametrize("amount", ["12", "12.5", "0.01", 7, Decimal("3.10")])
def test_plain_amounts_are_accepted_exactly(make_order, amount):
    assert make_order(amount=amount).amount == Decimal(str(amount))


def test_a_provider_may_declare_a_lower_bound(make_order):
    class Small(FakeProvider):
        max_order_amount = Decimal("500")

    sent: list[httpx.Request] = []
    with Gateway(Small, transport=httpx.MockTransport(lambda request: sent.append(request))) as gateway:  # type: ignore[func-returns-value]
        with pytest.raises(InvalidRequest, match="500"):
            gateway.create(make_order(amount="500.01"))
    assert sent == []


def test_a_channel_the_provider_does_not_declare_is_refused_before_any_io(make_order):
    class AlipayOnly(FakeProvider):
        channels = frozenset({paycore.Channel.ALIPAY_QR})

    sent: list[httpx.Request] = []
    with Gateway(AlipayOnly, transport=httpx.MockTransport(lambda request: sent.append(request))) as gateway:  # type: ignore[func-returns-value]
        with pytest.raises(InvalidRequest, match="wechat_qr"):
            gateway.create(make_order(channel=paycore.Channel.WECHAT_QR))
    assert sent == []
