"""What a WeChat Pay order is sent as, what each channel's answer gives the buyer, and how answers are read.

Everything an order must satisfy is checked here, before any request: the order
id's length, the amount in whole fen, the description's and attach's lengths, the
notify URL (no query string: the platform drops it).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric import rsa

import paycore
from paycore import toolkit
from paycore_wechatpay._reading import object_at, optional_yuan, text, time_of, yuan
from paycore_wechatpay._signing import new_nonce, now_text, sign

__all__ = [
    "ENDPOINTS",
    "REFUND_STATUSES",
    "TRADE_STATES",
    "checked_order_id",
    "fen",
    "next_action",
    "order_body",
    "payment_of",
    "refund_of",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: the create endpoint of each channel (mini programs pay through JSAPI)
ENDPOINTS = {
    paycore.Channel.WECHAT_QR: "native",
    paycore.Channel.WECHAT_H5: "h5",
    paycore.Channel.WECHAT_JSAPI: "jsapi",
    paycore.Channel.WECHAT_MINI_PROGRAM: "jsapi",
    paycore.Channel.WECHAT_APP: "app",
}
#: the one field each create endpoint answers with
_ANSWER_FIELD = {"native": "code_url", "h5": "h5_url", "jsapi": "prepay_id", "app": "prepay_id"}
#: ``trade_state`` of a query
TRADE_STATES = {
    "SUCCESS": paycore.PaymentStatus.PAID,
    "NOTPAY": paycore.PaymentStatus.PENDING,
    "USERPAYING": paycore.PaymentStatus.PENDING,
    "CLOSED": paycore.PaymentStatus.CLOSED,
    "REVOKED": paycore.PaymentStatus.CLOSED,
    "PAYERROR": paycore.PaymentStatus.FAILED,
    "REFUND": paycore.PaymentStatus.REFUNDED,
}
#: a refund's ``status``
REFUND_STATUSES = {
    "SUCCESS": paycore.RefundStatus.SUCCEEDED,
    "PROCESSING": paycore.RefundStatus.PENDING,
    "CLOSED": paycore.RefundStatus.FAILED,
    "ABNORMAL": paycore.RefundStatus.FAILED,
}
_THIS_MACHINE = ("127.0.0.1", "localhost", "::1")
#: what WeChat Pay takes as an out_trade_no: ids go into signed request paths, so nothing else (no "/", ".",
#: "?", "%") may reach one. Refund ids need no check of their own: the core's REFUND_ID_PATTERN (letters,
#: digits, "_", "-") is narrower than WeChat Pay's out_refund_no, and is checked before any hook runs.
_ORDER_ID = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")


def checked_order_id(order_id: str) -> str:
    """``order_id`` when WeChat Pay takes it as an ``out_trade_no``; InvalidRequest, before any I/O, otherwise."""
    if not _ORDER_ID.fullmatch(order_id):
        raise paycore.InvalidRequest("a WeChat Pay out_trade_no (order_id) is 6 to 32 letters, digits or _-|*")
    return order_id


def fen(amount: Decimal, what: str) -> int:
    """``amount`` in whole fen; InvalidRequest when it has more than 2 decimals."""
    try:
        return toolkit.to_minor_units(amount, "CNY")
    except ValueError:
        raise paycore.InvalidRequest(
            f"WeChat Pay takes {what} in whole fen (2 decimals at most), not {amount}"
        ) from None


def order_body(order: paycore.Order, *, appid: str, mchid: str) -> dict[str, Any]:
    """The JSON body of a create request, every field the platform limits checked."""
    checked_order_id(order.order_id)
    if len(order.subject) > 127:
        raise paycore.InvalidRequest("a WeChat Pay description (subject) has at most 127 characters")
    notify = urlsplit(str(order.notify_url))
    if notify.query or notify.fragment:
        raise paycore.InvalidRequest("a WeChat Pay notify_url carries no query string: the platform drops it")
    if notify.scheme != "https" and notify.hostname not in _THIS_MACHINE:
        raise paycore.InvalidRequest("a WeChat Pay notify_url is https (plain http only on this machine)")
    body: dict[str, Any] = {
        "appid": appid,
        "mchid": mchid,
        "description": order.subject,
        "out_trade_no": order.order_id,
        "notify_url": str(order.notify_url),
        "amount": {"total": fen(order.amount, "orders"), "currency": "CNY"},
    }
    if order.attach:
        if len(order.attach) > 128:
            raise paycore.InvalidRequest("a WeChat Pay attach has at most 128 characters")
        body["attach"] = order.attach
    if order.expires_at is not None:
        body["time_expire"] = order.expires_at.astimezone(SHANGHAI).isoformat(timespec="seconds")
    endpoint = ENDPOINTS[paycore.Channel(order.channel)]
    if endpoint == "h5":
        body["scene_info"] = {"payer_client_ip": order.client_ip, "h5_info": {"type": "Wap"}}
    elif order.client_ip:
        body["scene_info"] = {"payer_client_ip": order.client_ip}
    if endpoint == "jsapi":
        body["payer"] = {"openid": order.payer_id}
    return body


def next_action(
    order: paycore.Order, data: dict[str, Any], *, appid: str, mchid: str, key: rsa.RSAPrivateKey
) -> paycore.NextAction:
    """What the buyer does with a create answer: scan, open, or hand signed parameters to WeChat's SDK."""
    channel = paycore.Channel(order.channel)
    endpoint = ENDPOINTS[channel]
    field = _ANSWER_FIELD[endpoint]
    if set(data) != {field}:
        # A create answers with its one field: anything else is another method's answer.
        raise paycore.ProtocolError(f"WeChat Pay's {endpoint} answer is not {{{field!r}}} alone")
    value = text(data, field, paycore.ProtocolError)
    try:
        if endpoint == "native":
            return paycore.QrCode(content=value)
        if endpoint == "h5":
            # The buyer comes back to return_url once done (WeChat appends nothing: the page must query).
            joint = "&" if "?" in value else "?"
            return paycore.Redirect(url=f"{value}{joint}redirect_url={quote(str(order.return_url), safe='')}")
    except ValueError:
        raise paycore.ProtocolError(f"WeChat Pay answered a {field} that is no usable URL") from None
    nonce, timestamp = new_nonce(), now_text()
    if endpoint == "app":
        parameters = {
            "appid": appid,
            "partnerid": mchid,
            "prepayid": value,
            "package": "Sign=WXPay",
            "noncestr": nonce,
            "timestamp": timestamp,
            "sign": sign((appid, timestamp, nonce, value), key),
        }
        return paycore.SdkParameters(sdk="wechat_app", parameters=parameters)
    package = f"prepay_id={value}"
    parameters = {
        "appId": appid,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": sign((appid, timestamp, nonce, package), key),
    }
    sdk = "wechat_mini_program" if channel is paycore.Channel.WECHAT_MINI_PROGRAM else "wechat_jsapi"
    return paycore.SdkParameters(sdk=sdk, parameters=parameters)


