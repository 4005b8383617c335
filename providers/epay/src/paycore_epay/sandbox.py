"""A local epay (v1) platform for the demo and the tests: ``paycore sandbox --provider epay``.

It checks signatures with its own code (not the provider's), serves ``submit.php``
(a cashier page), ``mapi.php`` (JSON: a pay URL or QR content), ``api.php?act=order``
(the key checked in constant time), and notifies each paid order by **GET** to its
``notify_url``, resending until the merchant answers exactly ``success``::

    with EpaySandbox(SandboxOptions(profile="fast")) as sandbox:
        gateway = paycore.Gateway("epay", sandbox.account_settings())
        payment = gateway.create(order)
        sandbox.pay(order.order_id)                       # as the buyer would, at the cashier
        attempts = sandbox.wait_for_notifications(order.order_id)

Like the most widely deployed platform, it stores an order's ``name`` and ``param``
as ``htmlspecialchars(addslashes(value))`` and notifies and signs them as stored
(``Tom's`` comes back as ``Tom\\&#039;s``), and sends ``money`` as PHP prints a
float (``9.9``, ``10``). ``strict`` (``--strict``) stores and sends them as received,
as the protocol's document describes.

Admin API (JSON) for other processes: ``POST /admin/orders/{order_id}/pay`` and
``/fail``, ``GET /admin/orders/{order_id}/notifications``, ``PUT /admin/faults``
with ``{"faults": [...]}``. Faults (`EpayFault`): ``duplicate``, ``wrong_sign``,
``refuse``, ``slow``.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import html
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import httpx

import paycore
from paycore.sandbox import PUBLIC_SANDBOX_KEY, LoopbackSandbox, SandboxOptions, admin_response

__all__ = ["PROFILES", "EpayFault", "EpaySandbox"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_MERCHANT_ID = "1000"

#: seconds to wait before each try: ``realistic`` follows the common v1 platforms (then stops);
#: ``fast`` is for tests
PROFILES: Mapping[str, tuple[float, ...]] = {
    "realistic": (0, 15, 15, 30, 180, 1800, 1800, 1800, 3600),
    "fast": (0, 0.05, 0.05, 0.05, 0.05),
}
_SLOW_SECONDS = 3.0
#: what platforms accept as an amount: yuan, at most 2 decimals, no exponent, sign or underscore
_MONEY = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")


class EpayFault(enum.StrEnum):
    """What can go wrong, the way it goes wrong on real platforms."""

    #: the notification is sent once more after the merchant's ``success``
    DUPLICATE = "duplicate"
    #: notifications are signed with another key
    WRONG_SIGN = "wrong_sign"
    #: ``mapi.php`` and ``api.php`` answer ``{"code": -1, "msg": "系统繁忙"}``
    REFUSE = "refuse"
    #: ``mapi.php`` and ``api.php`` answer after 3 seconds
    SLOW = "slow"


@dataclass
class _Order:
    order_id: str
    trade_no: str
    kind: str
    name: str
    money: str
    notify_url: str
    return_url: str
    param: str
    added: str
    status: int = 0
    ended: str = ""


def _sign(fields: Mapping[str, str], key: str) -> str:
    """The platform's side, written apart from the provider's: sorted by name bytes, empties and sign left out."""
    items = sorted(
        ((name, value) for name, value in fields.items() if value and name not in ("sign", "sign_type")),
        key=lambda item: item[0].encode(),
    )
    text = "&".join(name + "=" + value for name, value in items) + key
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _stored_like_php(value: str) -> str:
    """``htmlspecialchars(addslashes($value))``: what the platform stores of ``name`` and ``param`` (PHP 8.1+ flags)."""
    slashed = value.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\x00", "\\0")
    return (
        slashed.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("'", "&#039;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _php_float(money: str) -> str:
    """``money`` as PHP prints the float it reads it into: ``9.90`` is ``9.9``, ``10.00`` is ``10``."""
    return format(Decimal(money).normalize(), "f")


class EpaySandbox(LoopbackSandbox[EpayFault]):
    """An epay platform on a loopback socket."""

    name = "epay"
    fault_type = EpayFault
    profiles = PROFILES
    default_profile = "realistic"
    unsupported_options = ("state_path", "channels", "certificates")

    def __init__(self, options: SandboxOptions | None = None) -> None:
        # v1 platforms stop resending when the answer is exactly "success".
        super().__init__(options, acknowledged=lambda answer: answer.strip() == "success")
        self.merchant_id = self.options.merchant_id or DEFAULT_MERCHANT_ID
        self._key = self.options.secret_key or PUBLIC_SANDBOX_KEY
        self._orders: dict[str, _Order] = {}
        self._lock = threading.Lock()
        self._trades = 0

    def __repr__(self) -> str:
        return f"<EpaySandbox {self.url} merchant={self.merchant_id!r} profile={self.profile!r}>"

    def account_settings(self) -> dict[str, Any]:
        """Settings of an ``epay`` account on this sandbox (they include its key)."""
        return {"base_url": self.url, "merchant_id": self.merchant_id, "secret_key": self._key}

    # -- the buyer, faults and what happened --------------------------------------------------------------

    def _order(self, order_id: str) -> _Order:
        order = self._orders.get(order_id)
        if order is None:
            raise paycore.InvalidRequest(f"the epay sandbox has no order {order_id!r}")
        return order

    def pay(self, order_id: str) -> None:
        """Pay the order, as the buyer's click at the cashier would; the merchant is then notified by GET."""
        with self._lock:
            order = self._order(order_id)
            if order.status == 1:
                raise paycore.InvalidRequest(f"order {order_id!r} is paid already")
            order.status = 1
            order.ended = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        query = urlencode(self._notification(order))
        url = f"{order.notify_url}{'&' if '?' in order.notify_url else '?'}{query}"
        duplicate = EpayFault.DUPLICATE in self.faults
        self.resender.deliver(order_id, url, lambda client: client.get(url), duplicate=duplicate)

    def fail(self, order_id: str) -> None:
        """The buyer gives up: v1 platforms notify successes only, so nothing is sent and the order stays unpaid."""
        with self._lock:
            self._order(order_id)

    # -- notifications ----------------------------------------------------------------------------------

    def _notification(self, order: _Order) -> dict[str, str]:
        fields = {
            "pid": self.merchant_id,
            "trade_no": order.trade_no,
            "out_trade_no": order.order_id,
            "type": order.kind,
            "name": order.name,
            "money": order.money if self.options.strict else _php_float(order.money),
            "trade_status": "TRADE_SUCCESS",
            "param": order.param,
        }
        key = self._key + "-not-the-key" if EpayFault.WRONG_SIGN in self.faults else self._key
        return {**fields, "sign": _sign(fields, key), "sign_type": "MD5"}

    # -- the platform's HTTP side --------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/admin/"):
            return admin_response(request, self)
        if path.startswith("/cashier/"):
            return self._cashier(request)
        if path in ("/mapi.php", "/api.php") and EpayFault.SLOW in self.faults:
            time.sleep(_SLOW_SECONDS)
        routes = {"/submit.php": self._submit, "/mapi.php": self._mapi, "/api.php": self._api}
        route = routes.get(path)
        if route is None:
            return httpx.Response(404, text="not found")
        fields = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        if request.method == "POST":
            fields.update(parse_qsl(request.content.decode("utf-8", "replace"), keep_blank_values=True))
        return route(fields)

    def _refusal(self, message: str, code: int = -1) -> httpx.Response:
        # v1 platforms label their JSON text/html.
        body = json.dumps({"code": code, "msg": message}, ensure_ascii=False)
        return httpx.Response(200, text=body, headers={"content-type": "text/html; charset=utf-8"})

    def _checked_order(self, fields: dict[str, str]) -> _Order | str:
        """The new order the signed fields describe, or the platform's reason to refuse them."""
        for name in ("pid", "type", "out_trade_no", "notify_url", "name", "money", "sign"):
            if not fields.get(name):
                return f"{name}不能为空"
        if fields["pid"] != self.merchant_id:
            return "商户不存在"
        if not hmac.compare_digest(_sign(fields, self._key), fields["sign"].lower()):
            return "签名校验失败"
        if fields["type"] not in ("alipay", "wxpay", "qqpay"):
            return "支付方式不存在"
        if not _MONEY.fullmatch(fields["money"]) or Decimal(fields["money"]) <= 0:
            return "金额不合法"
        money = Decimal(fields["money"])
        with self._lock:
            if fields["out_trade_no"] in self._orders:
                return "订单号已存在"
            self._trades += 1
            order = _Order(
                order_id=fields["out_trade_no"],
                trade_no=datetime.now(SHANGHAI).strftime("%Y%m%d%H%M%S") + f"{self._trades:06d}",
                kind=fields["type"],
                name=fields["name"] if self.options.strict else _stored_like_php(fields["name"]),
                money=f"{money:.2f}",
                notify_url=fields["notify_url"],
                return_url=fields.get("return_url", ""),
                param=fields.get("param", "") if self.options.strict else _stored_like_php(fields.get("param", "")),
                added=datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            )
            self._orders[order.order_id] = order
        return order

    def _submit(self, fields: dict[str, str]) -> httpx.Response:
        checked = self._checked_order(fields)
        if isinstance(checked, str):
            return httpx.Response(400, text=f"<h3>{html.escape(checked)}</h3>", headers={"content-type": "text/html"})
        return httpx.Response(302, headers={"location": f"{self.url}/cashier/{checked.trade_no}"})

    def _mapi(self, fields: dict[str, str]) -> httpx.Response:
        if EpayFault.REFUSE in self.faults:
            return self._refusal("系统繁忙")
        if not fields.get("clientip"):
            return self._refusal("clientip不能为空")
        checked = self._checked_order(fields)
        if isinstance(checked, str):
            return self._refusal(checked)
        answer: dict[str, Any] = {"code": 1, "msg": "", "trade_no": checked.trade_no}
        cashier = f"{self.url}/cashier/{checked.trade_no}"
        answer["qrcode" if fields.get("device", "pc") == "pc" else "payurl"] = cashier
        return httpx.Response(200, text=json.dumps(answer), headers={"content-type": "text/html; charset=utf-8"})

    def _api(self, fields: dict[str, str]) -> httpx.Response:
        if EpayFault.REFUSE in self.faults:
            return self._refusal("系统繁忙")
        if fields.get("act") != "order":
            return self._refusal("不支持的操作")
        if fields.get("pid") != self.merchant_id or not hmac.compare_digest(
            fields.get("key", "").encode(), self._key.encode()
        ):
            return self._refusal("KEY校验失败", code=-3)
        order = self._orders.get(fields.get("out_trade_no", ""))
        if order is None:
            return self._refusal("订单号不存在")
        answer = {
            "code": 1,
            "msg": "查询订单号成功",
            "trade_no": order.trade_no,
            "out_trade_no": order.order_id,
            "type": order.kind,
            "pid": self.merchant_id,
            "addtime": order.added,
            "endtime": order.ended,
            "name": order.name,
            "money": order.money,
            "status": order.status,
        }
        return httpx.Response(
            200, text=json.dumps(answer, ensure_ascii=False), headers={"content-type": "text/html; charset=utf-8"}
        )

    def _cashier(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        order = next((order for order in self._orders.values() if parts[1:2] == [order.trade_no]), None)
        if order is None or len(parts) > 3:
            return httpx.Response(404, text="no such order")
        if request.method == "POST" and parts[2:] == ["pay"]:
            if order.status != 1:
                self.pay(order.order_id)
            back = urlencode(self._notification(order))
            if order.return_url:
                joiner = "&" if "?" in order.return_url else "?"
                return httpx.Response(302, headers={"location": f"{order.return_url}{joiner}{back}"})
            return httpx.Response(200, text="paid")
        page = (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>epay sandbox</title></head><body>'
            f"<h1>{html.escape(order.name)}</h1><p>¥{html.escape(order.money)} · {html.escape(order.order_id)}</p>"
            f'<form method="post" action="/cashier/{html.escape(order.trade_no)}/pay"><button>Pay</button></form>'
            "</body></html>"
        )
        return httpx.Response(200, text=page, headers={"content-type": "text/html; charset=utf-8"})
