"""Every branch of the WeChat Pay provider under both gateways, against a mock platform signing with openssl."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import paycore
from paycore import PaymentStatus, RefundStatus


@pytest.fixture
def paycore_order_defaults():
    return {
        "amount": Decimal("9.90"),
        "channel": "wechat_qr",
        "subject": "会员 月卡",
        "notify_url": "https://shop.example/pay/notify/main",
        "return_url": "https://shop.example/pay/done?cart=7",
    }


def _body(request: httpx.Request) -> dict:
    return json.loads(request.content)


# -- create ----------------------------------------------------------------------------------------------------


def test_native_sends_a_signed_body_in_fen_and_reads_the_qr_code(paycore_any_gateway, mock_wechatpay, paycore_order):
    mock_wechatpay.answers["POST", "/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=x"})
    order = paycore_order(attach="cart 7")
    payment = paycore_any_gateway().create(order)
    assert payment.status is PaymentStatus.PENDING
    assert payment.next_action == paycore.QrCode(content="weixin://wxpay/bizpayurl?pr=x")
    (request,) = mock_wechatpay.requests  # the mock refuses (401) what openssl does not verify
    assert _body(request) == {
        "appid": "wxd678efh567hg6787",
        "mchid": "1900000109",
        "description": "会员 月卡",
        "out_trade_no": order.order_id,
        "notify_url": "https://shop.example/pay/notify/main",
        "amount": {"total": 990, "currency": "CNY"},
        "attach": "cart 7",
    }
    assert request.headers["content-type"] == "application/json"
    assert request.headers["wechatpay-serial"] == "PUB_KEY_ID_0114232019112100000000000000001234"


def test_h5_needs_the_buyers_ip_and_redirects_back_to_return_url(paycore_any_gateway, mock_wechatpay, paycore_order):
    with pytest.raises(paycore.InvalidRequest, match="client_ip"):
        paycore_any_gateway().create(paycore_order(channel="wechat_h5"))
    h5 = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016&package=1037687096"
    mock_wechatpay.answers["POST", "/v3/pay/transactions/h5"] = (200, {"h5_url": h5})
    payment = paycore_any_gateway().create(paycore_order(channel="wechat_h5", client_ip="203.0.113.7"))
    assert isinstance(payment.next_action, paycore.Redirect)
    url = urlsplit(payment.next_action.url)
    assert parse_qs(url.query)["redirect_url"] == ["https://shop.example/pay/done?cart=7"]
    assert parse_qs(url.query)["prepay_id"] == ["wx2016"]
    (request,) = mock_wechatpay.requests
    assert _body(request)["scene_info"] == {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}}


@pytest.mark.parametrize(
    ("channel", "sdk"), [("wechat_jsapi", "wechat_jsapi"), ("wechat_mini_program", "wechat_mini_program")]
)
def test_jsapi_hands_the_bridge_signed_parameters(
    paycore_any_gateway, mock_wechatpay, paycore_order, wx, keys, channel, sdk
):
    with pytest.raises(paycore.InvalidRequest, match="payer_id"):
        paycore_any_gateway().create(paycore_order(channel=channel))
    assert mock_wechatpay.requests == []  # refused before any I/O
    mock_wechatpay.answers["POST", "/v3/pay/transactions/jsapi"] = (
        200,
        {"prepay_id": "wx201410272009395522657a690389285100"},
    )
    payment = paycore_any_gateway().create(paycore_order(channel=channel, payer_id="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"))
    action = payment.next_action
    assert isinstance(action, paycore.SdkParameters)
    assert action.sdk == sdk
    parameters = action.parameters
    assert parameters["appId"] == wx.appid
    assert parameters["package"] == "prepay_id=wx201410272009395522657a690389285100"
    assert parameters["signType"] == "RSA"
    signed = wx.longhand(parameters["appId"], parameters["timeStamp"], parameters["nonceStr"], parameters["package"])
    assert keys.openssl_verify(signed, parameters["paySign"], keys.merchant_public)
    assert _body(mock_wechatpay.requests[0])["payer"] == {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}


def test_app_hands_the_sdk_signed_parameters(paycore_any_gateway, mock_wechatpay, paycore_order, wx, keys):
    mock_wechatpay.answers["POST", "/v3/pay/transactions/app"] = (200, {"prepay_id": "wx20261205"})
    action = paycore_any_gateway().create(paycore_order(channel="wechat_app")).next_action
    assert isinstance(action, paycore.SdkParameters)
    parameters = action.parameters
    assert (action.sdk, parameters["partnerid"], parameters["prepayid"], parameters["package"]) == (
        "wechat_app",
        wx.mchid,
        "wx20261205",
        "Sign=WXPay",
    )
    signed = wx.longhand(wx.appid, parameters["timestamp"], parameters["noncestr"], "wx20261205")
    assert keys.openssl_verify(signed, parameters["sign"], keys.merchant_public)


@pytest.mark.parametrize(
    "answer",
    [
        {"code_url": "weixin://x", "out_trade_no": "other"},  # another method's answer
        {"prepay_id": "wx1"},  # jsapi's answer to a native create
        {},
        {"code_url": 7},
    ],
)
def test_a_create_answer_is_its_one_field(paycore_any_gateway, mock_wechatpay, paycore_order, answer):
    mock_wechatpay.answers["POST", "/v3/pay/transactions/native"] = (200, answer)
    with pytest.raises(paycore.ProtocolError):
        paycore_any_gateway().create(paycore_order())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": Decimal("9.999")}, "2 decimal places"),
        ({"order_id": "A1"}, "6 to 32 letters"),
        ({"notify_url": "https://shop.example/notify?account=main"}, "no query string"),
        ({"notify_url": "http://shop.example/notify"}, "https"),
        ({"subject": "茶" * 128}, "at most 127"),
        ({"attach": "x" * 129}, "at most 128"),
        ({"channel": "alipay_qr"}, "alipay_qr"),
    ],
)
def test_orders_it_cannot_send_are_refused_before_any_io(
    paycore_any_gateway, mock_wechatpay, paycore_order, fields, message
):
    with pytest.raises(paycore.InvalidRequest, match=message):
        paycore_any_gateway().create(paycore_order(**fields))
    assert mock_wechatpay.requests == []


def test_an_expiry_is_sent_in_beijing_time(paycore_any_gateway, mock_wechatpay, paycore_order):
    mock_wechatpay.answers["POST", "/v3/pay/transactions/native"] = (200, {"code_url": "weixin://x"})
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    paycore_any_gateway().create(paycore_order(expires_at=expires))
    sent = datetime.fromisoformat(_body(mock_wechatpay.requests[0])["time_expire"])
    assert sent == expires
    assert sent.utcoffset() == timedelta(hours=8)


# -- query and close ------------------------------------------------------------------------------------------

_QUERY = "/v3/pay/transactions/out-trade-no/WX20261205001"


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("SUCCESS", PaymentStatus.PAID),
        ("NOTPAY", PaymentStatus.PENDING),
        ("USERPAYING", PaymentStatus.PENDING),
        ("CLOSED", PaymentStatus.CLOSED),
        ("REVOKED", PaymentStatus.CLOSED),
        ("PAYERROR", PaymentStatus.FAILED),
        ("REFUND", PaymentStatus.REFUNDED),
    ],
)
def test_query_maps_every_trade_state(paycore_any_gateway, mock_wechatpay, wx, state, status):
    answer = wx.transaction(trade_state=state)
    if state not in ("SUCCESS", "REFUND"):
        del answer["success_time"], answer["transaction_id"]
        answer["amount"] = {"total": 990, "currency": "CNY"}
    mock_wechatpay.answers["GET", _QUERY] = (200, answer)
    payment = paycore_any_gateway().query("WX20261205001")
    assert payment.status is status
    assert payment.amount == Decimal("9.90")
    settled = state in ("SUCCESS", "REFUND")
    assert payment.paid_amount == (Decimal("9.90") if settled else None)
    assert (payment.paid_at is not None) is settled
    (request,) = mock_wechatpay.requests
    assert request.url.raw_path == b"/v3/pay/transactions/out-trade-no/WX20261205001?mchid=1900000109"


def test_query_reads_payer_total(paycore_any_gateway, mock_wechatpay, wx):
    answer = wx.transaction(amount={"total": 990, "payer_total": 900, "currency": "CNY"})
    mock_wechatpay.answers["GET", _QUERY] = (200, answer)
    payment = paycore_any_gateway().query("WX20261205001")
    assert (payment.amount, payment.paid_amount) == (Decimal("9.90"), Decimal("9.00"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"out_trade_no": "WX20261205002"}, "another out_trade_no"),
        ({"mchid": "1900000110"}, "another mchid"),
        ({"appid": "wx0000000000000000"}, "another appid"),
        ({"trade_state": "LOST"}, "unknown trade_state"),
        ({"amount": {"total": 990, "currency": "USD"}}, "not CNY"),
        ({"amount": {"total": 9.9}}, "total"),
        ({"success_time": "yesterday"}, "success_time"),
    ],
)
def test_a_query_answer_about_anything_else_is_refused(paycore_any_gateway, mock_wechatpay, wx, change, message):
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction(**change))
    with pytest.raises(paycore.ProtocolError, match=message):
        paycore_any_gateway().query("WX20261205001")


def test_order_not_exist_is_order_not_found_only_when_signed_on_a_query(paycore_any_gateway, mock_wechatpay):
    missing = (404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
    mock_wechatpay.answers["GET", _QUERY] = missing
    with pytest.raises(paycore.OrderNotFound):
        paycore_any_gateway().query("WX20261205001")
    mock_wechatpay.answers["POST", _QUERY + "/close"] = missing
    with pytest.raises(paycore.GatewayError) as closing:
        paycore_any_gateway().close_payment("WX20261205001")
    assert not isinstance(closing.value, paycore.OrderNotFound)
    # Unsigned, "no such order" is anyone's word: never an OrderNotFound that would close the order.
    mock_wechatpay.signing = None
    with pytest.raises(paycore.GatewayError) as unsigned:
        paycore_any_gateway().query("WX20261205001")
    assert not isinstance(unsigned.value, paycore.OrderNotFound)
    assert unsigned.value.gateway_code == "ORDER_NOT_EXIST"


@pytest.mark.parametrize(
    ("status", "code"), [(400, "PARAM_ERROR"), (401, "SIGN_ERROR"), (429, "FREQUENCY_LIMITED"), (500, "SYSTEM_ERROR")]
)
def test_refusals_are_gateway_errors_with_their_code(paycore_any_gateway, mock_wechatpay, status, code):
    mock_wechatpay.answers["GET", _QUERY] = (status, {"code": code, "message": "出错了"})
    with pytest.raises(paycore.GatewayError, match="出错了") as refused:
        paycore_any_gateway().query("WX20261205001")
    assert refused.value.gateway_code == code


def test_a_request_the_platform_cannot_verify_is_answered_sign_error(paycore_any_gateway, mock_wechatpay, keys):
    # The mock checks with openssl against the merchant's public key: another key is refused.
    with pytest.raises(paycore.GatewayError) as refused:
        paycore_any_gateway(private_key=str(keys.stranger_private)).query("WX20261205001")
    assert refused.value.gateway_code == "SIGN_ERROR"


def test_close_answers_204_and_closes(paycore_any_gateway, mock_wechatpay):
    mock_wechatpay.answers["POST", _QUERY + "/close"] = (204, None)
    payment = paycore_any_gateway().close_payment("WX20261205001")
    assert payment.status is PaymentStatus.CLOSED
    (request,) = mock_wechatpay.requests
    assert _body(request) == {"mchid": "1900000109"}
    mock_wechatpay.answers["POST", _QUERY + "/close"] = (200, {"code_url": "weixin://x"})
    with pytest.raises(paycore.ProtocolError, match="204"):
        paycore_any_gateway().close_payment("WX20261205001")


def test_a_redirect_answer_is_a_protocol_error(paycore_any_gateway, mock_wechatpay):
    mock_wechatpay.answers["GET", _QUERY] = (302, None)
    with pytest.raises(paycore.ProtocolError, match="HTTP 302"):
        paycore_any_gateway().query("WX20261205001")


# -- answers: signed, fresh, by a known key, never replayed ---------------------------------------------------


def test_an_unsigned_answer_is_refused(paycore_any_gateway, mock_wechatpay, wx):
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction())
    mock_wechatpay.signing = None
    with pytest.raises(paycore.SignatureError, match="lacks"):
        paycore_any_gateway().query("WX20261205001")


@pytest.mark.parametrize(
    ("signing", "message"),
    [
        ({"timestamp": 1_700_000_000}, "5 minutes off"),
        ({"serial": "PUB_KEY_ID_0199999999999999"}, "does not know"),
        ({"key": "stranger"}, "not signed by the platform key"),
    ],
)
def test_a_stale_unknown_or_forged_answer_is_refused(paycore_any_gateway, mock_wechatpay, wx, keys, signing, message):
    if signing.get("key") == "stranger":
        signing = {"key": keys.stranger_private}
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction())
    mock_wechatpay.signing = signing
    with pytest.raises(paycore.SignatureError, match=message):
        paycore_any_gateway().query("WX20261205001")


def test_an_answer_replayed_to_another_request_is_refused(paycore_any_gateway, mock_wechatpay, wx):
    # A genuine signed answer captured once (a paid query) and replayed by a man in the middle to a later
    # request: its nonce was seen, so it is refused, whatever method or order it is replayed to.
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction())
    mock_wechatpay.replay_first_answer()
    gateway = paycore_any_gateway()
    assert gateway.query("WX20261205001").status is PaymentStatus.PAID
    with pytest.raises(paycore.SignatureError, match="replays"):
        gateway.query("WX20261205001")
    with pytest.raises(paycore.PaycoreError):
        gateway.close_payment("WX20261205001")


def test_a_tampered_answer_body_is_refused(paycore_any_gateway, mock_wechatpay, wx):
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction(trade_state="NOTPAY"))

    def tamper(response: httpx.Response) -> httpx.Response:
        content = response.content.replace(b"NOTPAY", b"SUCCESS")
        return httpx.Response(response.status_code, content=content, headers=response.headers)

    mock_wechatpay.after = tamper
    with pytest.raises(paycore.SignatureError):
        paycore_any_gateway().query("WX20261205001")


# -- refunds --------------------------------------------------------------------------------------------------


def _refund_answer(status="SUCCESS", **changes):
    answer = {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": "R20261205001",
        "transaction_id": "4200000985202612050000000001",
        "out_trade_no": "WX20261205001",
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "success_time": "2026-12-05T11:00:00+08:00",
        "create_time": "2026-12-05T10:59:00+08:00",
        "status": status,
        "amount": {"total": 990, "refund": 500, "payer_total": 990, "payer_refund": 500, "currency": "CNY"},
    }
    answer.update(changes)
    return answer


def test_a_refund_names_the_orders_total_in_fen(paycore_any_gateway, mock_wechatpay):
    mock_wechatpay.answers["POST", "/v3/refund/domestic/refunds"] = (200, _refund_answer("PROCESSING"))
    refund = paycore_any_gateway().refund(
        "WX20261205001", refund_id="R20261205001", amount=Decimal("5.00"), reason="退货", order_amount=Decimal("9.90")
    )
    assert (refund.status, refund.amount, refund.refund_id) == (RefundStatus.PENDING, Decimal("5.00"), "R20261205001")
    (request,) = mock_wechatpay.requests
    assert _body(request) == {
        "out_trade_no": "WX20261205001",
        "out_refund_no": "R20261205001",
        "amount": {"refund": 500, "total": 990, "currency": "CNY"},
        "reason": "退货",
    }


def test_a_refund_without_the_orders_total_is_refused_before_any_io(paycore_any_gateway, mock_wechatpay):
    with pytest.raises(paycore.InvalidRequest, match="order_amount"):
        paycore_any_gateway().refund("WX20261205001", refund_id="R20261205001", amount=Decimal("5.00"))
    with pytest.raises(paycore.InvalidRequest, match="whole fen"):
        paycore_any_gateway().refund(
            "WX20261205001", refund_id="R20261205001", amount=Decimal("5.001"), order_amount=Decimal("9.90")
        )
    with pytest.raises(paycore.InvalidRequest, match="80 characters"):
        paycore_any_gateway().refund(
            "WX20261205001", refund_id="R1", amount=Decimal("5"), reason="x" * 81, order_amount=Decimal("9.90")
        )
    assert mock_wechatpay.requests == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_refund_answer(out_refund_no="R20261205002"), "another refund or order"),
        (_refund_answer(out_trade_no="WX20261205002"), "another refund or order"),
        (_refund_answer("LOST"), "unknown refund status"),
        (_refund_answer(amount={"total": 990, "refund": 990, "currency": "CNY"}), "not 5.00"),
    ],
)
def test_a_refund_answer_about_anything_else_is_refused(paycore_any_gateway, mock_wechatpay, answer, message):
    mock_wechatpay.answers["POST", "/v3/refund/domestic/refunds"] = (200, answer)
    with pytest.raises(paycore.ProtocolError, match=message):
        paycore_any_gateway().refund(
            "WX20261205001", refund_id="R20261205001", amount=Decimal("5.00"), order_amount=Decimal("9.90")
        )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", RefundStatus.SUCCEEDED),
        ("PROCESSING", RefundStatus.PENDING),
        ("CLOSED", RefundStatus.FAILED),
        ("ABNORMAL", RefundStatus.FAILED),
    ],
)
def test_query_refund_maps_every_status(paycore_any_gateway, mock_wechatpay, status, expected):
    mock_wechatpay.answers["GET", "/v3/refund/domestic/refunds/R20261205001"] = (200, _refund_answer(status))
    refund = paycore_any_gateway().query_refund("WX20261205001", "R20261205001")
    assert refund.status is expected
    assert refund.amount == Decimal("5.00")


def test_a_signed_refusal_replayed_to_other_queries_is_refused(paycore_any_gateway, mock_wechatpay):
    # One genuine signed ORDER_NOT_EXIST names no order: replayed, it would say "no such order" of every
    # order (a paid one included) for five minutes. Its nonce is spent like an answer's.
    mock_wechatpay.answers["GET", _QUERY] = (404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
    mock_wechatpay.replay_first_answer()
    gateway = paycore_any_gateway()
    with pytest.raises(paycore.OrderNotFound):
        gateway.query("WX20261205001")
    with pytest.raises(paycore.SignatureError, match="replays"):
        gateway.query("WX20261205009")


@pytest.mark.parametrize(
    "order_id", ["MYORDER1/../VICTIM02", "AAAAAA/../../../../certificates?", "ORDER%2F01", "ORDER.0001", "A1"]
)
def test_ids_that_would_change_the_signed_path_are_refused_before_any_io(paycore_any_gateway, mock_wechatpay, order_id):
    gateway = paycore_any_gateway()
    with pytest.raises(paycore.InvalidRequest, match="out_trade_no"):
        gateway.query(order_id)
    with pytest.raises(paycore.InvalidRequest, match="out_trade_no"):
        gateway.close_payment(order_id)
    with pytest.raises(paycore.InvalidRequest, match="out_trade_no"):
        gateway.refund(order_id, refund_id="R1", amount=Decimal("1"), order_amount=Decimal("1"))
    with pytest.raises(paycore.InvalidRequest, match="refund_id"):
        gateway.query_refund("WX20261205001", "R1/../../../certificates")
    assert mock_wechatpay.requests == []