def _same(data: dict[str, Any], name: str, expected: str, what: str) -> None:
    if data.get(name) != expected:
        raise paycore.ProtocolError(f"WeChat Pay's {what} answer is about another {name}")


def payment_of(
    data: dict[str, Any], order_id: str, *, appid: str, mchid: str, name: str, account: str
) -> paycore.Payment:
    """A query answer, checked to be about this order of this merchant and app."""
    problem = paycore.ProtocolError
    _same(data, "out_trade_no", order_id, "query")
    _same(data, "mchid", mchid, "query")
    _same(data, "appid", appid, "query")
    state = text(data, "trade_state", problem)
    status = TRADE_STATES.get(state)
    if status is None:
        raise problem(f"WeChat Pay answered an unknown trade_state {state!r:.40}")
    amount = object_at(data, "amount", problem)
    currency = text(amount, "currency", problem, required=False) or "CNY"
    if currency != "CNY":
        raise problem(f"WeChat Pay answered a payment in {currency!r:.8}, not CNY")
    settled = status in (paycore.PaymentStatus.PAID, paycore.PaymentStatus.REFUNDED)
    total = yuan(amount, "total", problem)
    paid = optional_yuan(amount, "payer_total", problem) if settled else None
    return paycore.Payment(
        order_id=order_id,
        status=status,
        amount=total,
        currency="CNY",
        paid_amount=total if settled and paid is None else paid,
        transaction_id=text(data, "transaction_id", problem, required=False) or None,
        paid_at=time_of(data, "success_time", problem) if settled else None,
        provider=name,
        account=account,
        raw=data,
    )


def refund_of(
    data: dict[str, Any], order_id: str, refund_id: str, problem: type[paycore.PaycoreError], *, name: str, account: str
) -> paycore.Refund:
    """A refund answer (or a refund notification's resource), checked to be about this refund of this order."""
    if data.get("out_refund_no") != refund_id or data.get("out_trade_no") != order_id:
        raise problem("WeChat Pay's refund is about another refund or order")
    state = text(data, "status", problem, required=False) or text(data, "refund_status", problem)
    status = REFUND_STATUSES.get(state)
    if status is None:
        raise problem(f"WeChat Pay answered an unknown refund status {state!r:.40}")
    amount = object_at(data, "amount", problem)
    if (text(amount, "currency", problem, required=False) or "CNY") != "CNY":
        raise problem("WeChat Pay's refund is not in CNY")
    return paycore.Refund(
        order_id=order_id,
        refund_id=refund_id,
        status=status,
        amount=yuan(amount, "refund", problem),
        currency="CNY",
        transaction_id=text(data, "transaction_id", problem, required=False) or None,
        refunded_at=time_of(data, "success_time", problem),
        provider=name,
        account=account,
        raw=data,
    )
