"""The Alipay sandbox's cashier in a real headless browser: a page payment, Pay, back at the shop, notified once."""

from __future__ import annotations

from decimal import Decimal

import httpx

import paycore
from paycore import web
from paycore.handler import NotificationHandler, OrderRecord
from paycore.stores import MemoryStore


def test_a_page_payment_in_the_browser(browser_page, paycore_sandbox, paycore_loopback):
    sandbox = paycore_sandbox("alipay")
    with paycore.Gateway("alipay", sandbox.account_settings(), account="main") as gateway:
        orders: dict[str, OrderRecord] = {}
        paid: list[paycore.AppliedPayment] = []
        accounts = paycore.Accounts({"main": gateway})
        handler = NotificationHandler(accounts, lookup=orders.get, on_paid=paid.append, store=MemoryStore())
        returns: list[paycore.BrowserReturn] = []

        def shop(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/return":
                returns.append(gateway.parse_return(web.from_httpx(request)))
                return httpx.Response(200, text="<p id='thanks'>thanks</p>", headers={"content-type": "text/html"})
            return web.to_httpx(handler.process(web.from_httpx(request)).reply)

        merchant = paycore_loopback.handler(shop)
        order = paycore.Order(
            amount=Decimal("18.80"),
            channel="alipay_page",
            subject="Jasmine <tea>",
            notify_url=f"{merchant.url}/notify/main",
            return_url=f"{merchant.url}/return",
        )
        orders[order.order_id] = OrderRecord(order.order_id, order.amount, order.currency, "main")
        form = gateway.create(order, flow="form").next_action
        assert isinstance(form, paycore.PaymentForm)

        # The merchant's page renders the signed form, which submits itself to the gateway.
        browser_page.set_content(form.to_html())
        browser_page.wait_for_selector("#pay")
        assert browser_page.text_content("h1") == "Jasmine <tea>"  # escaped, shown as text
        assert browser_page.text_content("#amount") == "18.80"
        browser_page.click("#pay")
        browser_page.wait_for_selector("#thanks")
        sandbox.wait_for_notifications(order.order_id)
        assert [event.order_id for event in paid] == [order.order_id]
        assert [(shown.order_id, shown.signature_checked) for shown in returns] == [(order.order_id, True)]
        assert gateway.query(order.order_id).status is paycore.PaymentStatus.PAID
