"""Conformance, round trip: create, pay, verify and query under both gateways; close, refund, flows, order fields."""

from __future__ import annotations

import httpx
import pytest

from paycore._demo import order_fields_for
from paycore.errors import (
    InvalidRequest,
    PaycoreError,
)
from paycore.models import Channel, CreateFlow, NextAction, PaymentForm, PaymentStatus, Redirect, RefundStatus
from paycore.provider import Operation
from paycore.testing._conformance_base import ConformanceBase, ConformanceWorld

__all__ = ["RoundTripChecks"]


class RoundTripChecks(ConformanceBase):
    """Create, pay, verify and query under both gateways; close, refund, flows, order fields."""

    def test_create_pay_verify_query(self, conformance_world: ConformanceWorld, paycore_gateway_kind: str) -> None:
        under_test = self._under_test(paycore_gateway_kind, conformance_world)
        order = self.order()
        payment = under_test.create(order)
        assert payment.order_id == order.order_id
        assert payment.status is PaymentStatus.PENDING, f"create returned {payment.status}, not pending"
        assert payment.next_action is not None, "create must say what the buyer does next (Payment.next_action)"
        unpaid = under_test.query(order.order_id)
        assert unpaid.status is not PaymentStatus.PAID, "query says paid before the buyer paid"
        received = conformance_world.pay(order)
        notification = under_test.verify_notification(received)
        assert notification.order_id == order.order_id
        assert notification.status is PaymentStatus.PAID
        assert notification.amount == order.amount, f"notified {notification.amount}, ordered {order.amount}"
        assert notification.currency == order.currency, (
            f"notified in {notification.currency}, ordered in {order.currency}: a notification states the currency "
            "the gateway settled in"
        )
        notification.check_against(order, account="conformance")
        assert "ok" not in under_test.failure_reply("bad signature").body.lower()
        queried = under_test.query(order.order_id)
        assert queried.status is PaymentStatus.PAID, f"query after payment says {queried.status}"
        assert queried.currency == order.currency, (
            f"a paid order queried says currency {queried.currency}, ordered in {order.currency}: a handler "
            "applies no paid payment without its currency"
        )

    def test_close_where_declared(self, conformance_world: ConformanceWorld, paycore_gateway_kind: str) -> None:
        if Operation.CLOSE not in self._provider_class().operations():
            pytest.skip("the provider declares no close_payment")
        under_test = self._under_test(paycore_gateway_kind, conformance_world)
        order = self.order()
        under_test.create(order)
        assert under_test.close_payment(order.order_id).status is PaymentStatus.CLOSED

    def test_refund_where_declared(self, conformance_world: ConformanceWorld, paycore_gateway_kind: str) -> None:
        operations = self._provider_class().operations()
        if Operation.REFUND not in operations:
            pytest.skip("the provider declares no refund_payment")
        under_test = self._under_test(paycore_gateway_kind, conformance_world)
        order = self.order()
        under_test.create(order)
        under_test.verify_notification(conformance_world.pay(order))
        refund = under_test.refund(
            order.order_id, refund_id="cf-refund-1", amount=order.amount, order_amount=order.amount
        )
        assert (refund.order_id, refund.refund_id, refund.amount) == (order.order_id, "cf-refund-1", order.amount)
        assert refund.status is not RefundStatus.FAILED, f"the refund {refund.status}"
        again = under_test.refund(
            order.order_id, refund_id="cf-refund-1", amount=order.amount, order_amount=order.amount
        )
        assert again.refund_id == "cf-refund-1", "asking again with the same refund id must answer that refund"
        if Operation.REFUND_QUERY in operations:
            queried = under_test.query_refund(order.order_id, "cf-refund-1")
            assert (queried.refund_id, queried.amount) == ("cf-refund-1", order.amount)

    def test_every_declared_channel_and_flow_is_paid(self, conformance_world: ConformanceWorld) -> None:
        provider_class = self._provider_class()
        under_test = self._under_test("sync", conformance_world)
        for channel in sorted(provider_class.channels):
            for flow in sorted(provider_class.create_flows):
                order = self.order(channel)
                payment = under_test.create(order, flow=flow)
                shown = f"channel {channel.value}, flow {flow.value}"
                assert payment.next_action is not None, f"create on {shown} gave no next_action"
                # The buyer's browser opens a redirect or submits a form: some gateways learn of the order only then.
                _open_as_a_browser(payment.next_action, conformance_world.transport)
                notification = under_test.verify_notification(conformance_world.pay(order))
                paid = (notification.order_id, notification.status, notification.amount)
                assert paid == (order.order_id, PaymentStatus.PAID, order.amount), f"paid on {shown}: {paid}"

    @pytest.mark.parametrize("flow", list(CreateFlow))
    def test_each_declared_flow(self, conformance_world: ConformanceWorld, flow: CreateFlow) -> None:
        under_test = self._under_test("sync", conformance_world)
        if flow not in self._provider_class().create_flows:
            with pytest.raises(PaycoreError):
                under_test.create(self.order(), flow=flow)
            return
        payment = under_test.create(self.order(), flow=flow)
        assert payment.next_action is not None, f"create with flow {flow.value} gave no next_action"

    def test_required_order_fields_and_channels_refused_before_sending(
        self, conformance_world: ConformanceWorld
    ) -> None:
        provider_class = self._provider_class()
        sent: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return httpx.Response(500)

        under_test = self._under_test("sync", conformance_world, transport=record)
        for channel in sorted(provider_class.channels):
            for flow in sorted(provider_class.create_flows):
                for name in provider_class.order_fields_for(channel, flow):
                    with pytest.raises(InvalidRequest, match=name):
                        under_test.create(self.order(channel, **{name: None}), flow=flow)
        for channel in sorted(set(Channel) - provider_class.channels):
            with pytest.raises(InvalidRequest):
                under_test.create(self.order(channel, **order_fields_for(provider_class, channel)))
        assert not sent, "an order the provider must refuse was sent to the gateway"


def _open_as_a_browser(action: NextAction, transport: httpx.MockTransport | None) -> None:
    """Follow a redirect, or submit a form, as the buyer's browser does (a QR code, an app or an SDK: nothing)."""
    if isinstance(action, Redirect):
        method, url, fields = "GET", action.url, None
    elif isinstance(action, PaymentForm):
        method, url, fields = action.method, action.action, action.fields
    else:
        return
    with httpx.Client(transport=transport, timeout=10.0, trust_env=False) as browser:
        answer = browser.get(url, params=fields) if method == "GET" else browser.post(url, data=fields)
    assert answer.status_code < 400, f"the gateway refused the buyer's {method} to {url[:80]}: {answer.status_code}"
