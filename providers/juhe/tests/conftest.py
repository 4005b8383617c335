"""Fixtures for the juhe provider's tests, including an independent peer gateway.

Nothing here imports paycore_juhe's signing code: the peer signs and checks with
its own implementation of the protocol document's rule, so that a shared bug
cannot make both sides agree.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import hypothesis
import pytest

# Examples are not timed: a deadline fails a test on a busy machine, and tests here are never timed.
hypothesis.settings.register_profile("paycore", deadline=None)
hypothesis.settings.load_profile("paycore")

KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
MERCHANT = "10002"
BASE_URL = "https://pay.example.com"


def independent_sign(params: dict[str, str], key: str) -> str:
    """The document's rule, written out longhand: PHP-empty values skipped."""
    text = ""
    for name in sorted(params):
        value = params[name]
        if value == "" or value == "0":
            continue
        text += name + "=" + value + "&"
    text += "key=" + key
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def notification_body(fields: dict[str, str], key: str = KEY, *, attach: str | None = None) -> bytes:
    """A notification as the gateway builds it: concatenated in its order, unencoded."""
    order = ["memberid", "orderid", "transaction_id", "amount", "true_amount", "datetime", "returncode"]
    signed = {name: fields[name] for name in order if name in fields}
    parts = [f"{name}={signed[name]}" for name in order if name in signed]
    parts.append(f"sign={independent_sign(signed, key)}")
    if attach is not None:
        parts.append(f"attach={attach}")
    return "&".join(parts).encode("utf-8")


class PeerGateway:
    """A juhe gateway in miniature that checks signatures as the real one does."""

    def __init__(self, key: str = KEY, merchant: str = MERCHANT) -> None:
        self.key = key
        self.merchant = merchant
        self.orders: dict[str, dict[str, str]] = {}
        self.requests: list[httpx.Request] = []
        self.paid: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method != "POST":
            return httpx.Response(405, text="POST only")
        form = {name: values[0] for name, values in parse_qs(request.content.decode(), keep_blank_values=True).items()}
        if request.url.path == "/Pay_Index.html":
            return self._create(form)
        if request.url.path == "/Pay_Trade_query.html":
            return self._query(form)
        return httpx.Response(404)

    def _error(self, message: str) -> httpx.Response:
        return httpx.Response(200, json={"status": "error", "msg": message, "data": []})

    def _check(self, form: dict[str, str], signed_names: list[str]) -> str | None:
        signed = {name: form.get(name, "") for name in signed_names}
        if form.get("pay_md5sign") != independent_sign(signed, self.key):
            return "签名验证失败"
        if form.get("pay_memberid") != self.merchant:
            return "商户不存在"
        return None

    def _create(self, form: dict[str, str]) -> httpx.Response:
        names = [
            "pay_memberid",
            "pay_orderid",
            "pay_applydate",
            "pay_bankcode",
            "pay_notifyurl",
            "pay_callbackurl",
            "pay_amount",
        ]
        problem = self._check(form, names)
        if problem:
            return self._error(problem)
        if form["pay_orderid"] in self.orders:
            return self._error("订单号重复")
        self.orders[form["pay_orderid"]] = form
        return httpx.Response(
            200,
            json={
                "status": "1",
                "msg": "下单成功",
                "pay_amount": form["pay_amount"],
                "pay_orderid": form["pay_orderid"],
                "payUrl": f"{BASE_URL}/cashier.html?osn={form['pay_orderid']}",
            },
        )

    def _query(self, form: dict[str, str]) -> httpx.Response:
        problem = self._check(form, ["pay_memberid", "pay_orderid"])
        if problem:
            return self._error(problem)
        order = self.orders.get(form["pay_orderid"])
        if order is None:
            return self._error("不存在的交易订单.")
        paid = form["pay_orderid"] in self.paid
        answer = {
            "memberid": self.merchant,
            "orderid": order["pay_orderid"],
            "amount": order["pay_amount"],
            "time_end": "2026-11-26 18:00:00" if paid else "1970-01-01 08:00:00",
            "transaction_id": "T" + order["pay_orderid"],
            "returncode": "00",
            "trade_state": "SUCCESS" if paid else "NOTPAY",
        }
        answer["sign"] = independent_sign(answer, self.key)
        # Real platforms often send JSON as text/html.
        return httpx.Response(200, text=json.dumps(answer), headers={"content-type": "text/html; charset=utf-8"})


# The paycore plugin's fixtures, pointed at juhe: `paycore_order` makes the document's
# example order, `paycore_any_gateway` runs a juhe account (on the peer unless given
# another handler) through Gateway and AsyncGateway in turn.


@pytest.fixture
def settings() -> dict[str, Any]:
    return {"base_url": BASE_URL, "merchant_id": MERCHANT, "secret_key": KEY}


@pytest.fixture
def paycore_provider() -> str:
    return "juhe"


@pytest.fixture
def paycore_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return settings


@pytest.fixture
def peer() -> PeerGateway:
    return PeerGateway()


@pytest.fixture
def paycore_transport(peer: PeerGateway) -> httpx.MockTransport:
    return httpx.MockTransport(peer)


@pytest.fixture
def paycore_order_defaults() -> dict[str, Any]:
    return {
        "order_id": "E2026112618181812345",
        "amount": Decimal("100"),
        "channel": "alipay_qr",
        "subject": "Green tea",
        "notify_url": "http://www.yourdomain.com/demo/server.php",
        "return_url": "http://www.yourdomain.com/demo/page.php",
    }


@pytest.fixture
def helpers() -> Any:
    class Helpers:
        sign = staticmethod(independent_sign)
        notification_body = staticmethod(notification_body)

    return Helpers
