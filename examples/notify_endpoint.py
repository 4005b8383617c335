"""A merchant's notification endpoint, as a Starlette app, for every configured account.

    uvicorn examples.notify_endpoint:app --port 8080

Each order's ``notify_url`` is ``accounts.notify_url(BASE)``: ``/pay/notify/<account>``.
The account in the path verifies the notification — whatever ``default`` says by
then, so switching gateways never loses an order in flight. `paycore.NotificationHandler`
checks it against the merchant's own record (order, account, amount, currency, and a
paid amount below the order's), applies it once (duplicates are normal) and answers
as the gateway's protocol wants; anything refused gets the provider's failure answer,
and the gateway sends it again.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import paycore
from paycore import web
from paycore.stores import MemoryStore

accounts = paycore.Accounts.from_config()
# Stand in for the merchant's database: each order's record (amount, currency, the account that created it),
# and the transaction that paid it.
orders: dict[str, paycore.OrderRecord] = {}
paid: dict[str, str | None] = {}


def record(order: paycore.Order, payment: paycore.Payment) -> None:
    """Store what the handler checks a notification against, when the order is created."""
    orders[order.order_id] = paycore.OrderRecord(order.order_id, order.amount, order.currency, payment.account)


def fulfil(event: paycore.AppliedPayment) -> None:
    # Called once per paid order, whatever the resends; the gateway is acknowledged after it returns.
    paid[event.order_id] = event.transaction_id
    print(f"order {event.order_id} paid: {event.paid_amount or event.amount} (transaction {event.transaction_id})")


# MemoryStore keeps one process's claims: use paycore.stores.sqlite.SQLiteStore (or Redis, PostgreSQL) in production.
handler = paycore.NotificationHandler(accounts, lookup=orders.get, on_paid=fulfil, store=MemoryStore())


async def browser_return(request: Request) -> PlainTextResponse:
    # Display only: the buyer's browser can be made to send anything here.
    return PlainTextResponse("Thank you! We are confirming your payment.")


app = Starlette(
    routes=[
        Mount("/pay/notify", app=web.asgi_app(handler)),
        Route("/pay/done", browser_return, methods=["POST", "GET"]),
    ]
)
