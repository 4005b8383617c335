"""Query under both gateways: flat and nested answers, signs, states, errors."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

import paycore
from paycore import GatewayError, InvalidRequest, MerchantMismatch, PaymentStatus, ProtocolError, SignatureError

KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
ORDER_ID = "E2026112618181812345"


def _answer_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "memberid": "10002",
        "orderid": ORDER_ID,
        "amount": "100.00",
        "time_end": "2026-11-26 18:20:00",
        "transaction_id": "20261126182000000001",
        "returncode": "00",
        "trade_state": "SUCCESS",
    }
    fields.update(overrides)
    return fields


def _serve(payload: object):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=json.dumps(payload), headers={"content-type": "text/html"})

    return handler


def _signed(helpers, **overrides: str) -> dict[str, str]:
    fields = _answer_fields(**overrides)
    return {**fields, "sign": helpers.sign(fields, KEY)}


def test_round_trip_with_the_peer(paycore_any_gateway, peer, paycore_order):
    gateway = paycore_any_gateway(peer)
    gateway.create(paycore_order())
    pending = gateway.query(ORDER_ID)
    assert pending.status is PaymentStatus.PENDING
    assert pending.paid_at is None
    assert pending.paid_amount is None
    peer.paid.add(ORDER_ID)
    paid = gateway.query(ORDER_ID)
    assert paid.status is PaymentStatus.PAID
    assert paid.paid_at == datetime(2026, 11, 26, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert paid.amount == Decimal("100.00")
    assert paid.currency == "CNY"  # the platform's amounts are yuan: the handler compares it with the order's
    assert paid.transaction_id == "T" + ORDER_ID


def test_request_is_signed_over_exactly_two_fields(paycore_any_gateway, peer, paycore_order, helpers):
    gateway = paycore_any_gateway(peer)
    gateway.create(paycore_order())
    gateway.query(ORDER_ID)
    request = peer.requests[-1]
    assert request.url.path == "/Pay_Trade_query.html"
    sent = dict(httpx.QueryParams(request.content.decode()))
    assert set(sent) == {"pay_memberid", "pay_orderid", "pay_md5sign"}
    assert sent["pay_md5sign"] == "EAA4FF2F7CC3A4EBEDE05613E0B3214B"
    assert sent["pay_md5sign"] == helpers.sign({"pay_memberid": "10002", "pay_orderid": ORDER_ID}, KEY)


def test_flat_signed_answer(paycore_any_gateway, helpers):
    payment = paycore_any_gateway(_serve(_signed(helpers))).query(ORDER_ID)
    assert payment.status is PaymentStatus.PAID
    assert payment.paid_amount == Decimal("100.00")
    assert payment.raw["sign"] == "BA8B8FFF81CC5A60110164B8C283F04A"


def test_answer_nested_under_data(paycore_any_gateway, helpers):
    payment = paycore_any_gateway(_serve({"status": "1", "msg": "ok", "data": _signed(helpers)})).query(ORDER_ID)
    assert payment.status is PaymentStatus.PAID


def test_unsigned_answer_over_https_is_read_by_default(paycore_any_gateway):
    assert paycore_any_gateway(_serve(_answer_fields())).query(ORDER_ID).status is PaymentStatus.PAID


def test_unsigned_answer_over_plain_http_is_unknown_with_a_reason(paycore_any_gateway):
    payment = paycore_any_gateway(_serve(_answer_fields()), base_url="http://pay.example.com").query(ORDER_ID)
    assert payment.status is PaymentStatus.UNKNOWN
    assert payment.paid_amount is None
    assert "plain http" in (payment.reason or "")
    assert "said paid" in (payment.reason or "")


def test_unsigned_answer_over_loopback_http_is_read(paycore_any_gateway):
    assert (
        paycore_any_gateway(_serve(_answer_fields()), base_url="http://127.0.0.1:8080").query(ORDER_ID).status
        is PaymentStatus.PAID
    )


def test_unsigned_answer_policy_unknown(paycore_any_gateway):
    payment = paycore_any_gateway(_serve(_answer_fields()), unsigned_query_answers="unknown").query(ORDER_ID)
    assert payment.status is PaymentStatus.UNKNOWN
    assert "unsigned" in (payment.reason or "")


def test_unsigned_answer_policy_refuse(paycore_any_gateway):
    with pytest.raises(SignatureError, match="unsigned"):
        paycore_any_gateway(_serve(_answer_fields()), unsigned_query_answers="refuse").query(ORDER_ID)


def test_signed_answer_over_plain_http_is_read(paycore_any_gateway, helpers):
    assert (
        paycore_any_gateway(_serve(_signed(helpers)), base_url="http://pay.example.com").query(ORDER_ID).status
        is PaymentStatus.PAID
    )


def test_plain_http_base_url_is_warned_about_once(settings, caplog):
    from paycore import Gateway

    base_url = "http://warn-once.example.com"
    with caplog.at_level("WARNING", logger="paycore.juhe"):
        for _ in range(3):
            Gateway("juhe", {**settings, "base_url": base_url}).close()
        Gateway("juhe", settings).close()  # https: nothing to say
    warnings = [record for record in caplog.records if "plain http" in record.getMessage()]
    assert len(warnings) == 1
    assert settings["secret_key"] not in caplog.text


def test_malformed_paid_time_is_protocol_error(paycore_any_gateway, helpers):
    with pytest.raises(ProtocolError, match="time_end"):
        paycore_any_gateway(_serve(_signed(helpers, time_end="yesterday"))).query(ORDER_ID)


def test_reference_time_format_in_answers(paycore_any_gateway, helpers):
    payment = paycore_any_gateway(_serve(_signed(helpers, time_end="20261126182000"))).query(ORDER_ID)
    assert payment.paid_at is not None
    assert payment.paid_at.isoformat() == "2026-11-26T18:20:00+08:00"


@pytest.mark.parametrize("field", list(_answer_fields()))
def test_tampering_with_any_field_is_refused(paycore_any_gateway, helpers, field):
    answer = _signed(helpers)
    answer[field] = answer[field] + "1"
    with pytest.raises(SignatureError):
        paycore_any_gateway(_serve(answer)).query(ORDER_ID)


def test_tampered_sign_is_refused(paycore_any_gateway, helpers):
    answer = _signed(helpers)
    answer["sign"] = answer["sign"][:-1] + ("0" if answer["sign"][-1] != "0" else "1")
    with pytest.raises(SignatureError):
        paycore_any_gateway(_serve(answer)).query(ORDER_ID)


def test_lower_case_sign_in_answer_is_accepted(paycore_any_gateway, helpers):
    answer = _signed(helpers)
    answer["sign"] = answer["sign"].lower()
    assert paycore_any_gateway(_serve(answer)).query(ORDER_ID).status is PaymentStatus.PAID


@pytest.mark.parametrize(
    ("trade_state", "status"),
    [("SUCCESS", PaymentStatus.PAID), ("NOTPAY", PaymentStatus.PENDING), ("REFUND", PaymentStatus.UNKNOWN)],
)
def test_status_comes_from_trade_state_not_returncode(paycore_any_gateway, helpers, trade_state, status):
    # returncode is 00 whether paid or not on the real software
    assert paycore_any_gateway(_serve(_signed(helpers, trade_state=trade_state))).query(ORDER_ID).status is status


def test_unpaid_time_end_means_no_paid_time(paycore_any_gateway, helpers):
    payment = paycore_any_gateway(_serve(_signed(helpers, time_end="1970-01-01 08:00:00"))).query(ORDER_ID)
    assert payment.status is PaymentStatus.PAID
    assert payment.paid_at is None


def test_true_amount_is_the_paid_amount(paycore_any_gateway, helpers):
    payment = paycore_any_gateway(_serve(_signed(helpers, true_amount="99.99"))).query(ORDER_ID)
    assert payment.amount == Decimal("100.00")
    assert payment.paid_amount == Decimal("99.99")


def test_numeric_json_amounts_stay_exact(paycore_any_gateway, helpers):
    fields = _answer_fields()
    sign = helpers.sign(fields, KEY)
    text = json.dumps({**fields, "sign": sign}).replace('"amount": "100.00"', '"amount": 100.00')
    assert '"amount": 100.00' in text

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=text)

    payment = paycore_any_gateway(handler).query(ORDER_ID)
    assert payment.amount == Decimal("100.00")
    assert str(payment.amount) == "100.00"


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "error", "msg": "不存在的交易订单.", "data": []},
        {"status": "error", "msg": "不存在的交易订单."},
        {"msg": "不存在的交易订单."},
    ],
)
def test_error_answers_are_gateway_errors(paycore_any_gateway, payload):
    with pytest.raises(GatewayError, match="不存在的交易订单") as excinfo:
        paycore_any_gateway(_serve(payload)).query(ORDER_ID)
    assert excinfo.value.gateway_message == "不存在的交易订单."


def test_answer_about_another_order_is_protocol_error(paycore_any_gateway, helpers):
    with pytest.raises(ProtocolError, match="OTHER"):
        paycore_any_gateway(_serve(_signed(helpers, orderid="OTHER"))).query(ORDER_ID)


def test_answer_for_another_merchant_is_refused(paycore_any_gateway, helpers):
    with pytest.raises(MerchantMismatch):
        paycore_any_gateway(_serve(_signed(helpers, memberid="99999"))).query(ORDER_ID)


@pytest.mark.parametrize(
    ("payload", "message"),
    [({"code": 1}, "unknown shape"), (_answer_fields(amount="abc"), "malformed amount")],
)
def test_odd_answers_are_protocol_errors(paycore_any_gateway, payload, message):
    with pytest.raises(ProtocolError, match=message):
        paycore_any_gateway(_serve(payload)).query(ORDER_ID)


def test_html_answer_is_protocol_error(paycore_any_gateway):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, html="<h1>Bad Gateway</h1>")

    with pytest.raises(ProtocolError, match=r"HTTP 502.*Bad Gateway"):
        paycore_any_gateway(handler).query(ORDER_ID)


def test_existing_order_ids_up_to_50_characters_are_queried(paycore_any_gateway, helpers):
    # The reference software stores varchar(50): an order made elsewhere may be that long.
    long_id = "Q" * 50
    payment = paycore_any_gateway(_serve(_signed(helpers, orderid=long_id))).query(long_id)
    assert payment.order_id == long_id


def test_order_id_longer_than_any_platform_stores_is_refused_before_sending(paycore_any_gateway, peer):
    with pytest.raises(InvalidRequest, match="50 characters"):
        paycore_any_gateway(peer).query("Q" * 51)
    assert peer.requests == []


@pytest.mark.parametrize(("field", "value"), [("true_amount", "0.00"), ("amount", "0.0000"), ("true_amount", "-1")])
def test_a_non_positive_amount_in_a_signed_answer_is_protocol_error(paycore_any_gateway, helpers, field, value):
    with pytest.raises(ProtocolError, match=field):
        paycore_any_gateway(_serve(_signed(helpers, **{field: value}))).query(ORDER_ID)


def test_no_such_order_is_order_not_found(paycore_any_gateway):
    answer = {"status": "error", "msg": "不存在的交易订单."}
    with pytest.raises(paycore.OrderNotFound, match="不存在的交易订单") as excinfo:
        paycore_any_gateway(lambda request: httpx.Response(200, json=answer)).query("E1")
    assert isinstance(excinfo.value, paycore.GatewayError)
    merchant_missing = {"status": "error", "msg": "商户不存在"}  # the merchant is unknown, not the order
    with pytest.raises(paycore.GatewayError) as other:
        paycore_any_gateway(lambda request: httpx.Response(200, json=merchant_missing)).query("E1")
    assert not isinstance(other.value, paycore.OrderNotFound)


def _refusing(message: str):
    return lambda request: httpx.Response(200, json={"status": "error", "msg": message})


@pytest.mark.parametrize(
    "message", ["不存在的交易订单.", "不存在的交易订单", "订单不存在", "订单不存在。", " 订单不存在 "]
)
def test_the_exact_no_such_order_refusal_over_https_is_order_not_found(paycore_any_gateway, message):
    with pytest.raises(paycore.OrderNotFound):
        paycore_any_gateway(_refusing(message)).query("E1")


@pytest.mark.parametrize(
    "message",
    [
        "上游通道订单不存在,请稍后重试",  # the upstream channel has not seen it yet: transient
        "订单不存在或已关闭",
        "查询失败:订单不存在",
        "不存在的交易订单.请稍后再试",
    ],
)
def test_a_refusal_that_merely_mentions_no_such_order_is_not_order_not_found(paycore_any_gateway, message):
    # Reconciliation reads OrderNotFound as "the create never arrived: create it again".
    with pytest.raises(GatewayError) as excinfo:
        paycore_any_gateway(_refusing(message)).query("E1")
    assert not isinstance(excinfo.value, paycore.OrderNotFound)
    assert excinfo.value.gateway_message == message


@pytest.mark.parametrize(
    "overrides",
    [
        {"unsigned_query_answers": "unknown"},
        {"unsigned_query_answers": "refuse"},
        {"base_url": "http://pay.example.com"},  # plain http: anyone on the path can write the answer
    ],
    ids=["unknown", "refuse", "plain http"],
)
def test_an_unsigned_no_such_order_follows_the_unsigned_answer_policy(paycore_any_gateway, overrides):
    with pytest.raises(GatewayError, match="unsigned") as excinfo:
        paycore_any_gateway(_refusing("不存在的交易订单."), **overrides).query("E1")
    assert not isinstance(excinfo.value, paycore.OrderNotFound)
    assert excinfo.value.gateway_message == "不存在的交易订单."


def test_queried_amounts_come_with_the_yuan_precision_of_the_order(paycore_any_gateway, helpers):
    answer = _signed(helpers, amount="9.9000", true_amount="9.8900")
    payment = paycore_any_gateway(_serve(answer)).query(ORDER_ID)
    assert (str(payment.amount), str(payment.paid_amount)) == ("9.90", "9.89")


@pytest.mark.parametrize("status", [404, 500, 502])
def test_a_no_such_order_on_an_http_error_is_not_order_not_found(paycore_any_gateway, status):
    answer = {"status": "error", "msg": "订单不存在"}
    with pytest.raises(GatewayError, match=f"HTTP {status}") as excinfo:
        paycore_any_gateway(lambda request: httpx.Response(status, json=answer)).query("E1")
    assert not isinstance(excinfo.value, paycore.OrderNotFound)
