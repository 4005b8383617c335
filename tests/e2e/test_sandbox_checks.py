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
        (create_form(pay_memberid="99999"), "商户不存在"),
        (create_form(pay_md5sign="0" * 32), "签名验证失败"),
        ({**create_form(), "pay_md5sign": create_form()["pay_md5sign"].lower()}, "签名验证失败"),
        (create_form(pay_orderid="X" * 51), "50"),
        (create_form(pay_orderid="a/b"), "订单号"),
        (create_form(pay_orderid="a b"), "订单号"),
        (create_form(pay_amount="-1"), "金额"),
        (create_form(pay_amount="abc"), "金额"),
        (create_form(pay_amount="1_0"), "金额"),
        (create_form(pay_amount=" 5 "), "金额"),
        (create_form(pay_amount="\uff11\uff12"), "金额"),
        (create_form(pay_amount="1E+100000000"), "金额"),
        (create_form(pay_amount="NaN"), "金额"),
        (create_form(pay_amount="0.00"), "金额"),
        (create_form(pay_amount="1.00001"), "金额"),
        (create_form(pay_bankcode="999"), "通道"),
        (create_form(pay_notifyurl="http://127.0.0.1:9/notify?a=1&b=2"), "签名验证失败"),
    ],
)
def test_refusals_have_the_real_shape(sandbox, form, message):
    answer = post(sandbox, form)
    assert answer["status"] == "error"
    assert message in str(answer["msg"])
    assert answer["data"] == []
    assert sandbox.orders() == []  # nothing stored


def test_the_reference_software_needs_no_product_name_and_takes_50_character_ids(sandbox):
    form = create_form(pay_orderid="X" * 50)
    del form["pay_productname"]
    assert post(sandbox, form)["status"] == "1"
    assert [order.order_id for order in sandbox.orders()] == ["X" * 50]


@pytest.mark.parametrize(
    ("form", "message"),
    [(create_form(pay_productname=""), "pay_productname"), (create_form(pay_orderid="X" * 21), "20")],
)
def test_strict_mode_follows_the_document(make_sandbox, form, message):
    answer = post(make_sandbox(strict=True), form)
    assert answer["status"] == "error"
    assert message in str(answer["msg"])


def test_a_bad_query_signature_answers_as_the_software_does(sandbox):
    query = {"pay_memberid": "10002", "pay_orderid": "SPEC0000000000000001", "pay_md5sign": "0" * 32}
    answer = httpx.post(f"{sandbox.url}/Pay_Trade_query.html", data=query).json()
    assert answer["msg"] == "验签失败!"


@pytest.mark.parametrize("slow_seconds", ["NaN", "Infinity", "-1", "1e9", '"5"', "true", "9" * 400])
def test_bad_slow_seconds_are_refused_and_change_nothing(sandbox, slow_seconds):
    body = '{"faults": ["slow"], "slow_seconds": ' + slow_seconds + "}"
    response = httpx.put(f"{sandbox.url}/admin/faults", content=body)
    assert response.status_code == 400
    assert "slow_seconds" in response.json()["error"]
    after = httpx.get(f"{sandbox.url}/admin/faults")
    assert after.status_code == 200
    assert after.json() == {"faults": [], "slow_seconds": 15.0}


def test_a_large_amount_is_not_a_large_body(sandbox):
    # 1E+100000000 once stored a 100 MB notification body; now it is refused at create.
    assert post(sandbox, create_form(pay_amount="1E+100000000"))["status"] == "error"
    assert sandbox.orders() == []


def test_duplicate_order_id_is_refused(sandbox):
    assert post(sandbox, create_form())["status"] == "1"
    assert post(sandbox, create_form())["msg"] == "订单号重复"


def test_a_client_with_the_wrong_key_gets_a_gateway_error(sandbox, paycore_order):
    from paycore import Gateway

    with Gateway("juhe", {**sandbox.account_settings(), "secret_key": "not-the-key"}) as gateway:
        with pytest.raises(GatewayError, match="签名验证失败"):
            gateway.create(paycore_order())


def test_paycore_refuses_what_the_gateway_would_mangle_before_sending(gateway, sandbox, paycore_order):
    with pytest.raises(InvalidRequest, match="pay_notifyurl"):
        gateway.create(paycore_order(notify_url="http://127.0.0.1:9/notify?a=1&b=2"))
    assert sandbox.orders() == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pay_notifyurl", "http://[::1", "通知地址"),
        ("pay_notifyurl", "ftp://127.0.0.1/n", "通知地址"),
        ("pay_callbackurl", "javascript:alert(document.domain)", "跳转地址"),
    ],
)
def test_urls_the_sandbox_cannot_use_are_refused_at_create(sandbox, field, value, message):
    answer = post(sandbox, create_form(**{field: value}))
    assert answer["status"] == "error"
    assert message in str(answer["msg"])
    assert sandbox.orders() == []


def test_inputs_are_stored_filtered_as_the_software_stores_them(sandbox):
    # strip_tags drops the tag before the sign is checked, and the filtered value is what is kept
    form = create_form(pay_notifyurl="http://127.0.0.1:9/notify")
    form["pay_notifyurl"] = "http://127.0.0.1:9/notify<script>"
    assert post(sandbox, form)["status"] == "1"
    assert sandbox.orders()[0].notify_url == "http://127.0.0.1:9/notify"


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"faults": {"slow": 1}}', b'{"faults": "slow"}'])
def test_admin_fault_bodies_that_are_not_a_list_are_400(sandbox, body):
    assert post(sandbox, create_form())["status"] == "1"
    for path in ("/admin/faults", "/admin/orders/SPEC0000000000000001/faults"):
        response = httpx.put(f"{sandbox.url}{path}", content=body)
        assert response.status_code == 400, path
