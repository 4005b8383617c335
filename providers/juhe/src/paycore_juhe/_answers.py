"""Reading the gateway's answers to create and query, whatever shape they come in."""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from paycore import GatewayError, OrderNotFound, ProtocolError, toolkit
from paycore_juhe._html import redirect_targets, visible_text
from paycore_juhe.settings import SETTLEMENT_CURRENCY, JuheSettings

__all__ = [
    "answer_amount",
    "gateway_refusal",
    "json_object",
    "page_text",
    "redirect_url",
    "says_no_such_order",
    "scalar_text",
]


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, whatever the content type claims; None if it is not JSON."""
    try:
        # Decimal-exact: "100.00" stays as written, so amounts stay exact and signs verify.
        data = toolkit.load_json(response.content)
    except ValueError as exc:
        if "nested too deeply" in str(exc):
            raise ProtocolError("gateway answered JSON nested too deeply to read") from None
        return None
    if not isinstance(data, dict):
        raise ProtocolError(f"gateway answered JSON that is not an object ({type(data).__name__})")
    return data


# The reference software's words for "no such order" (不存在的交易订单), and a common variant: the whole
# message, give or take a closing full stop. One that merely holds them (上游通道订单不存在,请稍后重试: the
# upstream channel has not seen it yet) says something else.
_NO_SUCH_ORDER = frozenset({"不存在的交易订单", "订单不存在"})
_CLOSING = " \t\r\n.!\u3002\uff01"  # full-width full stop and exclamation mark too


def says_no_such_order(message: object) -> bool:
    """Whether a refusal's message is exactly the platform's "no such order"."""
    return isinstance(message, str) and message.strip(_CLOSING) in _NO_SUCH_ORDER


def gateway_refusal(data: dict[str, Any], what: str, *, distrust: str | None = None) -> GatewayError:
    """The gateway's "no" to ``what``; `paycore.OrderNotFound` for its exact "no such order" unless ``distrust``.

    A refusal is never signed: ``distrust`` says why the account's policy does not let an
    unsigned answer be read as it stands (reconciliation takes OrderNotFound as "the create
    never arrived", and would create the order again).
    """
    message = data.get("msg") or data.get("message")
    hint = ""
    if "签" in str(message):  # 签名验证失败, 验签失败, 签名错误: the platform's words for a bad signature
        hint = " (the platform could not verify the signature: check the account's secret_key and merchant_id)"
    kind: type[GatewayError] = GatewayError
    if says_no_such_order(message):
        if distrust is None:
            kind = OrderNotFound
        else:
            hint = f" (not taken as 'no such order': {distrust})"
    return toolkit.gateway_refusal(what, message, hint=hint, kind=kind)


def redirect_url(response: httpx.Response, settings: JuheSettings) -> str | None:
    """The cashier page an answer sends the buyer to, or None.

    Only a genuine cashier counts: an answer with HTTP status below 400 (a 2xx page
    or a 3xx redirect), pointing at ``base_url``'s host or one of the account's
    ``cashier_hosts``, over http or https. An error page that happens to hold a
    meta refresh or a ``location.href`` is not a payment, nor is a redirect elsewhere.
    """
    if response.status_code >= 400:
        return None
    allowed = {urlsplit(settings.base_url).hostname, *settings.cashier_hosts}
    candidates: Iterator[str] = iter(())
    if response.is_redirect and "location" in response.headers:
        candidates = iter((response.headers["location"],))
    for candidate in itertools.chain(candidates, redirect_targets(response.text)):
        try:
            url = urljoin(settings.base_url + "/", html.unescape(candidate.strip()))
            host = urlsplit(url).hostname
        except ValueError:  # an unclosed '[' (urllib's IPv6 literal): no URL, so no cashier
            continue
        if toolkit.is_http_url(url) is None and host in allowed:
            return url
    return None


def page_text(response: httpx.Response, limit: int = 160) -> str:
    """The visible text of an HTML answer, shortened, for an error message."""
    return visible_text(response.text, limit)


def scalar_text(name: str, value: object) -> str:
    """A JSON value as the PHP gateway printed it into the signed string."""
    if isinstance(value, str):
        return value
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, int | Decimal):
        return str(value)
    raise ProtocolError(f"gateway answered a nested value for {name!r}")


def answer_amount(data: dict[str, Any], name: str) -> Decimal | None:
    """An amount field of an answer: None when absent or empty, ProtocolError when malformed."""
    raw = scalar_text(name, data.get(name))
    if not raw:
        return None
    # The platform stores four decimals (9.9000): the order's yuan are written with two.
    amount = toolkit.plain_amount_in(raw, SETTLEMENT_CURRENCY)
    if amount is None:
        raise ProtocolError(f"gateway answered a malformed {name}: {raw[:32]!r}")
    if amount <= 0:
        # as for notifications: "0.00" is no amount, never "paid in full"
        raise ProtocolError(f"gateway answered {name} {raw[:32]!r}, which is not a positive amount")
    return amount
