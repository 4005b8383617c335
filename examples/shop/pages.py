"""The shop's HTML: every value escaped; the payment step drawn from the payment's next action."""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape

import paycore
from examples.shop.catalog import Product
from examples.shop.orders import ShopOrder

__all__ = ["admin_page", "order_page", "pay_page", "products_page"]

_STYLE = "body{font-family:sans-serif;max-width:46em;margin:2em auto}td,th{padding:.2em .6em;text-align:left}"

# Polls the order's state until it is settled: the notification, not the buyer's return, says it is paid.
_POLL = """<script>
const poll = async () => {
  const answer = await fetch(location.pathname.replace(/\\/[a-z]+$/, "/status"));
  const {status} = await answer.json();
  document.getElementById("status").textContent = status;
  if (status === "pending") setTimeout(poll, 1000);
};
setTimeout(poll, 1000);
</script>"""


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}"
        '<p><a href="/">Shop</a> · <a href="/admin">Admin</a></p></body></html>'
    )


def products_page(products: Iterable[Product], channels: list[paycore.Channel], account: str) -> str:
    options = "".join(
        f'<option value="{escape(channel.value)}">{escape(channel.value)}</option>' for channel in channels
    )
    rows = "".join(
        f'<li><form method="post" action="/checkout"><input type="hidden" name="sku" value="{escape(product.sku)}">'
        f"{escape(product.name)} — ¥{product.price} "
        f'<select name="channel">{options}</select> <button id="buy-{escape(product.sku)}">Buy</button></form></li>'
        for product in products
    )
    return _page(
        "Tea shop", f"<ul>{rows}</ul><p>Payments go through account <b id='account'>{escape(account)}</b>.</p>"
    )


def _next_step(order: ShopOrder, action: paycore.NextAction | None) -> str:
    if isinstance(action, paycore.Redirect | paycore.AppLink):
        return f'<p><a id="open" href="{escape(str(action.url))}">Pay at the gateway</a></p>'
    if isinstance(action, paycore.PaymentForm):
        fields = "".join(
            f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
            for name, value in action.fields.items()
        )
        return (
            f'<form method="{escape(action.method)}" action="{escape(str(action.action))}">{fields}'
            '<button id="open">Pay at the gateway</button></form>'
        )
    if isinstance(action, paycore.QrCode):
        # A buyer scans it; on the same device (or a sandbox), the link opens what the code holds.
        link = action.content if action.content.startswith(("http://", "https://")) else ""
        opened = f'<p><a id="open" href="{escape(link)}">Open on this device</a></p>' if link else ""
        return f'<p>Scan to pay:</p><img id="qr" alt="QR code" src="/orders/{escape(order.order_id)}/qr.svg">{opened}'
    if isinstance(action, paycore.SdkParameters):
        shown = escape(json.dumps(action.parameters, ensure_ascii=False, indent=2))
        return f"<p>Hand these to the {escape(action.sdk)} SDK:</p><pre id='sdk'>{shown}</pre>"
    return "<p>Nothing for the buyer to do: the gateway settles the order.</p>"


def pay_page(order: ShopOrder) -> str:
    state = f"<p>Order {escape(order.order_id)}: <b id='status'>{escape(order.status.value)}</b></p>"
    return _page(f"Pay ¥{order.amount}", state + _next_step(order, order.next_action) + _POLL)


def order_page(order: ShopOrder, claimed: paycore.BrowserReturn | None) -> str:
    said = (
        f"<p>The gateway's return says: {escape(claimed.claimed_status.value)} (for display only).</p>"
        if claimed is not None
        else ""
    )
    body = (
        f"<p>Order {escape(order.order_id)} for ¥{order.amount}: <b id='state'>{escape(order.status.value)}</b></p>"
        f"{said}"
    )
    return _page("Your order", body)


def admin_page(orders: Iterable[tuple[ShopOrder, str | None]], message: str = "") -> str:
    """Every order; a Refund form (carrying its order's refund token) where the order can be refunded."""
    rows = "".join(
        f"<tr id='order-{escape(order.order_id)}'><td>{escape(order.order_id)}</td><td>{escape(order.account)}</td>"
        f"<td>¥{order.amount}</td><td class='status'>{escape(order.status.value)}</td><td>{order.applied}</td>"
        f"<td>{escape(order.refund_status.value if order.refund_status else '')}</td><td>"
        + (
            f'<form method="post" action="/admin/orders/{escape(order.order_id)}/refund">'
            f'<input type="hidden" name="token" value="{escape(token)}">'
            f'<button id="refund-{escape(order.order_id)}">Refund</button></form>'
            if token is not None
            else ""
        )
        + "</td></tr>"
        for order, token in orders
    )
    head = (
        "<tr><th>order</th><th>account</th><th>amount</th><th>status</th><th>applied</th><th>refund</th><th></th></tr>"
    )
    note = f"<p id='message'>{escape(message)}</p>" if message else ""
    reconcile = (
        '<form method="post" action="/admin/reconcile"><button id="reconcile">Ask the gateways about every '
        "pending order</button></form>"
    )
    return _page("Orders", f"{note}<table>{head}{rows}</table>{reconcile}")
