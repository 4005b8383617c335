"""The sandbox gateway as an ASGI app: the protocol's endpoints, the cashier, the admin API."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from paycore import toolkit
from paycore_juhe.sandbox._config import Fault, SandboxConfig, check_slow_seconds
from paycore_juhe.sandbox._notifier import Notifier, notification_fields
from paycore_juhe.sandbox._pages import cashier_page, message_page, result_page
from paycore_juhe.sandbox._reference import escape_like_php, md5_sign
from paycore_juhe.sandbox._store import SandboxOrder, Store

__all__ = ["SandboxState", "create_app"]

CREATE_SIGNED = (
    "pay_memberid",
    "pay_orderid",
    "pay_applydate",
    "pay_bankcode",
    "pay_notifyurl",
    "pay_callbackurl",
    "pay_amount",
)
# What the reference software checks; strict mode adds pay_productname, as the document asks.
CREATE_REQUIRED = ("pay_memberid", "pay_amount", "pay_bankcode", "pay_orderid", "pay_md5sign")
QUERY_SIGNED = ("pay_memberid", "pay_orderid")
UNPAID_TIME = "1970-01-01 08:00:00"
# Order ids the sandbox can serve a cashier page for: the URL path holds them.
_ORDER_ID = re.compile(r"[A-Za-z0-9_-]+")
# A DECIMAL(15,4) column: plain ASCII digits, at most 4 decimals.
_AMOUNT = re.compile(r"[0-9]{1,11}(?:\.[0-9]{1,4})?")


class SandboxState:
    """Everything the app shares: configuration, store, faults switched on, the notifier."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.state_path)
        self.faults: set[Fault] = set(config.faults)
        self.slow_seconds = config.slow_seconds
        self.notifier = Notifier(self.store, config)
        self._transactions = itertools.count(1)

    def faults_for(self, order: SandboxOrder | None) -> set[Fault]:
        extra = {Fault(name) for name in order.faults} if order is not None else set()
        return self.faults | extra

    def new_transaction_id(self) -> str:
        now = datetime.now(ZoneInfo(self.config.timezone))
        return f"{now:%Y%m%d%H%M%S}{next(self._transactions):06d}"

    def settle(self, order_id: str, *, pay: bool) -> SandboxOrder | None:
        order = self.store.order(order_id)
        if order is None or order.status != "pending":
            return order
        faults = self.faults_for(order)
        paid = pay and Fault.FAIL not in faults
        paid_at = datetime.now(ZoneInfo(self.config.timezone)).strftime("%Y-%m-%d %H:%M:%S") if paid else None
        settled = self.store.settle(order_id, "paid" if paid else "failed", paid_at)
        self.notifier.notify(order_id, faults)
        return settled


def _error(message: str) -> JSONResponse:
    # The software answers refusals with HTTP 200.
    return JSONResponse({"status": "error", "msg": message, "data": []})


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    # PHP's $_POST: for a repeated name, the last value wins.
    return dict(parse_qsl(body, keep_blank_values=True))


def _signature_ok(form: dict[str, str], names: tuple[str, ...], key: str) -> bool:
    # The software filters every input through HTML escaping before signing it again,
    # so a signed value holding & < > " ' never verifies: the pitfall, reproduced.
    escaped = {name: escape_like_php(form.get(name, "")) for name in names}
    # Upper case required: the software compares with its own upper-case digest.
    return hmac.compare_digest(form.get("pay_md5sign", "").encode(), md5_sign(escaped, key).encode())


async def _faults_before_answer(state: SandboxState, faults: set[Fault]) -> Response | None:
    if Fault.SLOW in faults:
        await asyncio.sleep(state.slow_seconds)
    if Fault.HTTP_500 in faults:
        return HTMLResponse("<h1>500 Internal Server Error</h1>", status_code=500)
    return None


