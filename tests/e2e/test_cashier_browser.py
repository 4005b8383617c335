"""The cashier page in a real headless browser (Debian's chromium, driven by Playwright).

Under CI (``CI=true``) a missing browser is a failure. Elsewhere the test is
skipped with the reason, so that a machine with only Python and pip still runs
the rest of the suite.
"""

from __future__ import annotations

from paycore import PaymentStatus


def test_buyer_clicks_pay_and_the_merchant_is_notified(browser_page, gateway, sandbox, merchant, paycore_order):
    order = paycore_order(subject="Jasmine tea <special>")
    payment = gateway.create(order)
    browser_page.goto(payment.pay_url)
    assert browser_page.text_content("#order-id") == order.order_id
    assert browser_page.text_content("#amount") == "¥ 300.00"
    assert browser_page.text_content("#subject") == "Jasmine tea <special>"  # escaped, shown as text

    browser_page.click("#pay")
    browser_page.wait_for_selector("#result")
    assert browser_page.text_content("#result") == "Payment complete"

    merchant.wait_for(1)
    notification = merchant.notifications[0]
    notification.check_against(order)
    assert notification.status is PaymentStatus.PAID
    assert gateway.query(order.order_id).status is PaymentStatus.PAID

    # the browser return goes to the merchant's return_url: display only
    browser_page.click("#return")
    browser_page.wait_for_url(order.return_url)
    assert browser_page.text_content("body") == "thanks for your purchase"
    assert len(merchant.returns) == 1
    assert len(merchant.notifications) == 1  # a browser return is not a notification


def test_buyer_clicks_fail(browser_page, gateway, sandbox, merchant, paycore_order):
    order = paycore_order()
    browser_page.goto(gateway.create(order).pay_url)
    browser_page.click("#fail")
    assert browser_page.text_content("#result") == "Payment failed"
    merchant.wait_for(1)
    assert merchant.notifications[0].status is PaymentStatus.FAILED
