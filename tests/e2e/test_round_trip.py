"""create -> pay -> notification verified -> query paid, sync and async, over real sockets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paycore import AsyncGateway, PaymentStatus


def test_sync_round_trip(gateway, sandbox, merchant, paycore_order, wait_attempts):
    order = paycore_order(attach="会员 7&x=1")
    payment = gateway.create(order)
    assert payment.status is PaymentStatus.PENDING
    assert payment.pay_url == f"{sandbox.url}/cashier/{order.order_id}"
    assert gateway.query(order.order_id).status is PaymentStatus.PENDING

    sandbox.pay(order.order_id)
    merchant.wait_for(1)
    notification = merchant.notifications[0]
    notification.check_against(order)
    assert notification.status is PaymentStatus.PAID
    assert notification.attach == "会员 7&x=1"
    assert notification.paid_amount == Decimal("300")
    # the sandbox writes datetime as the reference software does: date("YmdHis")
    assert notification.raw["datetime"].isdigit()
    assert notification.paid_at is not None

    queried = gateway.query(order.order_id)
    assert queried.status is PaymentStatus.PAID
    assert queried.transaction_id == notification.transaction_id
    assert queried.paid_at is not None
    [attempt] = wait_attempts(sandbox, order.order_id, 1)
    assert attempt.acknowledged
    assert attempt.response == "OK"


@pytest.mark.anyio
async def test_async_round_trip(sandbox, merchant, paycore_order):
    order = paycore_order()
    async with AsyncGateway("juhe", sandbox.account_settings(), timeout=5) as gateway:
        payment = await gateway.create(order)
        assert payment.status is PaymentStatus.PENDING
        sandbox.pay(order.order_id)
        merchant.wait_for(1)
        assert merchant.notifications[0].status is PaymentStatus.PAID
        queried = await gateway.query(order.order_id)
    assert queried.status is PaymentStatus.PAID


def test_form_flow_through_the_sandbox(gateway, sandbox, paycore_order):
    import httpx

    order = paycore_order()
    form = gateway.create(order, flow="form").form
    assert form is not None
    # what the buyer's browser does with the form: POST it, land on the cashier
    response = httpx.post(form.action, data=form.fields, follow_redirects=True)
    assert response.status_code == 200
    assert str(response.url) == f"{sandbox.url}/cashier/{order.order_id}"
    assert order.order_id in response.text


def test_failed_payment(gateway, sandbox, merchant, paycore_order):
    order = paycore_order()
    gateway.create(order)
    sandbox.fail(order.order_id)
    merchant.wait_for(1)
    assert merchant.notifications[0].status is PaymentStatus.FAILED
    assert gateway.query(order.order_id).status is PaymentStatus.PENDING  # NOTPAY: not paid


def test_state_survives_in_a_sqlite_file(tmp_path, make_sandbox, paycore_order):
    from paycore import Gateway

    path = str(tmp_path / "sandbox.sqlite")
    first = make_sandbox(state_path=path)
    order = paycore_order()
    with Gateway("juhe", first.account_settings()) as gateway:
        gateway.create(order)
    first.stop()
    second = make_sandbox(state_path=path)
    with Gateway("juhe", second.account_settings()) as gateway:
        assert gateway.query(order.order_id).status is PaymentStatus.PENDING
