"""Query: the signed request, and reading the answer, flat or nested under ``data``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from paycore import MerchantMismatch, Payment, PaymentStatus, ProtocolError, SignatureError
from paycore.toolkit import clip
from paycore_juhe._answers import answer_amount, gateway_refusal, json_object, page_text, scalar_text
from paycore_juhe._messages import UNPAID_TIME, gateway_time, signed_fields
from paycore_juhe._signing import sign
from paycore_juhe.settings import SETTLEMENT_CURRENCY, JuheSettings

__all__ = ["TRADE_STATES", "query_fields", "read_query_answer"]

#: ``trade_state`` says whether an order is paid; ``returncode`` is ``00`` either way.
TRADE_STATES = {"SUCCESS": PaymentStatus.PAID, "NOTPAY": PaymentStatus.PENDING}


def query_fields(order_id: str, settings: JuheSettings) -> dict[str, str]:
    signed = {"pay_memberid": settings.merchant_id, "pay_orderid": order_id}
    return {**signed, "pay_md5sign": sign(signed, settings.secret_key.get_secret_value())}


def _order_fields(data: dict[str, Any]) -> dict[str, Any]:
    nested = data.get("data")
    if isinstance(nested, dict) and "orderid" in nested:
        return nested
    return data


def read_query_answer(
    response: httpx.Response, order_id: str, settings: JuheSettings, *, provider: str, account: str
) -> Payment:
    data = json_object(response)
    if data is None:
        raise ProtocolError(
            f"gateway answered HTTP {response.status_code} with no JSON to a query: {page_text(response)!r}"
        )
    fields = _order_fields(data)
    if "orderid" not in fields:
        if "status" in data or "msg" in data:
            doubt = _unsigned_refusal_distrust(settings)
            if doubt is None and not response.is_success:
                # An error page of a proxy or a failing server, not the platform's considered answer.
                doubt = f"it came with HTTP {response.status_code}"
            raise gateway_refusal(data, "query", distrust=doubt)
        keys = clip(", ".join(sorted(data)), 200)
        raise ProtocolError(f"gateway answered a query with an unknown shape (keys: {keys})")
    received = {name: scalar_text(name, value) for name, value in fields.items()}
    text = received
    distrust: str | None = None
    if received.get("sign"):
        # Only what the signature covers is read (see signed_fields).
        covered = signed_fields(received, settings.secret_key.get_secret_value())
        if covered is None:
            raise SignatureError(f"the gateway's answer about order {order_id!r} is not signed with this account's key")
        text = covered
    else:
        distrust = _unsigned_answer_distrust(settings)
    if text.get("orderid") != order_id:
        raise ProtocolError(f"gateway answered about order {clip(received['orderid'])!r} when asked about {order_id!r}")
    if text.get("memberid") and text["memberid"] != settings.merchant_id:
        raise MerchantMismatch(f"the gateway's answer about order {order_id!r} is for another merchant id")
    status = TRADE_STATES.get(text.get("trade_state", ""), PaymentStatus.UNKNOWN)
    amount = answer_amount(text, "amount")
    if distrust is not None:
        return Payment(
            order_id=order_id,
            status=PaymentStatus.UNKNOWN,
            amount=amount,
            currency=SETTLEMENT_CURRENCY,
            provider=provider,
            account=account,
            reason=f"{distrust}; it said {status.value}",
            raw=data,
        )
    true_amount = answer_amount(text, "true_amount")
    paid = status is PaymentStatus.PAID
    return Payment(
        order_id=order_id,
        status=status,
        amount=amount,
        paid_amount=(true_amount if true_amount is not None else amount) if paid else None,
        transaction_id=text.get("transaction_id") or None,
        paid_at=_paid_time(text.get("time_end"), settings) if paid else None,
        currency=SETTLEMENT_CURRENCY,
        provider=provider,
        account=account,
        raw=data,
    )


def _paid_time(raw: str | None, settings: JuheSettings) -> datetime | None:
    if not raw or raw == UNPAID_TIME:
        return None
    try:
        return gateway_time(raw, settings.zone)
    except ValueError:
        raise ProtocolError(f"gateway answered a malformed time_end {clip(raw)!r}") from None


def _unsigned_refusal_distrust(settings: JuheSettings) -> str | None:
    """Why an unsigned refusal cannot be read as "no such order" under the account's policy; None if it can."""
    policy = settings.unsigned_query_answers
    if policy != "trust-https":
        return f"the answer was unsigned (setting unsigned_query_answers = {policy!r})"
    if not settings.transport_is_private:
        return "the answer was unsigned and came over plain http, where anyone on the path can write it"
    return None


def _unsigned_answer_distrust(settings: JuheSettings) -> str | None:
    """Why an unsigned answer cannot be read as it stands, per the account's policy; None if it can."""
    policy = settings.unsigned_query_answers
    if policy == "refuse":
        raise SignatureError(
            "the gateway's query answer is unsigned (setting unsigned_query_answers = 'refuse'); "
            "ask the platform to sign it, or allow unsigned answers over https"
        )
    if policy == "unknown":
        return "the query answer was unsigned (setting unsigned_query_answers = 'unknown')"
    if not settings.transport_is_private:
        return "the query answer was unsigned and came over plain http, where anyone on the path can write it"
    return None
