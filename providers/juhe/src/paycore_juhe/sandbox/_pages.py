"""The HTML the buyer sees: the cashier, and the page after paying."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from paycore_juhe.sandbox._store import SandboxOrder

__all__ = ["cashier_page", "message_page", "result_page"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
.amount { font-size: 2.5rem; margin: .5rem 0; }
dl { display: grid; grid-template-columns: auto 1fr; gap: .3rem 1rem; }
dt { color: #666; }
button { font-size: 1.1rem; padding: .6rem 1.4rem; margin-right: .6rem; border-radius: .4rem; border: 1px solid #888; }
#pay { background: #1677ff; color: white; border-color: #1677ff; }
.note { color: #666; font-size: .9rem; margin-top: 2rem; }
"""


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def cashier_page(order: SandboxOrder) -> str:
    order_id = escape(order.order_id)
    amount = escape(f"{Decimal(order.amount):.2f}")
    details = (
        f'<h1>paycore sandbox cashier</h1>\n<p class="amount" id="amount">¥ {amount}</p>\n'
        f'<dl><dt>Order</dt><dd id="order-id">{order_id}</dd>'
        f'<dt>Subject</dt><dd id="subject">{escape(order.subject)}</dd>'
        f"<dt>Channel</dt><dd>{escape(order.bankcode)}</dd>"
        f'<dt>Status</dt><dd id="status">{escape(order.status)}</dd></dl>\n'
    )
    if order.status != "pending":
        return _page("Cashier", details + "<p>This order is settled.</p>")
    buttons = (
        f'<form method="post" action="/cashier/{order_id}/pay" style="display:inline">'
        '<button id="pay" type="submit">Pay</button></form>'
        f'<form method="post" action="/cashier/{order_id}/fail" style="display:inline">'
        '<button id="fail" type="submit">Fail</button></form>\n'
        '<p class="note">A local sandbox: no money moves. Pay sends the merchant a signed notification.</p>'
    )
    return _page("Cashier", details + buttons)


def result_page(order: SandboxOrder, return_fields: dict[str, str]) -> str:
    """The page after paying, with the browser return to the merchant's callback URL."""
    inputs = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in return_fields.items()
    )
    headline = "Payment complete" if order.status == "paid" else "Payment failed"
    return _page(
        headline,
        f'<h1 id="result">{headline}</h1>\n<p>Order <span id="order-id">{escape(order.order_id)}</span>: '
        f'<span id="status">{escape(order.status)}</span></p>\n'
        f'<form method="post" action="{escape(order.callback_url)}">{inputs}'
        '<button id="return" type="submit">Return to the merchant</button></form>',
    )


def message_page(title: str, message: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")
