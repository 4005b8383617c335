"""Refunds through the core's optional hooks: exactly once per refund id, under both gateways, on the fake."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import pytest

import paycore
import paycore.testing
from paycore import RefundStatus


@pytest.fixture
def paid(paycore_any_gateway, paycore_fake, paycore_order):
    order = paycore_order(amount=Decimal("30.00"))
    paycore_any_gateway().create(order)
    paycore_fake.pay(order.order_id)
    return order


def test_a_refund_and_its_query(paycore_any_gateway, paid):
    refund = paycore_any_gateway().refund(paid.order_id, refund_id="R1", amount=Decimal("10.00"), reason="broken cup")
    assert (refund.order_id, refund.refund_id, refund.amount, refund.status) == (
        paid.order_id,
        "R1",
        Decimal("10.00"),
        RefundStatus.SUCCEEDED,
    )
    assert refund.refunded_at is not None
    assert paycore_any_gateway().query_refund(paid.order_id, "R1") == refund.model_copy(update={"raw": refund.raw})


def test_asking_again_with_the_same_id_refunds_once(paycore_any_gateway, paycore_fake, paid):
    """After a timeout the merchant cannot know whether the refund was made: the same id makes it safe to ask again."""
    paycore_fake.set_faults("timeout_after_sending", order_id=paid.order_id)
    with pytest.raises(paycore.TransportError) as caught:
        paycore_any_gateway().refund(paid.order_id, refund_id="R1", amount=Decimal("30.00"))
    assert caught.value.may_have_reached_gateway is True
    paycore_fake.set_faults([], order_id=paid.order_id)
    again = paycore_any_gateway().refund(paid.order_id, refund_id="R1", amount=Decimal("30.00"))
    assert again.status is RefundStatus.SUCCEEDED
    assert paycore_fake.orders[paid.order_id].refunds.keys() == {"R1"}
    assert paycore_any_gateway().query(paid.order_id).status is paycore.PaymentStatus.REFUNDED


@pytest.mark.parametrize(
    ("first", "then", "code"),
    [
        (("R1", "10.00"), ("R1", "11.00"), "REFUND_ID_REUSED"),
        (("R1", "20.00"), ("R2", "10.01"), "REFUND_EXCEEDS_PAID"),
    ],
)
def test_refunds_the_gateway_refuses(paycore_any_gateway, paid, first, then, code):
    paycore_any_gateway().refund(paid.order_id, refund_id=first[0], amount=Decimal(first[1]))
    with pytest.raises(paycore.GatewayError) as caught:
        paycore_any_gateway().refund(paid.order_id, refund_id=then[0], amount=Decimal(then[1]))
    assert caught.value.gateway_code == code


def test_an_unpaid_order_and_an_unknown_refund(paycore_any_gateway, paycore_order):
    order = paycore_order()
    paycore_any_gateway().create(order)
    with pytest.raises(paycore.GatewayError, match="nothing to refund"):
        paycore_any_gateway().refund(order.order_id, refund_id="R1", amount=Decimal("1.00"))
    with pytest.raises(paycore.GatewayError, match="no such refund"):
        paycore_any_gateway().query_refund(order.order_id, "R9")


@pytest.mark.parametrize(
    ("refund_id", "amount", "reason"),
    [
        ("R 1", Decimal("1.00"), None),
        ("", Decimal("1.00"), None),
        ("R" * 65, Decimal("1.00"), None),
        (None, Decimal("1.00"), None),
        ("R1", 1.5, None),
        ("R1", 1, None),
        ("R1", Decimal("0"), None),
        ("R1", Decimal("-1"), None),
        ("R1", Decimal("NaN"), None),
        ("R1", Decimal("1E+20"), None),
        ("R1", Decimal("1.00"), "x" * 257),
        ("R1", Decimal("1.00"), "\udc80"),
    ],
)
def test_bad_refunds_are_refused_before_sending(paycore_any_gateway, paycore_fake, paid, refund_id, amount, reason):
    sent = len(paycore_fake.requests)
    with pytest.raises(paycore.InvalidRequest) as caught:
        paycore_any_gateway().refund(paid.order_id, refund_id=refund_id, amount=amount, reason=reason)
    assert caught.value.may_have_reached_gateway is False
    assert len(paycore_fake.requests) == sent


def test_a_provider_without_refunds_says_so_before_sending(paycore_any_gateway):
    from tests.seam_providers import GetPay

    with pytest.raises(paycore.NotSupported, match="refund"):
        paycore_any_gateway(provider=GetPay, base_url="https://getpay.example").refund(
            "A1", refund_id="R1", amount=Decimal("1.00")
        )


class _TotalTaking(paycore.testing.FakeProvider):
    """A provider whose gateway wants the order's total with each refund, as WeChat Pay's does."""

    provider_name = "total-taking"
    totals: ClassVar[list[Decimal | None]] = []

    @paycore.hookimpl
    def refund_payment(
        self, order_id: str, refund_id: str, amount: Decimal, reason: str | None, order_amount: Decimal | None
    ) -> paycore.Flow[paycore.Refund]:
        if order_amount is None:
            raise paycore.InvalidRequest("this gateway needs the order's total with each refund (order_amount)")
        self.totals.append(order_amount)
        return (yield from super().refund_payment(order_id, refund_id, amount, reason))


def test_a_provider_that_declares_order_amount_gets_it_and_one_that_does_not_is_called_without(
    paycore_any_gateway, paycore_fake, paid
):
    # The fake's own hook takes no order_amount: given one, it is called as before.
    refund = paycore_any_gateway().refund(
        paid.order_id, refund_id="R1", amount=Decimal("10.00"), order_amount=Decimal("30.00")
    )
    assert refund.status is RefundStatus.SUCCEEDED
    taking = paycore_any_gateway(provider=_TotalTaking)
    assert taking.refund(
        paid.order_id, refund_id="R2", amount=Decimal("5.00"), order_amount=Decimal("30.00")
    ).amount == (Decimal("5.00"))
    assert _TotalTaking.totals[-1] == Decimal("30.00")
    requests_before = len(paycore_fake.requests)
    with pytest.raises(paycore.InvalidRequest, match="order's total"):
        taking.refund(paid.order_id, refund_id="R3", amount=Decimal("5.00"))
    assert len(paycore_fake.requests) == requests_before


@pytest.mark.parametrize(
    ("order_amount", "message"),
    [
        (30.0, "never a float"),
        (Decimal("-30.00"), "positive Decimal"),
        (Decimal("NaN"), "positive Decimal"),
        (Decimal("9.99"), "more than the order's 9.99"),
    ],
)
def test_an_order_amount_that_cannot_be_the_total_is_refused_before_any_io(
    paycore_any_gateway, paycore_fake, paid, order_amount, message
):
    requests_before = len(paycore_fake.requests)
    with pytest.raises(paycore.InvalidRequest, match=message):
        paycore_any_gateway().refund(paid.order_id, refund_id="R1", amount=Decimal("10.00"), order_amount=order_amount)
    assert len(paycore_fake.requests) == requests_before
