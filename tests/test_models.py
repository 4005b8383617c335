from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from paycore import (
    AmountMismatch,
    Channel,
    InvalidRequest,
    Notification,
    PaymentForm,
    PaymentStatus,
    Refund,
    RefundStatus,
    VerificationError,
)


def test_order_keeps_decimal_amount_and_defaults(paycore_order):
    order = paycore_order(amount=Decimal("0.10"))
    assert order.amount == Decimal("0.10")
    assert isinstance(order.amount, Decimal)
    assert order.currency == "CNY"
    assert order.channel is Channel.ALIPAY_QR
    assert len(order.order_id) == 20
    assert order.created_at.tzinfo is not None


@pytest.mark.parametrize("amount", [0.1, 12.5, 1.0])
def test_float_amount_is_refused_with_a_clear_error(paycore_order, amount):
    with pytest.raises(InvalidRequest, match="not float"):
        paycore_order(amount=amount)


def test_bool_amount_is_refused(paycore_order):
    with pytest.raises(InvalidRequest, match="not bool"):
        paycore_order(amount=True)


@pytest.mark.parametrize("amount", ["0", "-1", "0.00", Decimal("-0.01")])
def test_zero_and_negative_amounts_are_refused(paycore_order, amount):
    with pytest.raises(InvalidRequest, match="greater than zero"):
        paycore_order(amount=amount)


@pytest.mark.parametrize("amount", ["0.001", Decimal("1.005"), "12.345"])
def test_more_than_two_decimal_places_is_refused(paycore_order, amount):
    with pytest.raises(InvalidRequest, match="2 decimal places"):
        paycore_order(amount=amount)


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "abc", ""])
def test_non_numbers_are_refused(paycore_order, amount):
    with pytest.raises(InvalidRequest, match="amount"):
        paycore_order(amount=amount)


def test_string_and_int_amounts_are_exact(paycore_order):
    assert paycore_order(amount="0.30").amount == Decimal("0.30")
    assert paycore_order(amount=5).amount == Decimal(5)


def test_raw_channel_code_is_kept_as_a_string(paycore_order):
    order = paycore_order(channel="9031")
    assert order.channel == "9031"
    assert not isinstance(order.channel, Channel)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("notify_url", "ftp://x/y"),
        ("return_url", "not a url"),
        ("notify_url", "https://shop.example/notify "),
        ("notify_url", "https://shop.example/no tify"),
        ("order_id", "has space"),
        ("order_id", "x" * 65),
        ("currency", "cny"),
        ("subject", ""),
        ("client_ip", "999.1.1.1"),
        ("quantity", 0),
        ("created_at", datetime(2026, 1, 1)),  # naive
        ("channel", "two words"),
    ],
)
def test_invalid_fields_are_refused_naming_the_field(paycore_order, field, value):
    with pytest.raises(InvalidRequest, match=field):
        paycore_order(**{field: value})


def test_unknown_field_is_refused(paycore_order):
    with pytest.raises(InvalidRequest, match="colour"):
        paycore_order(colour="red")


def test_models_are_frozen(paycore_order):
    order = paycore_order()
    with pytest.raises(Exception, match="frozen"):
        order.amount = Decimal(1)  # type: ignore[misc]


def test_json_dump_gives_decimal_strings_and_iso_times(paycore_order):
    order = paycore_order(created_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    data = order.model_dump(mode="json")
    assert data["amount"] == "12.50"
    assert data["created_at"] == "2026-11-26T08:00:00Z"


def test_payment_form_html_escapes_every_value():
    form = PaymentForm(action="https://pay.example/Pay_Index.html?a=1&b=2", fields={"x": '"><script>', "n&m": "<b>"})
    page = form.to_html()
    assert "<script>document.forms[0].submit();</script>" in page
    assert '"><script>' not in page
    assert 'value="&quot;&gt;&lt;script&gt;"' in page
    assert 'name="n&amp;m"' in page
    assert 'action="https://pay.example/Pay_Index.html?a=1&amp;b=2"' in page
    assert "submit();" not in form.to_html(auto_submit=False)


def _notification(**overrides):
    fields = {
        "order_id": "A1",
        "status": PaymentStatus.PAID,
        "amount": Decimal("12.5000"),
        "currency": "CNY",
        "provider": "fake",
        "account": "main",
        "ack": "OK",
    }
    fields.update(overrides)
    return Notification(**fields)


def test_notification_check_against_compares_decimal_amounts(paycore_order):
    order = paycore_order(order_id="A1", amount=Decimal("12.50"))
    _notification().check_against(order)  # 12.5000 == 12.50
    with pytest.raises(AmountMismatch):
        _notification(amount=Decimal("12.49")).check_against(order)
    with pytest.raises(VerificationError, match="order"):
        _notification(order_id="B2").check_against(order)


def test_notification_check_against_compares_currencies(paycore_order):
    # 12.50 USD is not 12.50 CNY: the same number in another currency is another amount.
    with pytest.raises(AmountMismatch, match="USD"):
        _notification().check_against(paycore_order(order_id="A1", amount=Decimal("12.50"), currency="USD"))


def test_a_notification_states_its_currency():
    # A handler compares it with the order's every time: a notification without one cannot be built.
    fields = {"order_id": "A1", "status": "paid", "amount": Decimal(1), "provider": "p", "account": "a", "ack": "OK"}
    with pytest.raises(InvalidRequest, match="currency"):
        Notification(**fields)
    with pytest.raises(InvalidRequest, match="currency"):
        Notification(**fields, currency="cny")


def test_notification_refuses_float_amounts():
    with pytest.raises(InvalidRequest, match="not float"):
        _notification(amount=12.5)


def _refund(order_id="A1"):
    return Refund(
        order_id=order_id,
        refund_id="R1",
        status=RefundStatus.SUCCEEDED,
        amount=Decimal("12.50"),
        provider="fake",
        account="main",
    )


def test_a_refund_notification_is_never_a_payment():
    # Carried in Notification.refund: a status of paid would let a handler apply a refund as a payment.
    notification = _notification(status=PaymentStatus.REFUNDED, refund=_refund())
    assert notification.refund is not None
    assert notification.refund.refund_id == "R1"
    assert _notification().refund is None
    with pytest.raises(InvalidRequest, match="refund notification's status is not paid"):
        _notification(refund=_refund())
    with pytest.raises(InvalidRequest, match="refund is of another order"):
        _notification(status=PaymentStatus.UNKNOWN, refund=_refund(order_id="B2"))
