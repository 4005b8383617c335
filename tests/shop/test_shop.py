"""The example shop, paid through each provider's sandbox: in the browser, under faults, across a switch, refunded."""

from __future__ import annotations

import httpx

import paycore
from tests.shop.conftest import ShopWorld


def test_a_buyer_checks_out_in_the_browser_and_is_paid_exactly_once(shop: ShopWorld, browser_page) -> None:
    browser_page.goto(shop.url)
    assert browser_page.text_content("#account") == shop.provider
    browser_page.click("#buy-oolong")
    browser_page.wait_for_url("**/pay")
    order_id = browser_page.url.split("/")[-2]
    if browser_page.locator("#qr").count():
        drawn = httpx.get(f"{shop.url}/orders/{order_id}/qr.svg")
        assert (drawn.status_code, drawn.headers["content-type"]) == (200, "image/svg+xml")
    # The payment step the next action draws: the gateway's page behind a link or a form, or a QR code
    # whose content the buyer opens (on a phone; here, on this device).
    browser_page.click("#open")
    browser_page.get_by_role("button", name="Pay", exact=True).click()
    shop.sandbox.wait_for_notifications(order_id)
    # Back at the shop, the payment page learns the order is paid by polling it.
    browser_page.goto(f"{shop.url}/orders/{order_id}/pay")
    browser_page.wait_for_function("document.getElementById('status').textContent === 'paid'")
    browser_page.goto(f"{shop.url}/orders/{order_id}/return")
    assert browser_page.text_content("#state") == "paid"
    order = shop.order(order_id)
    assert (order.status, order.applied, order.account) == (paycore.PaymentStatus.PAID, 1, shop.provider)


def test_a_duplicate_notification_is_applied_once(shop: ShopWorld) -> None:
    order = shop.checkout()
    shop.sandbox.set_faults(["duplicate"])  # type: ignore[attr-defined]  # every paycore sandbox has it
    shop.sandbox.pay(order.order_id)
    attempts = shop.sandbox.wait_for_notifications(order.order_id)
    assert len(attempts) >= 2
    assert shop.order(order.order_id).applied == 1


def test_a_wrong_signature_is_not_applied_and_reconciliation_recovers(shop: ShopWorld) -> None:
    order = shop.checkout()
    # After the create: some gateways sign their answers too, and the fault would refuse the create.
    shop.sandbox.set_faults(["wrong_sign"])  # type: ignore[attr-defined]
    shop.sandbox.pay(order.order_id)
    attempts = shop.sandbox.wait_for_notifications(order.order_id)
    assert len(attempts) > 1  # refused, so resent
    assert not any(attempt.acknowledged for attempt in attempts)
    assert (shop.order(order.order_id).status, shop.order(order.order_id).applied) == (paycore.PaymentStatus.PENDING, 0)
    shop.sandbox.set_faults([])  # type: ignore[attr-defined]
    result = shop.reconcile(order.order_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (shop.order(order.order_id).status, shop.order(order.order_id).applied) == (paycore.PaymentStatus.PAID, 1)


def test_an_order_in_flight_survives_switching_default_to_another_provider(shop: ShopWorld) -> None:
    before = shop.checkout()
    assert before.account == shop.provider
    shop.restart(default=shop.other)
    after = shop.checkout()
    assert after.account == shop.other
    # The first order's notification goes to its own account's path, verified by the key that made it.
    shop.sandbox.pay(before.order_id)
    shop.sandbox.wait_for_notifications(before.order_id)
    shop.sandboxes[shop.other].pay(after.order_id)
    shop.sandboxes[shop.other].wait_for_notifications(after.order_id)
    assert [shop.order(order.order_id).applied for order in (before, after)] == [1, 1]
    assert [shop.order(order.order_id).account for order in (before, after)] == [shop.provider, shop.other]


def test_a_refund_from_the_admin_page(shop: ShopWorld) -> None:
    order = shop.checkout()
    shop.sandbox.pay(order.order_id)
    shop.sandbox.wait_for_notifications(order.order_id)
    refundable = paycore.Operation.REFUND in shop.operations()
    page = httpx.get(f"{shop.url}/admin").text
    assert (f'id="refund-{order.order_id}"' in page) is refundable
    answer = httpx.post(f"{shop.url}/admin/orders/{order.order_id}/refund", follow_redirects=True)
    refunded = shop.order(order.order_id)
    if refundable:
        assert "refund succeeded" in answer.text
        assert (refunded.status, refunded.refund_status) == (paycore.PaymentStatus.REFUNDED, "succeeded")
        assert refunded.refund_id == f"{order.order_id}-refund"
    else:
        assert "not refundable" in answer.text
        assert refunded.status is paycore.PaymentStatus.PAID
