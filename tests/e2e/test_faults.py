"""Each fault the sandbox injects, seen from the client: the typed error, or the recovery."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from paycore import Gateway, PaymentStatus, ProtocolError, SignatureError, TransportError


def test_duplicate_notification_is_harmless(gateway, sandbox, merchant, paycore_order, wait_attempts):
    order = paycore_order()
    gateway.create(order)
    sandbox.set_faults(["duplicate"], order_id=order.order_id)
    sandbox.pay(order.order_id)
    merchant.wait_for(2)
    first, second = merchant.notifications
    assert first.transaction_id == second.transaction_id
    assert first.order_id == second.order_id == order.order_id
    assert [a.acknowledged for a in wait_attempts(sandbox, order.order_id, 2)] == [True, True]


def test_wrong_sign_is_refused_and_query_tells_the_truth(gateway, sandbox, merchant, paycore_order):
    order = paycore_order()
    gateway.create(order)
    sandbox.set_faults(["wrong_sign"], order_id=order.order_id)
    sandbox.pay(order.order_id)
    merchant.wait_for(4)  # refused, so resent: the document profile's 4 tries
    assert merchant.notifications == []
    assert all(isinstance(error, SignatureError) for error in merchant.refused)
    assert gateway.query(order.order_id).status is PaymentStatus.PAID


def test_true_amount_below_amount(gateway, sandbox, merchant, paycore_order):
    order = paycore_order(amount=Decimal("300.00"))
    gateway.create(order)
    sandbox.set_faults(["true_amount"], order_id=order.order_id)
    sandbox.pay(order.order_id)
    merchant.wait_for(1)
    notification = merchant.notifications[0]
    notification.check_against(order)  # the order amount still matches
    assert notification.paid_amount == Decimal("299.99")
    assert gateway.query(order.order_id).paid_amount == Decimal("299.99")


def test_ststus_spelling(gateway, sandbox, paycore_order):
    sandbox.set_faults(["ststus"])
    order = paycore_order()
    assert gateway.create(order).pay_url == f"{sandbox.url}/cashier/{order.order_id}"


def test_html_where_json_was_asked_and_the_form_flow_recovers(gateway, sandbox, paycore_order):
    sandbox.set_faults(["html"])
    with pytest.raises(ProtocolError, match="flow='form'"):
        gateway.create(paycore_order())
    payment = gateway.create(paycore_order(), flow="form")
    assert payment.form is not None
    assert payment.form.action == f"{sandbox.url}/Pay_Index.html"


def test_http_500(gateway, sandbox, paycore_order):
    order = paycore_order()
    gateway.create(order)
    sandbox.set_faults(["http_500"], order_id=order.order_id)
    with pytest.raises(ProtocolError, match="HTTP 500"):
        gateway.query(order.order_id)
    sandbox.set_faults(["http_500"])
    with pytest.raises(ProtocolError, match="HTTP 500"):
        gateway.create(paycore_order())


def test_slow_answer_times_out_and_may_have_reached(sandbox, paycore_order):
    sandbox.set_faults(["slow"], slow_seconds=1.0)
    order = paycore_order()
    with Gateway("juhe", sandbox.account_settings(), timeout=0.3) as gateway:
        with pytest.raises(TransportError) as excinfo:
            gateway.create(order)
        assert excinfo.value.may_have_reached_gateway is True
        # the documented recovery: the order may exist, so ask before creating it again
        sandbox.set_faults([])
        deadline = time.monotonic() + 10
        while not sandbox.orders() and time.monotonic() < deadline:
            time.sleep(0.05)  # the slow answer is still on its way; the order appears when it is done
        assert gateway.query(order.order_id).status is PaymentStatus.PENDING


def test_failed_payment_fault(gateway, sandbox, merchant, paycore_order):
    order = paycore_order()
    gateway.create(order)
    sandbox.set_faults(["fail"], order_id=order.order_id)
    sandbox.pay(order.order_id)
    merchant.wait_for(1)
    assert merchant.notifications[0].status is PaymentStatus.FAILED
    assert merchant.notifications[0].paid_amount is None


def test_unknown_fault_is_refused(sandbox):
    import httpx

    response = httpx.put(f"{sandbox.url}/admin/faults", json={"faults": ["meteor"]})
    assert response.status_code == 400
    assert "duplicate" in response.json()["error"]
