"""A merchant's notification endpoint, as a Starlette app, for every configured account.

    uvicorn examples.notify_endpoint:app --port 8080

Each order's ``notify_url`` is ``accounts.notify_url(BASE)``: ``/pay/notify/<account>``.
The account in the path verifies the notification — whatever ``default`` says by
then, so switching gateways never loses an order in flight. The notification is
checked against the merchant's own order, applied once (duplicates are normal),
and answered as the gateway's protocol wants; anything refused gets the
provider's failure answer, and the gateway sends it again.
"""

from __future__ import annotations

from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

import paycore
from paycore import web

accounts = paycore.Accounts.from_config()
# Stands in for the merchant's database: order id -> (order, the account that created it, paid transaction id).
orders: dict[str, tuple[paycore.Order, str, str | None]] = {}


async def notify(request: Request) -> Response:
    try:
        received = await web.from_starlette(request)  # refuses an oversized body: answered below too
    except paycore.PaycoreError as exc:
        return web.to_starlette(accounts.failure_reply(exc))
    try:
        notification = accounts.verify_notification(received)  # the account named in the path
        known = orders.get(notification.order_id)
        if known is None:
            raise paycore.VerificationError(f"no order {notification.order_id!r} here")
        order, account, paid_transaction = known
        notification.check_against(order, account=account)  # order id, account, and amount as Decimal
    except paycore.PaycoreError as exc:
        # Not trusted or not ours: not acknowledged. The provider's failure answer never says "ok".
        return web.to_starlette(accounts.reply_for(received, exc))
    if notification.status is paycore.PaymentStatus.PAID and paid_transaction is None:
        orders[order.order_id] = (order, account, notification.transaction_id)  # applied once, whatever the resends
        paid = notification.paid_amount or Decimal(0)
        print(f"order {order.order_id} paid: {paid} (transaction {notification.transaction_id})")
    return web.to_starlette(notification.ack)


async def browser_return(request: Request) -> PlainTextResponse:
    # Display only: the buyer's browser can be made to send anything here.
    return PlainTextResponse("Thank you! We are confirming your payment.")


app = Starlette(
    routes=[
        Route("/pay/notify/{account}", notify, methods=["POST", "GET"]),
        Route("/pay/done", browser_return, methods=["POST", "GET"]),
    ]
)
