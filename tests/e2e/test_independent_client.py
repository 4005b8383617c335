"""A client that knows only the protocol document: create, pay, be notified, query.

No paycore code on the client side: httpx, hashlib and the document's rules.
"""

from __future__ import annotations

import hashlib
import json
import queue
import re
from urllib.parse import parse_qsl

import httpx
from paycore_juhe.sandbox import JuheSandbox, SandboxConfig

from paycore.testing import LoopbackServer

MERCHANT = "20001"
KEY = "independent-client-key"


def md5_sign(fields: dict[str, str]) -> str:
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if v not in ("", "0"))
    return hashlib.md5(f"{text}&key={KEY}".encode()).hexdigest().upper()


def test_independent_client_round_trip():
    notifications: queue.Queue[str] = queue.Queue()

    def merchant(request: httpx.Request) -> httpx.Response:
        notifications.put(request.content.decode())
        return httpx.Response(200, text="OK")

    with (
        JuheSandbox(SandboxConfig(merchant_id=MERCHANT, secret_key=KEY, profile="fast")) as sandbox,
        LoopbackServer(merchant) as shop,
        httpx.Client(base_url=sandbox.url) as http,
    ):
        signed = {
            "pay_memberid": MERCHANT,
            "pay_orderid": "IND20261126000000001",
            "pay_applydate": "2026-11-26 18:18:18",
            "pay_bankcode": "902",
            "pay_notifyurl": f"{shop.url}/notify",
            "pay_callbackurl": f"{shop.url}/return",
            "pay_amount": "12.30",
        }
        created = http.post(
            "/Pay_Index.html",
            data={**signed, "pay_md5sign": md5_sign(signed), "pay_productname": "tea", "type": "json"},
        ).json()
        assert created["status"] == "1", created
        assert created["pay_orderid"] == "IND20261126000000001"

        # the buyer opens the cashier and clicks Pay (the form on the page)
        page = http.get(created["payUrl"]).text
        pay_action = re.search(r'<form method="post" action="([^"]+/pay)"', page).group(1)
        result = http.post(pay_action)
        assert result.status_code == 200
        assert "Payment complete" in result.text

        body = notifications.get(timeout=10)
        parts = body.split("&")
        assert [part.split("=")[0] for part in parts] == [
            "memberid",
            "orderid",
            "transaction_id",
            "amount",
            "datetime",
            "returncode",
            "sign",
            "attach",  # the reference software appends it, empty or not
        ]
        fields = dict(part.split("=", 1) for part in parts)
        assert fields["attach"] == ""
        assert fields["amount"] == "12.3000"
        assert fields["returncode"] == "00"
        assert re.fullmatch(r"[0-9]{14}", fields["datetime"])  # date("YmdHis")
        assert fields["sign"] == md5_sign({k: v for k, v in fields.items() if k not in ("sign", "attach")})

        query = {"pay_memberid": MERCHANT, "pay_orderid": "IND20261126000000001"}
        answer = json.loads(http.post("/Pay_Trade_query.html", data={**query, "pay_md5sign": md5_sign(query)}).text)
        assert answer["trade_state"] == "SUCCESS"
        assert answer["amount"] == "12.3000"  # DECIMAL(15,4), as the software stores it
        assert answer["transaction_id"] == fields["transaction_id"]
        assert answer["sign"] == md5_sign({k: v for k, v in answer.items() if k != "sign"})
        assert dict(parse_qsl(body))["orderid"] == "IND20261126000000001"
