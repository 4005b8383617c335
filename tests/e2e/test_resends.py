"""Resends: until the merchant acknowledges (the reference rule, or exactly OK when strict), per profile."""

from __future__ import annotations

import time

import pytest

from paycore import Gateway
from paycore.testing import LoopbackServer


@pytest.mark.parametrize(
    ("answer", "strict"), [("fail", False), ("", False), ("success", False), ("ok", True), ("OK\n", True)]
)
def test_an_answer_that_does_not_acknowledge_gets_the_resends(
    make_sandbox, merchant, paycore_order, answer, strict, wait_attempts
):
    sandbox = make_sandbox(strict=strict)
    merchant.answer = answer
    order = paycore_order()
    with Gateway("juhe", sandbox.account_settings()) as gateway:
        gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id, timeout=10)
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]
    assert not any(a.acknowledged for a in attempts)
    assert len(merchant.bodies) == 4


@pytest.mark.parametrize("answer", ["ok", "OK\n", "\ufeffOK", "token invalid", "Ok, thanks"])
def test_the_reference_software_takes_any_answer_holding_ok(gateway, sandbox, merchant, paycore_order, answer):
    merchant.answer = answer
    order = paycore_order()
    gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id, timeout=10)
    assert [(a.attempt, a.acknowledged) for a in attempts] == [(1, True)]
    assert len(merchant.bodies) == 1


def test_waiting_for_delivery_returns_once_the_tries_are_over(make_sandbox, merchant, paycore_order):
    sandbox = make_sandbox(notify_interval=0.2)
    merchant.answer = "no"
    order = paycore_order()
    with Gateway("juhe", sandbox.account_settings()) as gateway:
        gateway.create(order)
    sandbox.pay(order.order_id)
    with pytest.raises(TimeoutError):
        sandbox.wait_for_notifications(order.order_id, timeout=0.1)
    attempts = sandbox.wait_for_notifications(order.order_id, timeout=10)
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]


def test_ok_stops_the_resends(gateway, sandbox, merchant, paycore_order, wait_attempts):
    order = paycore_order()
    gateway.create(order)
    sandbox.pay(order.order_id)
    merchant.wait_for(1)
    wait_attempts(sandbox, order.order_id, 1)
    time.sleep(0.3)
    assert len(sandbox.attempts(order.order_id)) == 1
    assert len(merchant.bodies) == 1


@pytest.mark.parametrize(("profile", "tries"), [("document", 4), ("realistic", 5), ("fast", 4)])
def test_profiles(make_sandbox, paycore_order, merchant, profile, tries, wait_attempts):
    sandbox = make_sandbox(profile=profile, notify_interval=0.02)
    merchant.answer = "no"
    order = paycore_order()
    with Gateway("juhe", sandbox.account_settings()) as gateway:
        gateway.create(order)
    sandbox.pay(order.order_id)
    merchant.wait_for(tries)
    wait_attempts(sandbox, order.order_id, tries)
    time.sleep(0.2)
    assert len(sandbox.attempts(order.order_id)) == tries


def test_each_resend_is_sent_at_its_own_time_with_its_own_sign(make_sandbox, paycore_order, merchant):
    sandbox = make_sandbox(notify_interval=1.05)
    merchant.answer = "no"
    order = paycore_order()
    with Gateway("juhe", sandbox.account_settings()) as gateway:
        gateway.create(order)
    sandbox.pay(order.order_id)
    merchant.wait_for(2, timeout=5)
    first, second = (n for n in merchant.notifications[:2])
    assert first.raw["datetime"] != second.raw["datetime"]
    assert first.raw["sign"] != second.raw["sign"]
    assert first.transaction_id == second.transaction_id


def test_unreachable_endpoint_is_retried_and_logged(gateway, sandbox, paycore_order, wait_attempts):
    with LoopbackServer(lambda request: None) as dead:  # type: ignore[arg-type,return-value]
        url = dead.url
    order = paycore_order(notify_url=f"{url}/notify")
    gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = wait_attempts(sandbox, order.order_id, 4)
    time.sleep(0.2)
    assert len(sandbox.attempts(order.order_id)) == 4
    assert all(a.error == "ConnectError" and a.status_code is None for a in attempts)
