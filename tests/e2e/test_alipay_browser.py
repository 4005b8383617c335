"""The Alipay sandbox's cashier in a real headless browser: a page payment, Pay, back at the shop, notified once."""

from __future__ import annotations

from decimal import Decimal

import paycore
from paycore.testing import Merchant


def test_a_page_payment_in_the_browser(browser_page, paycore_sandbox):
    sandbox = paycore_sandbox("alipay")
    with Merchant("alipay", sandbox.account_settings()) as shop:
        order = shop.order(amount=Decimal("18.80"), channel="alipay_page", subject="Jasmine <tea>")
        form = shop.gateway.create(order, flow="form").next_action
        assert isinstance(form, paycore.PaymentForm)

        # The merchant's page renders the signed form, which submits itself to the gateway.
        browser_page.set_content(form.to_html())
        browser_page.wait_for_selector("#pay")
        assert browser_page.text_content("h1") == "Jasmine <tea>"  # escaped, shown as text
        assert browser_page.text_content("#amount") == "18.80"
        browser_page.click("#pay")
        browser_page.wait_for_selector("#thanks")
        sandbox.wait_for_notifications(order.order_id)
        assert [event.order_id for event in shop.paid] == [order.order_id]
        assert [(shown.order_id, shown.signature_checked) for shown in shop.returns] == [(order.order_id, True)]
        assert shop.gateway.query(order.order_id).status is paycore.PaymentStatus.PAID
