"""The example shop, paid through each provider's sandbox: in the browser, under faults, across a switch, refunded."""

from __future__ import annotations

import httpx
import pytest

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


def _refund_form_token(page: str, order_id: str) -> str | None:
    start = page.find(f'action="/admin/orders/{order_id}/refund"')
    if start < 0:
        return None
    value = page.index('name="token" value="', start) + len('name="token" value="')
    return page[value : page.index('"', value)]


def test_a_refund_from_the_admin_page(shop: ShopWorld) -> None:
    order = shop.checkout()
    shop.sandbox.pay(order.order_id)
    shop.sandbox.wait_for_notifications(order.order_id)
    refundable = paycore.Operation.REFUND in shop.operations()
    with shop.admin() as admin:
        page = admin.get("/admin").text
        token = _refund_form_token(page, order.order_id)
        assert (token is not None) is refundable
        answer = admin.post(f"/admin/orders/{order.order_id}/refund", data={"token": token or ""})
    refunded = shop.order(order.order_id)
    if refundable:
        assert "refund succeeded" in answer.text
        assert (refunded.status, refunded.refund_status) == (paycore.PaymentStatus.REFUNDED, "succeeded")
        assert refunded.refund_id == f"{order.order_id}-refund"
    else:
        assert answer.status_code == 403  # no form was served for it, so no token
        assert refunded.status is paycore.PaymentStatus.PAID


def test_the_admin_pages_need_the_password_and_refunds_the_pages_token(shop: ShopWorld) -> None:
    order = shop.checkout()
    shop.sandbox.pay(order.order_id)
    shop.sandbox.wait_for_notifications(order.order_id)
    assert httpx.get(f"{shop.url}/admin").status_code == 401
    assert httpx.get(f"{shop.url}/admin", auth=("admin", "guess")).status_code == 401
    assert httpx.post(f"{shop.url}/admin/orders/{order.order_id}/refund").status_code == 401
    with shop.admin() as admin:
        # Another site can make a logged-in browser post, but cannot know the token of the shop's own form.
        forged = admin.post(f"/admin/orders/{order.order_id}/refund", data={"token": "0" * 64})
    assert forged.status_code == 403
    assert shop.order(order.order_id).status is paycore.PaymentStatus.PAID


def test_the_admin_page_reconciles_every_pending_order(shop: ShopWorld) -> None:
    order = shop.checkout()
    shop.sandbox.set_faults(["wrong_sign"])  # type: ignore[attr-defined]
    shop.sandbox.pay(order.order_id)
    shop.sandbox.wait_for_notifications(order.order_id)
    shop.sandbox.set_faults([])  # type: ignore[attr-defined]
    with shop.admin() as admin:
        answer = admin.post("/admin/reconcile")
    assert "reconciled 1 pending, 1 settled" in answer.text
    assert shop.order(order.order_id).applied == 1


def test_the_return_page_queries_an_order_at_most_every_few_seconds(
    shop: ShopWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Anyone can reload a return page: each load must not become a gateway query.
    order = shop.checkout()
    gateway = shop._app.state.shop.accounts[shop.provider]
    queried: list[str] = []
    query = gateway.query
    monkeypatch.setattr(gateway, "query", lambda order_id: queried.append(order_id) or query(order_id))
    for _ in range(5):
        assert httpx.get(f"{shop.url}/orders/{order.order_id}/return").status_code == 200
    assert queried == [order.order_id]


def test_gateways_are_given_the_configured_address_whatever_the_host_header(shop: ShopWorld) -> None:
    answer = httpx.post(
        f"{shop.url}/checkout",
        data={"sku": "jasmine", "channel": shop._app.state.shop.channels()[0].value},
        headers={"host": "evil.example"},
    )
    order = shop.order(answer.headers["location"].split("/")[2])
    shop.sandbox.pay(order.order_id)
    shop.sandbox.wait_for_notifications(order.order_id)
    # Applied: the notification reached the shop itself, not a host the buyer's request named.
    assert shop.order(order.order_id).applied == 1


def test_an_unsigned_return_claims_nothing_on_the_page(shop: ShopWorld) -> None:
    order = shop.checkout()
    forged = {"orderid": order.order_id, "out_trade_no": order.order_id, "returncode": "00", "trade_status": "SUCCESS"}
    page = httpx.post(f"{shop.url}/orders/{order.order_id}/return", data=forged).text
    assert "return says" not in page
    assert shop.order(order.order_id).status is paycore.PaymentStatus.PENDING
