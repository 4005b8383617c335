"""A merchant's notification endpoint, as a Starlette app.

    uvicorn examples.notify_endpoint:app --port 8080

The gateway POSTs each notification here. The raw body is verified by paycore,
checked against the merchant's own order, applied once (duplicates are normal),
and answered with the ack the gateway expects — otherwise it sends it again.
"""

from __future__ import annotations

from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import paycore

gateway = paycore.Gateway.from_config()
# Stands in for the merchant's database: order id -> (order, paid transaction id).
orders: dict[str, tuple[paycore.Order, str | None]] = {}


async def notify(request: Request) -> PlainTextResponse:
    try:
        notification = gateway.verify_notification(await request.body())
    except paycore.VerificationError:
        return PlainTextResponse("refused", status_code=400)  # not acknowledged: never trusted
    known = orders.get(notification.order_id)
    if known is None:
        return PlainTextResponse("unknown order", status_code=404)
    order, paid_transaction = known
    try:
        notification.check_against(order)
    except paycore.VerificationError:
        return PlainTextResponse("mismatch", status_code=400)
    if notification.status is paycore.PaymentStatus.PAID and paid_transaction is None:
        orders[order.order_id] = (order, notification.transaction_id)  # applied once, whatever the resends
        paid = notification.paid_amount or Decimal(0)
        print(f"order {order.order_id} paid: {paid} (transaction {notification.transaction_id})")
    return PlainTextResponse(notification.ack)


async def browser_return(request: Request) -> PlainTextResponse:
    # Display only: the buyer's browser can be made to POST anything here.
    return PlainTextResponse("Thank you! We are confirming your payment.")


app = Starlette(
    routes=[Route("/pay/notify", notify, methods=["POST"]), Route("/pay/done", browser_return, methods=["POST"])]
)
