"""The sandbox refuses what the real gateway refuses, with the real answer shapes."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import httpx
import pytest

from paycore import GatewayError, InvalidRequest
from paycore.sandbox import PUBLIC_SANDBOX_KEY

SIGNED = [
    "pay_amount",
    "pay_applydate",
    "pay_bankcode",
    "pay_callbackurl",
    "pay_memberid",
    "pay_notifyurl",
    "pay_orderid",
]


def spec_sign(fields: dict[str, str], key: str = PUBLIC_SANDBOX_KEY) -> str:
    text = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if fields[k] not in ("", "0")) + f"&key={key}"
    return hashlib.md5(text.encode()).hexdigest().upper()


def create_form(**overrides: str) -> dict[str, str]:
    fields = {
        "pay_memberid": "10002",
        "pay_orderid": "SPEC0000000000000001",
        "pay_applydate": "2026-11-26 18:18:18",
        "pay_bankcode": "903",
        "pay_notifyurl": "http://127.0.0.1:9/notify",
        "pay_callbackurl": "http://127.0.0.1:9/return",
        "pay_amount": "1.00",
    }
    fields.update({k: v for k, v in overrides.items() if k in SIGNED})
    form = {**fields, "pay_md5sign": spec_sign(fields), "pay_productname": "tea", "type": "json"}
    form.update({k: v for k, v in overrides.items() if k not in SIGNED})
    return form


def post(sandbox, form: dict[str, str]) -> dict[str, object]:
    response = httpx.post(
        f"{sandbox.url}/Pay_Index.html",
        content=urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    return response.json()


def test_a_correct_request_is_accepted(sandbox):
    answer = post(sandbox, create_form())
    assert answer["status"] == "1"
    assert answer["payUrl"] == f"{sandbox.url}/cashier/SPEC0000000000000001"


def test_get_is_refused(sandbox):
    assert httpx.get(f"{sandbox.url}/Pay_Index.html").json()["status"] == "error"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (create_form(pay_productname=""), "pay_productname"),
        (create_form(pay_memberid="99999"), "商户不存在"),
        (create_form(pay_md5sign="0" * 32), "签名验证失败"),
        ({**create_form(), "pay_md5sign": create_form()["pay_md5sign"].lower()}, "签名验证失败"),
        (create_form(pay_orderid="X" * 21), "20"),
        (create_form(pay_amount="-1"), "金额"),
        (create_form(pay_amount="abc"), "金额"),
        (create_form(pay_bankcode="999"), "通道"),
        (create_form(pay_notifyurl="http://127.0.0.1:9/notify?a=1&b=2"), "签名验证失败"),
    ],
)
def test_refusals_have_the_real_shape(sandbox, form, message):
    answer = post(sandbox, form)
    assert answer["status"] == "error"
    assert message in str(answer["msg"])
    assert answer["data"] == []


def test_duplicate_order_id_is_refused(sandbox):
    assert post(sandbox, create_form())["status"] == "1"
    assert post(sandbox, create_form())["msg"] == "订单号重复"


def test_a_client_with_the_wrong_key_gets_a_gateway_error(sandbox, make_order):
    from paycore import Gateway

    with Gateway("juhe", {**sandbox.account_settings(), "secret_key": "not-the-key"}) as gateway:
        with pytest.raises(GatewayError, match="签名验证失败"):
            gateway.create(make_order())


def test_paycore_refuses_what_the_gateway_would_mangle_before_sending(gateway, sandbox, make_order):
    with pytest.raises(InvalidRequest, match="pay_notifyurl"):
        gateway.create(make_order(notify_url="http://127.0.0.1:9/notify?a=1&b=2"))
    assert sandbox.orders() == []
