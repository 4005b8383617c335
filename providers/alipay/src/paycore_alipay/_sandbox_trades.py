"""The alipay sandbox's trades: opened, queried, closed and refunded as Alipay's open platform answers.

Each operation returns the answer's business fields (``code`` 10000, or Alipay's
refusal with its ``sub_code``); the sandbox wraps them in its signed envelope.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "Trade", "TradeBook", "biz_of", "now", "yuan"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: yuan as Alipay writes them: no sign, exponent, underscore, space or third decimal
_YUAN_TEXT = re.compile(r"(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?")
_MAX_YUAN = Decimal("100000000")


def yuan(raw: str) -> Decimal | None:
    """A positive amount of yuan written as Alipay accepts it, or None."""
    if not _YUAN_TEXT.fullmatch(raw):
        return None
    amount = Decimal(raw)
    return amount if Decimal("0.01") <= amount <= _MAX_YUAN else None


def biz_of(params: Mapping[str, str]) -> dict[str, str] | None:
    """``biz_content`` as a JSON object of text values, or None (however hostile the text)."""
    try:
        biz = json.loads(params.get("biz_content", ""))
    except (ValueError, RecursionError):
        return None
    if not isinstance(biz, dict) or not all(isinstance(value, str) for value in biz.values()):
        return None
    try:
        # JSON escapes can spell lone surrogates: text that can be neither stored, shown nor signed.
        json.dumps(biz, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return biz


@dataclass
class Trade:
    order_id: str
    trade_no: str
    total_amount: str
    subject: str
    notify_url: str
    return_url: str
    passback_params: str
    created: str
    status: str = "WAIT_BUYER_PAY"
    paid_at: str = ""
    refunds: dict[str, str] = field(default_factory=dict)  # out_request_no → amount


def now() -> str:
    return datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


class TradeBook:
    """Every trade of a sandbox, by the merchant's order id; one lock for all of them."""

    def __init__(self) -> None:
        self.trades: dict[str, Trade] = {}
        self.lock = threading.Lock()
        self.count = 0

    def open(self, biz: dict[str, str], params: dict[str, str], *, closed: bool) -> Trade | dict[str, str]:
        order_id, amount = biz.get("out_trade_no", ""), yuan(biz.get("total_amount", ""))
        if not order_id or not biz.get("subject") or amount is None:
            return {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.INVALID_PARAMETER",
                "sub_msg": "参数无效",
            }
        with self.lock:
            if order_id in self.trades:
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_HAS_SUCCESS"
                    if self.trades[order_id].status == "TRADE_SUCCESS"
                    else "ACQ.CONTEXT_INCONSISTENT",
                    "sub_msg": "交易已存在",
                }
            self.count += 1
            trade = Trade(
                order_id=order_id,
                trade_no=datetime.now(SHANGHAI).strftime("%Y%m%d") + f"22{self.count:018d}",
                total_amount=f"{amount:.2f}",
                subject=biz["subject"],
                notify_url=params.get("notify_url", ""),
                return_url=params.get("return_url", ""),
                passback_params=biz.get("passback_params", ""),
                created=now(),
                status="TRADE_CLOSED" if closed else "WAIT_BUYER_PAY",
            )
            self.trades[order_id] = trade
        return trade

    def not_found(self) -> dict[str, str]:
        return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}

    def query(self, biz: dict[str, str]) -> dict[str, str]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self.not_found()
        answer = {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.order_id,
            "trade_status": trade.status,
            "total_amount": trade.total_amount,
        }
        if trade.status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            answer.update(
                receipt_amount=trade.total_amount, buyer_pay_amount=trade.total_amount, send_pay_date=trade.paid_at
            )
        return answer

    def close(self, biz: dict[str, str]) -> dict[str, str]:
        with self.lock:
            trade = self.trades.get(biz.get("out_trade_no", ""))
            if trade is None:
                return self.not_found()
            if trade.status != "WAIT_BUYER_PAY":
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_STATUS_ERROR",
                    "sub_msg": "交易状态不合法",
                }
            trade.status = "TRADE_CLOSED"
        return {"code": "10000", "msg": "Success", "trade_no": trade.trade_no, "out_trade_no": trade.order_id}

    def refund(self, biz: dict[str, str]) -> dict[str, str]:
        request_no, raw = biz.get("out_request_no") or biz.get("out_trade_no", ""), biz.get("refund_amount", "")
        with self.lock:
            trade = self.trades.get(biz.get("out_trade_no", ""))
            if trade is None:
                return self.not_found()
            amount = yuan(raw)
            if amount is None:
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.INVALID_PARAMETER",
                    "sub_msg": "退款金额无效",
                }
            fund_change = "Y"
            if request_no in trade.refunds:
                if trade.refunds[request_no] != f"{amount:.2f}":
                    return {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.REFUND_AMT_RESTRICTION",
                        "sub_msg": "同一退款请求号金额不一致",
                    }
                fund_change = "N"  # asked again: already refunded
            elif trade.status not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_STATUS_ERROR",
                    "sub_msg": "交易状态不合法",
                }
            elif sum(map(Decimal, trade.refunds.values()), Decimal(0)) + amount > Decimal(trade.total_amount):
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                    "sub_msg": "退款金额超限",
                }
            else:
                trade.refunds[request_no] = f"{amount:.2f}"
            total = sum(map(Decimal, trade.refunds.values()), Decimal(0))
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.order_id,
            "fund_change": fund_change,
            "refund_fee": f"{total:.2f}",
            "gmt_refund_pay": now(),
        }

    def refund_query(self, biz: dict[str, str]) -> dict[str, str]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self.not_found()
        request_no = biz.get("out_request_no", "")
        if request_no not in trade.refunds:
            return {"code": "10000", "msg": "Success"}  # as Alipay: success, and no refund in it
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.order_id,
            "out_request_no": request_no,
            "refund_amount": trade.refunds[request_no],
            "total_amount": trade.total_amount,
            "refund_status": "REFUND_SUCCESS",
        }
