"""The WeChat Pay sandbox's cashier in a real headless browser: scan-to-pay and H5, Pay, notified once."""

from __future__ import annotations

from decimal import Decimal

import paycore
from paycore.testing import Merchant


def test_a_native_qr_payment_in_the_browser(browser_page, paycore_sandbox):
    sandbox = paycore_sandbox("wechatpay")
    with Merchant("wechatpay", sandbox.account_settings()) as shop:
        order = shop.order(amount=Decimal("18.80"), channel="wechat_qr", subject="Jasmine <tea>")
        code = shop.gateway.create(order).next_action
        assert isinstance(code, paycore.QrCode)

        # The buyer's phone opens what the QR code holds: the cashier.
        browser_page.goto(code.content)
        assert browser_page.text_content("h1") == "Jasmine <tea>"  # escaped, shown as text
        assert browser_page.text_content("#amount") == "18.80"
        browser_page.click("#pay")
        browser_page.wait_for_selector("#result")
        assert browser_page.text_content("#result") == "paid"
        sandbox.wait_for_notifications(order.order_id)
        assert [event.order_id for event in shop.paid] == [order.order_id]
        assert shop.gateway.query(order.order_id).status is paycore.PaymentStatus.PAID


def test_an_h5_payment_comes_back_to_the_shop(browser_page, paycore_sandbox):
    sandbox = paycore_sandbox("wechatpay")
    with Merchant("wechatpay", sandbox.account_settings()) as shop:
        order = shop.order(amount=Decimal("7.50"), channel="wechat_h5", subject="Green tea", client_ip="127.0.0.1")
        link = shop.gateway.create(order).next_action
        assert isinstance(link, paycore.Redirect)
        browser_page.goto(str(link.url))
        with browser_page.expect_navigation():
            browser_page.click("#pay")
        # WeChat sends the buyer back to return_url with nothing to read: the shop shows its order by querying.
        assert browser_page.url == shop.return_url
        sandbox.wait_for_notifications(order.order_id)
        assert [event.order_id for event in shop.paid] == [order.order_id]