def create_app(state: SandboxState) -> Starlette:
    config = state.config

    def cashier_url(request: Request, order_id: str) -> str:
        return str(request.url_for("cashier", order_id=order_id))

    async def pay_index(request: Request) -> Response:
        if request.method != "POST":
            return _error("请使用POST方式提交")
        form = await _form(request)
        interrupted = await _faults_before_answer(state, state.faults)
        if interrupted is not None:
            return interrupted
        required = (*CREATE_REQUIRED, "pay_productname") if config.strict else CREATE_REQUIRED
        missing = [name for name in required if not form.get(name)]
        if missing:
            return _error(f"参数不完整: {', '.join(missing)}")
        if form["pay_memberid"] != config.merchant_id:
            return _error("商户不存在")
        if not _signature_ok(form, CREATE_SIGNED, config.secret_key):
            return _error("签名验证失败")
        order_id = form["pay_orderid"]
        if len(order_id) > config.max_order_id_length:
            return _error(f"订单号长度不能超过{config.max_order_id_length}位")
        if not _ORDER_ID.fullmatch(order_id):
            return _error("订单号格式错误")
        if not _AMOUNT.fullmatch(form["pay_amount"]) or Decimal(form["pay_amount"]) <= 0:
            return _error("订单金额错误")
        if form["pay_bankcode"] not in config.channels:
            return _error("支付通道不存在")
        # The URLs are filtered as the software filters every input (strip_tags,
        # htmlspecialchars) and used that way. They must be http(s): the sandbox POSTs
        # to one and puts the other in its result page's form.
        notify_url = escape_like_php(form.get("pay_notifyurl", ""))
        callback_url = escape_like_php(form.get("pay_callbackurl", ""))
        if toolkit.is_http_url(notify_url) is not None:
            return _error("异步通知地址错误")
        if toolkit.is_http_url(callback_url) is not None:
            return _error("同步跳转地址错误")
        # Every check is done and the cashier URL built before anything is stored.
        url = cashier_url(request, order_id)
        order = SandboxOrder(
            order_id=order_id,
            merchant_id=form["pay_memberid"],
            amount=form["pay_amount"],
            bankcode=form["pay_bankcode"],
            notify_url=notify_url,
            callback_url=callback_url,
            # Held as the software holds every input: HTML-escaped.
            attach=escape_like_php(form["pay_attach"]) if form.get("pay_attach") else None,
            # Kept as sent, for display: the cashier page escapes it.
            subject=form.get("pay_productname", ""),
            applydate=form.get("pay_applydate", ""),
            transaction_id=state.new_transaction_id(),
        )
        if not state.store.add_order(order):
            return _error("订单号重复")
        if form.get("type") != "json":
            return RedirectResponse(url, status_code=303)  # the browser flow: on to the cashier
        if Fault.HTML in state.faults:
            return HTMLResponse(cashier_page(order))
        status_key = "ststus" if Fault.STSTUS in state.faults else "status"
        return JSONResponse(
            {
                status_key: "1",
                "msg": "下单成功",
                "pay_amount": form["pay_amount"],
                "pay_orderid": order_id,
                "payUrl": url,
            }
        )

    async def trade_query(request: Request) -> Response:
        if request.method != "POST":
            return _error("请使用POST方式提交")
        form = await _form(request)
        order = state.store.order(form.get("pay_orderid", ""))
        interrupted = await _faults_before_answer(state, state.faults_for(order))
        if interrupted is not None:
            return interrupted
        if form.get("pay_memberid") != config.merchant_id:
            return _error("商户不存在")
        if not _signature_ok(form, QUERY_SIGNED, config.secret_key):
            return _error("验签失败!")
        if order is None:
            return _error("不存在的交易订单.")
        paid = order.status == "paid"
        # A DECIMAL(15,4) column: the amount comes back with 4 decimals.
        answer = {"memberid": order.merchant_id, "orderid": order.order_id, "amount": f"{Decimal(order.amount):.4f}"}
        if Fault.TRUE_AMOUNT in state.faults_for(order) and paid:
            answer["true_amount"] = notification_fields(order, {Fault.TRUE_AMOUNT}, config)["true_amount"]
        answer.update(
            time_end=order.paid_at if paid and order.paid_at else UNPAID_TIME,
            transaction_id=order.transaction_id,
            returncode="00",  # on the software, 00 whether paid or not: trade_state tells
            trade_state="SUCCESS" if paid else "NOTPAY",
        )
        answer["sign"] = md5_sign(answer, config.secret_key)
        # Real platforms send JSON as text/html.
        return Response(json.dumps(answer, ensure_ascii=False), media_type="text/html; charset=utf-8")

    async def cashier(request: Request) -> Response:
        order = state.store.order(request.path_params["order_id"])
        if order is None:
            return HTMLResponse(message_page("Unknown order", "No such order in this sandbox."), status_code=404)
        return HTMLResponse(cashier_page(order))

    async def cashier_settle(request: Request) -> Response:
        if request.path_params["action"] not in ("pay", "fail"):
            return HTMLResponse(message_page("Not found", "No such action."), status_code=404)
        order = state.settle(request.path_params["order_id"], pay=request.path_params["action"] == "pay")
        if order is None:
            return HTMLResponse(message_page("Unknown order", "No such order in this sandbox."), status_code=404)
        fields = notification_fields(order, state.faults_for(order), config)
        fields["attach"] = order.attach or ""
        return HTMLResponse(result_page(order, fields))

    async def admin_orders(request: Request) -> Response:
        return JSONResponse([order.as_json() for order in state.store.orders()])

    async def admin_order(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        order = state.store.order(order_id)
        if order is None:
            return JSONResponse({"error": "no such order"}, status_code=404)
        attempts = [attempt.as_json() for attempt in state.store.attempts(order_id)]
        return JSONResponse({**order.as_json(), "notifications": attempts})

    async def admin_settle(request: Request) -> Response:
        if request.path_params["action"] not in ("pay", "fail"):
            return JSONResponse({"error": "action is pay or fail"}, status_code=404)
        order = state.settle(request.path_params["order_id"], pay=request.path_params["action"] == "pay")
        if order is None:
            return JSONResponse({"error": "no such order"}, status_code=404)
        return JSONResponse(order.as_json())

    async def admin_notifications(request: Request) -> Response:
        attempts = state.store.attempts(request.query_params.get("order_id"))
        return JSONResponse([attempt.as_json() for attempt in attempts])

    async def _fault_list(request: Request) -> list[Fault] | Response:
        try:
            payload: Any = json.loads(await request.body() or b"{}")
            names = payload.get("faults", [])
            if not isinstance(names, list):
                raise TypeError("faults is a list")
            return [Fault(name) for name in names]
        except (ValueError, AttributeError, TypeError, RecursionError):
            known = ", ".join(fault.value for fault in Fault)
            return JSONResponse({"error": f"expected {{'faults': [...]}} with faults among: {known}"}, status_code=400)

    async def admin_faults(request: Request) -> Response:
        if request.method == "PUT":
            faults = await _fault_list(request)
            if isinstance(faults, Response):
                return faults
            payload = json.loads(await request.body() or b"{}")  # read once already: a dict
            slow_seconds = state.slow_seconds
            if "slow_seconds" in payload:
                try:
                    slow_seconds = check_slow_seconds(payload["slow_seconds"])
                except ValueError as exc:
                    return JSONResponse({"error": str(exc)}, status_code=400)
            # Both or neither: a refused request changes nothing.
            state.faults = set(faults)
            state.slow_seconds = slow_seconds
        return JSONResponse({"faults": sorted(state.faults), "slow_seconds": state.slow_seconds})

    async def admin_wait(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        if state.store.order(order_id) is None:
            return JSONResponse({"error": "no such order"}, status_code=404)
        try:
            timeout = float(request.query_params.get("timeout", "30"))
        except ValueError:
            timeout = -1.0
        if not 0 <= timeout <= 300:  # NaN fails too
            return JSONResponse({"error": "timeout is a number of seconds from 0 to 300"}, status_code=400)
        done = await state.notifier.wait(order_id, timeout)
        attempts = [attempt.as_json() for attempt in state.store.attempts(order_id)]
        return JSONResponse({"order_id": order_id, "done": done, "notifications": attempts})

    async def admin_order_faults(request: Request) -> Response:
        faults = await _fault_list(request)
        if isinstance(faults, Response):
            return faults
        order_id = request.path_params["order_id"]
        if not state.store.set_order_faults(order_id, sorted(faults)):
            return JSONResponse({"error": "no such order"}, status_code=404)
        return JSONResponse({"order_id": order_id, "faults": sorted(faults)})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.notifier.aclose()

    routes = [
        Route("/Pay_Index.html", pay_index, methods=["GET", "POST"]),
        Route("/Pay_Trade_query.html", trade_query, methods=["GET", "POST"]),
        Route("/cashier/{order_id}", cashier, methods=["GET"], name="cashier"),
        Route("/cashier/{order_id}/{action:str}", cashier_settle, methods=["POST"]),
        Route("/admin/orders", admin_orders, methods=["GET"]),
        Route("/admin/orders/{order_id}", admin_order, methods=["GET"]),
        Route("/admin/orders/{order_id}/faults", admin_order_faults, methods=["PUT"]),
        Route("/admin/orders/{order_id}/notifications/wait", admin_wait, methods=["GET"]),
        Route("/admin/orders/{order_id}/{action:str}", admin_settle, methods=["POST"]),
        Route("/admin/notifications", admin_notifications, methods=["GET"]),
        Route("/admin/faults", admin_faults, methods=["GET", "PUT"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
