"""Create: the signed request for both flows, and reading the server-to-server answer."""

from __future__ import annotations

from typing import NamedTuple

import httpx

from paycore import InvalidRequest, Order, ProtocolError, toolkit
from paycore.toolkit import clip, encode_attach
from paycore_juhe._answers import answer_amount, gateway_refusal, json_object, page_text, redirect_url, scalar_text
from paycore_juhe._signing import HTML_UNSAFE, sign
from paycore_juhe.settings import JuheSettings

__all__ = ["CreateAnswer", "check_new_order_id", "create_fields", "read_create_answer"]

_PAY_URL_KEYS = ("payUrl", "payurl", "pay_url")


def check_new_order_id(order_id: str, settings: JuheSettings) -> None:
    limit = settings.max_order_id_length
    if len(order_id) > limit:
        raise InvalidRequest(
            f"order id {order_id!r} is longer than this platform's {limit} characters (setting max_order_id_length)"
        )


def _channel_code(settings: JuheSettings, channel: str) -> str:
    if channel in settings.channels:
        return settings.channels[channel]
    if channel in settings.channels.values():
        return channel  # a raw code this account knows
    known = ", ".join(f"{name}={code}" for name, code in sorted(settings.channels.items()))
    raise InvalidRequest(f"channel {channel!r} is not configured for this account (known: {known})")


def create_fields(order: Order, settings: JuheSettings, *, json_answer: bool) -> dict[str, str]:
    """Every field of the create request, signed; refuses what the gateway would mangle."""
    check_new_order_id(order.order_id, settings)
    signed = {
        "pay_memberid": settings.merchant_id,
        "pay_orderid": order.order_id,
        "pay_applydate": order.created_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M:%S"),
        "pay_bankcode": _channel_code(settings, str(order.channel)),
        "pay_notifyurl": order.notify_url,
        "pay_callbackurl": order.return_url,
        "pay_amount": f"{order.amount:.2f}",
    }
    for name, value in signed.items():
        unsafe = sorted(HTML_UNSAFE.intersection(value))
        if unsafe:
            raise InvalidRequest(
                f"{name} contains {' '.join(unsafe)}, which the gateway HTML-escapes before checking the "
                "signature, so it could never verify; remove them (e.g. drop the URL's query string)"
            )
    fields = {**signed, "pay_md5sign": sign(signed, settings.secret_key.get_secret_value())}
    fields["pay_productname"] = order.subject
    optional = {
        # Encoded so that it comes back unchanged whatever the platform does (see _attach).
        "pay_attach": encode_attach(order.attach) if order.attach is not None else None,
        "pay_productnum": str(order.quantity) if order.quantity is not None else None,
        "pay_productdesc": order.description,
        "pay_producturl": order.product_url,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    if json_answer:
        fields["type"] = "json"
    return fields


class CreateAnswer(NamedTuple):
    """What a create answer told us: where the buyer pays, and the answer as received."""

    pay_url: str
    raw: dict[str, object]


def read_create_answer(response: httpx.Response, order: Order, settings: JuheSettings) -> CreateAnswer:
    """Read the answer to a ``type=json`` create; every odd shape a typed error."""
    data = json_object(response) if not response.is_redirect else None
    if data is None:
        url = redirect_url(response, settings)
        if url is not None:
            return CreateAnswer(url, {"redirect": url, "http_status": response.status_code})
        if response.status_code >= 400:
            raise ProtocolError(f"gateway answered HTTP {response.status_code} to create; the order may not exist")
        raise ProtocolError(
            "gateway answered an HTML page where JSON was asked: this platform may not support "
            f"type=json; use the browser form flow (flow='form'). Page text: {page_text(response)!r}"
        )
    status = data.get("status", data.get("ststus"))  # the document's own example spells it 'ststus'
    if status is None:
        raise ProtocolError(f"gateway answered JSON of an unknown shape (keys: {clip(', '.join(sorted(data)), 200)})")
    if scalar_text("status", status) != "1":
        raise gateway_refusal(data, "order", distrust="it answers a create request, not a query")
    if response.status_code >= 400:
        raise ProtocolError(f"gateway answered HTTP {response.status_code} with a success body; the order may exist")
    pay_url = next((data[key] for key in _PAY_URL_KEYS if isinstance(data.get(key), str)), None)
    if not pay_url:
        raise ProtocolError("gateway accepted the order but answered no payment URL (payUrl); the order may exist")
    problem = toolkit.is_http_url(pay_url)
    if problem is not None:
        raise ProtocolError(f"gateway accepted the order but its payment URL {problem}; the order may exist")
    echoed_id = data.get("pay_orderid")
    if echoed_id is not None and scalar_text("pay_orderid", echoed_id) != order.order_id:
        raise ProtocolError(f"gateway answered order id {clip(str(echoed_id))!r} for order {order.order_id!r}")
    echoed_amount = answer_amount(data, "pay_amount")
    if echoed_amount is not None and echoed_amount != order.amount:
        raise ProtocolError(f"gateway answered amount {echoed_amount} for an order of {order.amount}")
    return CreateAnswer(pay_url, data)
