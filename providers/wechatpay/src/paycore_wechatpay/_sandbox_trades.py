"""The wechatpay sandbox's trades and refunds, and the platform's answers about them (status, JSON).

Each method takes the request's JSON as sent and answers as the platform does:
``(200, {...})``, ``(204, None)`` or a refusal ``(4xx, {"code", "message"})``.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["Answer", "Trade", "TradeBook", "now"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: what each create endpoint records as trade_type, and answers with
TRADE_TYPES = {"native": "NATIVE", "h5": "MWEB", "jsapi": "JSAPI", "app": "APP"}
Answer = tuple[int, dict[str, Any] | None]


def now() -> str:
    return datetime.now(SHANGHAI).isoformat(timespec="seconds")


def refusal(status: int, code: str, message: str) -> Answer:
    return status, {"code": code, "message": message}


@dataclass
class Refund:
    refund_no: str
    out_refund_no: str
    amount: int
    created: str
    status: str = "SUCCESS"
    notify_url: str = ""


@dataclass
class Trade:
    order_id: str
    trade_type: str
    appid: str
    description: str
    total: int
    notify_url: str
    attach: str
    token: str
    openid: str
    request: dict[str, Any]
    state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: str = ""
    refunds: dict[str, Refund] = field(default_factory=dict)

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds.values() if refund.status != "CLOSED")


class TradeBook:
    """Trades by out_trade_no, under one lock."""

    def __init__(self, mchid: str, appid: str) -> None:
        self.mchid = mchid
        self.appid = appid
        self.trades: dict[str, Trade] = {}
        self.lock = threading.Lock()

    def _trade_problem(self, endpoint: str, body: dict[str, Any]) -> Answer | None:
        if body.get("appid") != self.appid or body.get("mchid") != self.mchid:
            return refusal(400, "PARAM_ERROR", "appid和mch_id不匹配")
        order_id, description = body.get("out_trade_no"), body.get("description")
        if not isinstance(order_id, str) or not 6 <= len(order_id) <= 32:
            return refusal(400, "PARAM_ERROR", "out_trade_no 长度不合法")
        if not isinstance(description, str) or not 1 <= len(description) <= 127:
            return refusal(400, "PARAM_ERROR", "description 不合法")
        amount = body.get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
            return refusal(400, "PARAM_ERROR", "amount.total 必须为正整数")
        if isinstance(amount, dict) and amount.get("currency", "CNY") != "CNY":
            return refusal(400, "PARAM_ERROR", "amount.currency 不合法")
        notify_url = body.get("notify_url")
        if not isinstance(notify_url, str) or not notify_url.startswith(("https://", "http://")) or "?" in notify_url:
            return refusal(400, "PARAM_ERROR", "notify_url 格式不正确")
        scene = body.get("scene_info")
        if endpoint == "h5" and not (
            isinstance(scene, dict) and scene.get("payer_client_ip") and isinstance(scene.get("h5_info"), dict)
        ):
            return refusal(400, "PARAM_ERROR", "H5 支付需要 scene_info.payer_client_ip 和 scene_info.h5_info")
        payer = body.get("payer")
        if endpoint == "jsapi" and not (isinstance(payer, dict) and payer.get("openid")):
            return refusal(400, "PARAM_ERROR", "JSAPI 支付需要 payer.openid")
        return None

    def open(self, endpoint: str, body: dict[str, Any], *, closed: bool = False) -> Answer | Trade:
        """A new trade (or the same one asked again): the Trade, or a refusal."""
        problem = self._trade_problem(endpoint, body)
        if problem is not None:
            return problem
        order_id = str(body["out_trade_no"])
        with self.lock:
            trade = self.trades.get(order_id)
            if trade is not None:
                if trade.state == "SUCCESS":
                    return refusal(400, "ORDERPAID", "该订单已支付")
                if trade.request != body or trade.trade_type != TRADE_TYPES[endpoint]:
                    return refusal(400, "INVALID_REQUEST", "201 商户订单号重复")
                return trade
            payer = body.get("payer")
            trade = Trade(
                order_id=order_id,
                trade_type=TRADE_TYPES[endpoint],
                appid=str(body["appid"]),
                description=str(body["description"]),
                total=int(body["amount"]["total"]),
                notify_url=str(body["notify_url"]),
                attach=str(body.get("attach", "")),
                token=f"wx{secrets.token_hex(16)}",
                openid=str(payer["openid"]) if isinstance(payer, dict) else "oSandbox" + secrets.token_hex(10),
                request=body,
                state="CLOSED" if closed else "NOTPAY",
            )
            self.trades[order_id] = trade
            return trade

    def query(self, order_id: str, mchid: str) -> Answer:
        if mchid != self.mchid:
            return refusal(400, "PARAM_ERROR", "mchid 不合法")
        with self.lock:
            trade = self.trades.get(order_id)
            if trade is None:
                return refusal(404, "ORDER_NOT_EXIST", "订单不存在")
            return 200, self.transaction(trade)

    def transaction(self, trade: Trade) -> dict[str, Any]:
        """A trade as the platform describes it (a query's answer; a notification's resource)."""
        paid = trade.state in ("SUCCESS", "REFUND")
        data: dict[str, Any] = {
            "appid": trade.appid,
            "mchid": self.mchid,
            "out_trade_no": trade.order_id,
            "trade_type": trade.trade_type,
            "trade_state": trade.state,
            "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭"}.get(trade.state, ""),
            "attach": trade.attach,
            "amount": {"total": trade.total, "currency": "CNY"},
        }
        if paid:
            data.update(
                transaction_id=trade.transaction_id,
                bank_type="OTHERS",
                success_time=trade.success_time,
                payer={"openid": trade.openid},
                amount={"total": trade.total, "payer_total": trade.total, "currency": "CNY", "payer_currency": "CNY"},
            )
        return data

    def close(self, order_id: str, body: dict[str, Any]) -> Answer:
        if body.get("mchid") != self.mchid:
            return refusal(400, "PARAM_ERROR", "mchid 不合法")
        with self.lock:
            trade = self.trades.get(order_id)
            if trade is None:
                return refusal(404, "ORDER_NOT_EXIST", "订单不存在")
            if trade.state in ("SUCCESS", "REFUND"):
                return refusal(400, "ORDERPAID", "订单已支付")
            trade.state = "CLOSED"
            return 204, None

    def pay(self, order_id: str) -> Trade | str:
        """The buyer pays: the trade, or why it cannot be paid."""
        with self.lock:
            trade = self.trades.get(order_id)
            if trade is None:
                return f"the wechatpay sandbox has no order {order_id!r}"
            if trade.state != "NOTPAY":
                return f"order {order_id!r} is {trade.state}: it cannot be paid"
            trade.state = "SUCCESS"
            trade.success_time = now()
            trade.transaction_id = "42000" + "".join(secrets.choice("0123456789") for _ in range(23))
            return trade

    def refund(self, body: dict[str, Any]) -> tuple[Answer, Trade | None, Refund | None]:
        """A refund (or the same one asked again): the answer, and what to notify about when it is new."""
        order_id, out_refund_no, amount = body.get("out_trade_no"), body.get("out_refund_no"), body.get("amount")
        if not isinstance(out_refund_no, str) or not 1 <= len(out_refund_no) <= 64 or not isinstance(amount, dict):
            return refusal(400, "PARAM_ERROR", "out_refund_no 或 amount 不合法"), None, None
        refund_fen, total = amount.get("refund"), amount.get("total")
        if not all(
            isinstance(value, int) and not isinstance(value, bool) and value > 0 for value in (refund_fen, total)
        ):
            return refusal(400, "PARAM_ERROR", "amount.refund 和 amount.total 必须为正整数"), None, None
        with self.lock:
            trade = self.trades.get(order_id) if isinstance(order_id, str) else None
            if trade is None:
                return refusal(404, "ORDER_NOT_EXIST", "订单不存在"), None, None
            if total != trade.total:
                return refusal(400, "PARAM_ERROR", "订单金额与原订单不一致"), None, None
            known = trade.refunds.get(out_refund_no)
            if known is not None:
                if known.amount != refund_fen:
                    return refusal(400, "INVALID_REQUEST", "同一退款单号的退款金额不一致"), None, None
                return (200, self.refund_data(trade, known)), None, None
            if trade.state not in ("SUCCESS", "REFUND"):
                return refusal(403, "TRADE_ERROR", "订单未支付"), None, None
            if trade.refunded + int(str(refund_fen)) > trade.total:
                return refusal(403, "NOT_ENOUGH", "退款金额超过订单可退金额"), None, None
            refund = Refund(
                refund_no="50" + "".join(secrets.choice("0123456789") for _ in range(27)),
                out_refund_no=out_refund_no,
                amount=int(str(refund_fen)),
                created=now(),
                notify_url=str(body.get("notify_url") or ""),
            )
            trade.refunds[out_refund_no] = refund
            trade.state = "REFUND"
            return (200, self.refund_data(trade, refund)), trade, refund

    def refund_query(self, out_refund_no: str) -> Answer:
        with self.lock:
            for trade in self.trades.values():
                refund = trade.refunds.get(out_refund_no)
                if refund is not None:
                    return 200, self.refund_data(trade, refund)
        return refusal(404, "RESOURCE_NOT_EXISTS", "退款单不存在")

    def refund_data(self, trade: Trade, refund: Refund) -> dict[str, Any]:
        return {
            "refund_id": refund.refund_no,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": trade.transaction_id,
            "out_trade_no": trade.order_id,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "success_time": refund.created,
            "create_time": refund.created,
            "status": refund.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": trade.total,
                "refund": refund.amount,
                "payer_total": trade.total,
                "payer_refund": refund.amount,
                "settlement_refund": refund.amount,
                "settlement_total": trade.total,
                "discount_refund": 0,
                "currency": "CNY",
            },
        }
