"""Reading what an epay platform answers (``mapi.php``, ``api.php``) and what it notifies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from paycore import (
    MalformedAmount,
    MissingField,
    OrderNotFound,
    PaymentStatus,
    ProtocolError,
    toolkit,
)

__all__ = [
    "NOTIFIED_FIELDS",
    "TRADE_STATUSES",
    "amount_of",
    "answer_object",
    "paid_time",
    "refused",
    "required",
    "text_of",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: what every notification (and browser return) carries
NOTIFIED_FIELDS = ("pid", "trade_no", "out_trade_no", "type", "name", "money", "trade_status", "sign")

#: ``trade_status`` of a notification; v1 platforms notify ``TRADE_SUCCESS`` only
TRADE_STATUSES = {
    "TRADE_SUCCESS": PaymentStatus.PAID,
    "TRADE_FINISHED": PaymentStatus.PAID,
    "WAIT_BUYER_PAY": PaymentStatus.PENDING,
    "TRADE_CLOSED": PaymentStatus.CLOSED,
}

#: what v1 platforms answer a query about an order they do not have
_ORDER_MISSING = frozenset({"订单号不存在", "订单不存在", "该订单号不存在"})


def answer_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object an API answered (platforms often label it text/html), or ProtocolError."""
    try:
        data = toolkit.load_json(response.content)
    except ValueError:
        page = toolkit.clip(response.content.decode("utf-8", "replace").strip(), 80)
        raise ProtocolError(
            f"epay answered the {what} with HTTP {response.status_code} and no JSON: {page!r}"
        ) from None
    if not isinstance(data, dict):
        raise ProtocolError(f"epay answered the {what} with JSON that is not an object")
    return data


def text_of(data: Mapping[str, Any], name: str) -> str:
    """A scalar answer field as text ("" when absent); JSON numbers come as Decimal, kept exact."""
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ProtocolError(f"epay answered {name!r} as {type(value).__name__}, not text")
    return str(value)


def refused(data: Mapping[str, Any], what: str, *, order_missing_means_not_found: bool = False) -> Exception | None:
    """The refusal in an answer whose ``code`` is not 1, else None.

    Only a query's "no such order" is `paycore.OrderNotFound` (it tells reconciliation
    the create never arrived); "no such merchant" or "no such payment type" are not.
    """
    code = text_of(data, "code")
    if code == "1":
        return None
    message = text_of(data, "msg")
    if order_missing_means_not_found and message.strip() in _ORDER_MISSING:
        return toolkit.gateway_refusal(what, message, code=code, kind=OrderNotFound)
    return toolkit.gateway_refusal(what, message, code=code)


def required(fields: Mapping[str, str], names: tuple[str, ...]) -> None:
    missing = [name for name in names if not fields.get(name)]
    if missing:
        raise MissingField(f"epay notification lacks {', '.join(missing)}")


def amount_of(raw: str, *, notification: bool) -> Decimal:
    """An amount in yuan, at most 2 decimals, positive."""
    amount = toolkit.plain_amount(raw, places=2)
    if amount is None or amount <= 0:
        shown = toolkit.clip(raw, 20)
        if notification:
            raise MalformedAmount(f"epay notified an amount that is not yuan with 2 decimals: {shown!r}")
        raise ProtocolError(f"epay answered an amount that is not yuan with 2 decimals: {shown!r}")
    return amount


def paid_time(raw: str) -> datetime | None:
    """``endtime`` of a query answer (``YYYY-mm-dd HH:MM:SS``, Beijing time), or None when unset."""
    if not raw or raw.startswith("0000"):
        return None
    try:
        return toolkit.gateway_time(raw, SHANGHAI)
    except ValueError:
        raise ProtocolError(f"epay answered an unreadable endtime: {toolkit.clip(raw, 32)!r}") from None
