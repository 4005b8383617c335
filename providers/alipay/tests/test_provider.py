"""Every branch of the Alipay provider under Gateway and AsyncGateway, against a mock Alipay signing with openssl."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from paycore_alipay._signing import sign, sign_content, verify

import paycore
from paycore import CreateFlow, PaymentStatus, RefundStatus

APP_ID = "2021000000000001"


def longhand(fields: dict[str, str], unsigned: tuple[str, ...] = ("sign",)) -> str:
    return "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name not in unsigned and fields[name])


@pytest.fixture
def order(paycore_order):
    def make(**fields):
        return paycore_order(**{"amount": Decimal("88.80"), "attach": "cart 7/会员", **fields})

    return make


# -- signing, cross-checked with the openssl command line -------------------------------------------------------


def test_our_signature_verifies_with_openssl_and_openssls_with_ours(keys):
    fields = {"app_id": APP_ID, "method": "alipay.trade.query", "biz_content": '{"out_trade_no":"A1"}', "sign": "x"}
    text = sign_content(fields)
    assert text == longhand(fields)
    private = serialization.load_pem_private_key(keys.merchant_private.read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert keys.openssl_verify(text.encode(), sign(text, private), keys.merchant_public)
    public = serialization.load_pem_public_key(keys.alipay_public.read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    assert verify(text, keys.openssl_sign(text.encode(), keys.alipay_private), public)
    assert not verify(text + "x", keys.openssl_sign(text.encode(), keys.alipay_private), public)
    assert not verify(text, "not base64!", public)


@hypothesis_settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text("abcdefghij_", min_size=1, max_size=8), st.text(max_size=12), max_size=6))
def test_any_content_verifies_across_implementations(keys, fields):
    text = sign_content(fields)
    public = serialization.load_pem_public_key(keys.alipay_public.read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    assert verify(
        text.encode("utf-8", "surrogatepass"),
        keys.openssl_sign(text.encode("utf-8", "surrogatepass"), keys.alipay_private),
        public,
    )


# -- create --------------------------------------------------------------------------------------------------


def test_precreate_sends_signed_common_parameters_and_reads_the_qr_code(paycore_any_gateway, mock_alipay, order):
    placed = order()
    mock_alipay.answers["alipay.trade.precreate"] = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": placed.order_id,
        "qr_code": "https://qr.alipay.com/bax08431",
    }
    payment = paycore_any_gateway().create(placed)
    assert payment.next_action == paycore.QrCode(content="https://qr.alipay.com/bax08431")
    sent = mock_alipay.requests[-1]
    assert {name: sent[name] for name in ("app_id", "method", "format", "charset", "sign_type", "version")} == {
        "app_id": APP_ID,
        "method": "alipay.trade.precreate",
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "version": "1.0",
    }
    assert len(sent["timestamp"]) == 19
    assert sent["notify_url"] == placed.notify_url
    assert json.loads(sent["biz_content"]) == {
        "out_trade_no": placed.order_id,
        "total_amount": "88.80",
        "subject": "Green tea",
        "passback_params": quote("cart 7/会员", safe=""),
    }


@pytest.mark.parametrize(
    ("channel", "method", "product"),
    [
        ("alipay_page", "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
        ("alipay_wap", "alipay.trade.wap.pay", "QUICK_WAP_WAY"),
    ],
)
def test_browser_payments_are_signed_links_or_forms_without_a_request(
    paycore_any_gateway, mock_alipay, keys, order, channel, method, product
):
    placed = order(channel=channel)
    link = paycore_any_gateway().create(placed).next_action
    assert isinstance(link, paycore.Redirect)
    parts = urlsplit(str(link.url))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://openapi.alipay.com/gateway.do"
    params = dict(parse_qsl(parts.query))
    assert params["method"] == method
    assert json.loads(params["biz_content"])["product_code"] == product
    assert keys.openssl_verify(longhand(params).encode(), params["sign"], keys.merchant_public)
    form = paycore_any_gateway().create(order(channel=channel), flow=CreateFlow.FORM).next_action
    assert isinstance(form, paycore.PaymentForm)
    assert keys.openssl_verify(longhand(form.fields).encode(), form.fields["sign"], keys.merchant_public)
    assert mock_alipay.requests == []


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"subject": "tea & cake"}, "no '/', '=' or '&'"),
        ({"subject": "a/b"}, "no '/', '=' or '&'"),
        ({"description": "x=y"}, "no '/', '=' or '&'"),
        ({"attach": "会" * 100}, "512"),
        ({"currency": "USD"}, "CNY"),
        ({"channel": "wechat_qr"}, "wechat_qr"),
        ({"amount": Decimal("100000000.01")}, "at most"),
    ],
)
def test_orders_alipay_would_refuse_are_refused_before_sending(paycore_any_gateway, mock_alipay, order, fields, text):
    with pytest.raises(paycore.InvalidRequest, match=text):
        paycore_any_gateway().create(order(**fields))
    assert mock_alipay.requests == []


# -- answers: the envelope's signature over the exact text ------------------------------------------------------


def test_a_tampered_envelope_text_is_refused(paycore_any_gateway, mock_alipay, order):
    placed = order()
    mock_alipay.answers["alipay.trade.precreate"] = {
        "code": "10000",
        "msg": "Success",
        "qr_code": "https://qr.alipay.com/a",
    }
    mock_alipay.envelope = lambda name, text, sign: f'{{"{name}": {text.replace("/a", "/b")}, "sign": "{sign}"}}'
    with pytest.raises(paycore.SignatureError, match="not signed by the configured alipay_public_key"):
        paycore_any_gateway().create(placed)


def test_an_envelope_signed_with_another_key_is_refused(paycore_any_gateway, mock_alipay, keys, order):
    mock_alipay.sign_with = keys.merchant_private  # not Alipay's key
    with pytest.raises(paycore.SignatureError):
        paycore_any_gateway().create(order())


def test_an_unsigned_success_is_refused_and_an_unsigned_refusal_is_a_refusal(paycore_any_gateway, mock_alipay, order):
    mock_alipay.envelope = lambda name, text, sign: f'{{"{name}": {text}}}'
    mock_alipay.answers["alipay.trade.precreate"] = {
        "code": "10000",
        "msg": "Success",
        "qr_code": "https://qr.alipay.com/a",
    }
    with pytest.raises(paycore.SignatureError, match="without a signature"):
        paycore_any_gateway().create(order())
    mock_alipay.answers["alipay.trade.precreate"] = {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.invalid-app-id",
        "sub_msg": "无效的AppID参数",
    }
    with pytest.raises(paycore.GatewayError) as caught:
        paycore_any_gateway().create(order())
    assert caught.value.gateway_code == "isv.invalid-app-id"


@pytest.mark.parametrize(
    "body",
    [
        "<html>502</html>",
        '{"other_response": {"code": "10000"}, "sign": "x"}',
        '{"alipay_trade_query_response": {"code": "10000"}, '
        '"alipay_trade_query_response": {"code": "10000"}, "sign": "x"}',
        '{"alipay_trade_query_response": {"code": "10000"}, "sign": 5}',
        '{"alipay_trade_query_response": [], "sign": "x"}',
        '{"alipay_trade_query_response": {"code": "10000"}} trailing',
        "\ufeff",
    ],
)
def test_answers_that_are_no_envelope_are_protocol_errors(paycore_any_gateway, mock_alipay, body):
    mock_alipay.envelope = lambda name, text, sign: body
    with pytest.raises(paycore.ProtocolError):
        paycore_any_gateway().query("A1")


# -- query, close, refunds ------------------------------------------------------------------------------------


def test_query_of_a_paid_trade(paycore_any_gateway, mock_alipay):
    mock_alipay.answers["alipay.trade.query"] = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "A1",
        "trade_no": "2026112822001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.80",
        "receipt_amount": "88.00",
        "send_pay_date": "2026-11-28 12:00:01",
    }
    payment = paycore_any_gateway().query("A1")
    assert (payment.status, payment.amount, payment.paid_amount) == (
        PaymentStatus.PAID,
        Decimal("88.80"),
        Decimal("88.00"),
    )
    assert payment.paid_at is not None
    assert payment.paid_at.isoformat() == "2026-11-28T12:00:01+08:00"
    assert json.loads(mock_alipay.requests[-1]["biz_content"]) == {"out_trade_no": "A1"}


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        (
            {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"},
            paycore.OrderNotFound,
            "交易不存在",
        ),
        (
            {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"},
            paycore.GatewayError,
            "Service",
        ),
        (
            {"code": "10000", "out_trade_no": "B2", "trade_status": "TRADE_SUCCESS", "total_amount": "1.00"},
            paycore.ProtocolError,
            "another order",
        ),
        (
            {"code": "10000", "out_trade_no": "A1", "trade_status": "PAID?", "total_amount": "1.00"},
            paycore.ProtocolError,
            "unknown trade_status",
        ),
        (
            {"code": "10000", "out_trade_no": "A1", "trade_status": "TRADE_SUCCESS", "total_amount": "1.001"},
            paycore.ProtocolError,
            "2 decimals",
        ),
        (
            {"code": "10000", "out_trade_no": "A1", "trade_status": "TRADE_SUCCESS", "total_amount": 1.505},
            paycore.ProtocolError,
            "2 decimals",
        ),
    ],
)
def test_query_refusals_and_bad_answers(paycore_any_gateway, mock_alipay, answer, error, text):
    mock_alipay.answers["alipay.trade.query"] = answer
    with pytest.raises(error, match=text):
        paycore_any_gateway().query("A1")


def test_unpaid_and_closed_trades(paycore_any_gateway, mock_alipay):
    for status, expected in (("WAIT_BUYER_PAY", PaymentStatus.PENDING), ("TRADE_CLOSED", PaymentStatus.CLOSED)):
        mock_alipay.answers["alipay.trade.query"] = {
            "code": "10000",
            "out_trade_no": "A1",
            "trade_status": status,
            "total_amount": "5.00",
        }
        payment = paycore_any_gateway().query("A1")
        assert (payment.status, payment.paid_amount, payment.paid_at) == (expected, None, None)
    mock_alipay.answers["alipay.trade.close"] = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "T1",
        "out_trade_no": "A1",
    }
    assert paycore_any_gateway().close_payment("A1").status is PaymentStatus.CLOSED


def _refund_answers(mock_alipay, fund_change, **query):
    mock_alipay.answers["alipay.trade.refund"] = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "T1",
        "out_trade_no": "A1",
        "fund_change": fund_change,
        "refund_fee": "10.00",
    }
    mock_alipay.answers["alipay.trade.fastpay.refund.query"] = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "T1",
        "out_trade_no": "A1",
        "out_request_no": "A1-r1",
        "refund_amount": "10.00",
        **query,
    }


def test_refund_and_its_query(paycore_any_gateway, mock_alipay):
    _refund_answers(mock_alipay, "Y", refund_status="REFUND_SUCCESS")
    refund = paycore_any_gateway().refund("A1", refund_id="A1-r1", amount=Decimal("10.00"), reason="returned")
    assert (refund.status, refund.amount, refund.refund_id) == (RefundStatus.SUCCEEDED, Decimal("10.00"), "A1-r1")
    sent = [(request["method"], json.loads(request["biz_content"])) for request in mock_alipay.requests]
    assert sent == [
        (
            "alipay.trade.refund",
            {"out_trade_no": "A1", "refund_amount": "10.00", "out_request_no": "A1-r1", "refund_reason": "returned"},
        ),
        # The refund answer names no refund: the query, which does, confirms it.
        ("alipay.trade.fastpay.refund.query", {"out_trade_no": "A1", "out_request_no": "A1-r1"}),
    ]
    assert paycore_any_gateway().query_refund("A1", "A1-r1").status is RefundStatus.SUCCEEDED
    mock_alipay.answers["alipay.trade.fastpay.refund.query"] = {"code": "10000", "msg": "Success"}
    with pytest.raises(paycore.GatewayError, match="knows no refund"):
        paycore_any_gateway().query_refund("A1", "A1-r2")
    with pytest.raises(paycore.InvalidRequest, match="2 decimals"):
        paycore_any_gateway().refund("A1", refund_id="A1-r3", amount=Decimal("1.005"))


@pytest.mark.parametrize(
    ("fund_change", "refund_status", "expected"),
    [
        ("N", "REFUND_SUCCESS", RefundStatus.SUCCEEDED),
        ("N", "", RefundStatus.PENDING),
        ("", "REFUND_SUCCESS", RefundStatus.SUCCEEDED),
    ],
)
def test_a_refund_that_moved_no_money_is_settled_by_the_refund_query(
    paycore_any_gateway, mock_alipay, fund_change, refund_status, expected
):
    # Alipay: only fund_change Y says the refund is done; N (or none) is to be confirmed by the refund query.
    _refund_answers(mock_alipay, fund_change, refund_status=refund_status)
    refund = paycore_any_gateway().refund("A1", refund_id="A1-r1", amount=Decimal("10.00"))
    assert (refund.status, refund.amount) == (expected, Decimal("10.00"))
    assert [request["method"] for request in mock_alipay.requests] == [
        "alipay.trade.refund",
        "alipay.trade.fastpay.refund.query",
    ]


def test_a_signed_refund_answer_replayed_for_another_refund_is_not_a_refund(paycore_any_gateway, mock_alipay):
    # Alipay's refund answer names no out_request_no: A1-r1's genuine answer replayed for A1-r2 verifies,
    # and its refund_fee (the trade's total) covers A1-r2's amount. Only the refund query names the refund.
    _refund_answers(mock_alipay, "Y")
    mock_alipay.answers["alipay.trade.fastpay.refund.query"] = {"code": "10000", "msg": "Success"}  # no A1-r2
    with pytest.raises(paycore.GatewayError, match="knows no refund 'A1-r2'"):
        paycore_any_gateway().refund("A1", refund_id="A1-r2", amount=Decimal("5.00"))


def test_a_refund_held_for_another_amount_is_refused(paycore_any_gateway, mock_alipay):
    _refund_answers(mock_alipay, "N", refund_status="REFUND_SUCCESS", refund_amount="4.00")
    with pytest.raises(paycore.ProtocolError, match=r"for 4\.00, not 10\.00"):
        paycore_any_gateway().refund("A1", refund_id="A1-r1", amount=Decimal("10.00"))


@pytest.mark.parametrize(("refund_status", "expected"), [("", RefundStatus.PENDING), ("?", None)])
def test_a_refund_query_without_refund_success_is_not_a_success(
    paycore_any_gateway, mock_alipay, refund_status, expected
):
    # Alipay's document: no refund_status means the refund was not received or failed (or is not done yet).
    _refund_answers(mock_alipay, "Y", refund_status=refund_status)
    if expected is None:
        with pytest.raises(paycore.ProtocolError, match="refund_status"):
            paycore_any_gateway().query_refund("A1", "A1-r1")
    else:
        assert paycore_any_gateway().query_refund("A1", "A1-r1").status is expected


# -- answers bound to the method, the order and the refund asked about -------------------------------------------


def test_a_signed_error_response_is_never_a_success(paycore_any_gateway, mock_alipay):
    # A signed error_response saying 10000 (Alipay's own, replayed): the close must not read as done.
    mock_alipay.answers["alipay.trade.close"] = {"code": "10000", "msg": "Success", "out_trade_no": "A1"}
    mock_alipay.envelope = lambda name, text, sign: f'{{"error_response": {text}, "sign": "{sign}"}}'
    with pytest.raises(paycore.ProtocolError, match="error_response"):
        paycore_any_gateway().close_payment("A1")
    mock_alipay.answers["alipay.trade.close"] = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.X"}
    with pytest.raises(paycore.GatewayError) as caught:
        paycore_any_gateway().close_payment("A1")
    assert caught.value.gateway_code == "ACQ.X"
    assert not isinstance(caught.value, paycore.ProtocolError)


def test_only_a_signed_answer_says_there_is_no_such_trade(paycore_any_gateway, mock_alipay):
    # "No such trade" tells reconciliation the create never arrived: an unsigned one is only a refusal.
    mock_alipay.answers["alipay.trade.query"] = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.TRADE_NOT_EXIST",
        "sub_msg": "交易不存在",
    }
    with pytest.raises(paycore.OrderNotFound):
        paycore_any_gateway().query("A1")
    mock_alipay.envelope = lambda name, text, sign: f'{{"{name}": {text}}}'
    with pytest.raises(paycore.GatewayError) as caught:
        paycore_any_gateway().query("A1")
    assert not isinstance(caught.value, paycore.OrderNotFound)
    assert caught.value.gateway_code == "ACQ.TRADE_NOT_EXIST"


@pytest.mark.parametrize("out_trade_no", ["B2", ""])
def test_a_close_answer_about_another_order_is_refused(paycore_any_gateway, mock_alipay, out_trade_no):
    mock_alipay.answers["alipay.trade.close"] = {"code": "10000", "msg": "Success", "out_trade_no": out_trade_no}
    with pytest.raises(paycore.ProtocolError, match="another order"):
        paycore_any_gateway().close_payment("A1")


@pytest.mark.parametrize("out_trade_no", ["B2", ""])
def test_a_precreate_answer_about_another_order_is_refused(paycore_any_gateway, mock_alipay, order, out_trade_no):
    mock_alipay.answers["alipay.trade.precreate"] = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": out_trade_no,
        "qr_code": "https://qr.alipay.com/a",
    }
    with pytest.raises(paycore.ProtocolError, match="another order"):
        paycore_any_gateway().create(order())


@pytest.mark.parametrize(
    "changes",
    [
        {"out_trade_no": "B2"},
        {"out_trade_no": ""},
        {"refund_fee": "9.99"},
        {"refund_fee": ""},
    ],
)
def test_a_refund_answer_about_another_order_or_amount_is_refused(paycore_any_gateway, mock_alipay, changes):
    mock_alipay.answers["alipay.trade.refund"] = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "T1",
        "out_trade_no": "A1",
        "fund_change": "Y",
        "refund_fee": "10.00",
        **changes,
    }
    with pytest.raises(paycore.ProtocolError):
        paycore_any_gateway().refund("A1", refund_id="A1-r1", amount=Decimal("10.00"))


@pytest.mark.parametrize("changes", [{"out_request_no": "A1-r9"}, {"out_request_no": ""}, {"out_trade_no": "B2"}])
def test_a_refund_query_answer_about_another_refund_is_refused(paycore_any_gateway, mock_alipay, changes):
    mock_alipay.answers["alipay.trade.fastpay.refund.query"] = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "A1",
        "out_request_no": "A1-r1",
        "refund_amount": "10.00",
        "refund_status": "REFUND_SUCCESS",
        **changes,
    }
    with pytest.raises(paycore.ProtocolError, match="another"):
        paycore_any_gateway().query_refund("A1", "A1-r1")


# -- notifications and returns -------------------------------------------------------------------------------


def notification(keys, **overrides: str) -> dict[str, str]:
    fields = {
        "notify_time": "2026-11-28 12:00:02",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "app_id": APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": "2026112822001",
        "out_trade_no": "A1",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.80",
        "receipt_amount": "88.80",
        "buyer_pay_amount": "88.80",
        "seller_id": "2088000000000001",
        "gmt_payment": "2026-11-28 12:00:01",
        "subject": "Green tea 绿茶",
        "passback_params": quote("cart 7/会员", safe=""),
    }
    fields.update(overrides)
    charset = fields.get("charset", "utf-8")
    signature = keys.openssl_sign(longhand(fields, ("sign", "sign_type")).encode(charset), keys.alipay_private)
    return {**fields, "sign_type": "RSA2", "sign": signature}


def posted(fields: dict[str, str], charset: str = "utf-8") -> bytes:
    return urlencode(fields, encoding=charset).encode("ascii")


def test_a_genuine_notification(paycore_any_gateway, keys):
    received = paycore_any_gateway().verify_notification(posted(notification(keys)))
    assert (received.order_id, received.status, received.amount, received.paid_amount) == (
        "A1",
        PaymentStatus.PAID,
        Decimal("88.80"),
        Decimal("88.80"),
    )
    assert received.attach == "cart 7/会员"
    assert received.transaction_id == "2026112822001"
    assert received.ack == paycore.Reply(body="success")


def test_a_gbk_notification_signs_its_gbk_bytes(paycore_any_gateway, keys):
    fields = notification(keys, charset="GBK", subject="绿茶一杯")
    received = paycore_any_gateway().verify_notification(posted(fields, "gbk"))
    assert received.raw["subject"] == "绿茶一杯"
    with pytest.raises(paycore.VerificationError):  # read as UTF-8 it is another text (or none at all)
        paycore_any_gateway().verify_notification(posted({**fields, "charset": "utf-8"}, "gbk"))


def test_a_framework_parsed_form_is_taken_in_utf_8_only(paycore_any_gateway, keys):
    # A framework that parsed the form decoded it already (as UTF-8, most likely): a GBK message is
    # refused saying to pass the raw body, rather than failing as a bad signature.
    fields = notification(keys)
    assert paycore_any_gateway().verify_notification(paycore.NotificationRequest.of_form(fields)).order_id == "A1"
    gbk = notification(keys, charset="gbk", subject="绿茶一杯")
    with pytest.raises(paycore.MalformedNotification, match="raw body"):
        paycore_any_gateway().verify_notification(paycore.NotificationRequest.of_form(gbk))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"total_amount": "0.01"}, paycore.SignatureError),
        ({"trade_status": "TRADE_CLOSED"}, paycore.SignatureError),
        ({"out_trade_no": "A2"}, paycore.SignatureError),
        ({"sign": base64.b64encode(b"x" * 256).decode()}, paycore.SignatureError),
        ({"sign_type": "RSA"}, paycore.SignatureError),
        ({"sign": ""}, paycore.MissingField),
        ({"charset": "latin-1"}, paycore.MalformedNotification),
    ],
)
def test_tampered_notifications_are_refused(paycore_any_gateway, keys, change, error):
    with pytest.raises(error):
        paycore_any_gateway().verify_notification(posted({**notification(keys), **change}))


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"app_id": "2021000000000999"}, paycore.MerchantMismatch),
        ({"total_amount": "88.801", "receipt_amount": "88.801", "buyer_pay_amount": "88.801"}, paycore.MalformedAmount),
        ({"receipt_amount": "-1"}, paycore.MalformedAmount),
        ({"trade_status": "TRADE_WHATEVER"}, paycore.MalformedNotification),
        ({"gmt_payment": "yesterday"}, paycore.MalformedNotification),
        ({"subject": "tea&out_trade_no=A9"}, paycore.MalformedNotification),
    ],
)
def test_signed_but_unacceptable_notifications(paycore_any_gateway, keys, fields, error):
    """Signed by Alipay's key, yet refused: another app, inexact amounts, unknown status, an ambiguous value."""
    with pytest.raises(error):
        paycore_any_gateway().verify_notification(posted(notification(keys, **fields)))


def test_a_repeated_field_is_refused(paycore_any_gateway, keys):
    body = posted(notification(keys)) + b"&total_amount=0.01"
    with pytest.raises(paycore.MalformedNotification, match="more than once"):
        paycore_any_gateway().verify_notification(body)


def test_seller_id_is_checked_when_configured(paycore_any_gateway, keys):
    with pytest.raises(paycore.MerchantMismatch, match="seller_id"):
        paycore_any_gateway(seller_id="2088999999999999").verify_notification(posted(notification(keys)))
    assert (
        paycore_any_gateway(seller_id="2088000000000001").verify_notification(posted(notification(keys))).order_id
        == "A1"
    )


def test_failure_reply_return_routing_and_explain(paycore_any_gateway, keys):
    gateway = paycore_any_gateway()
    assert gateway.failure_reply("bad signature") == paycore.Reply(body="fail")
    fields = notification(keys)
    assert gateway.notification_order_id(posted(fields)) == "A1"
    shown = gateway.parse_return(paycore.NotificationRequest(method="GET", path="/return", query=urlencode(fields)))
    assert (shown.order_id, shown.signature_checked, shown.amount) == ("A1", True, Decimal("88.80"))
    with pytest.raises(paycore.SignatureError):
        gateway.parse_return(
            paycore.NotificationRequest(
                method="GET", path="/return", query=urlencode({**fields, "total_amount": "1.00"})
            )
        )
    explanation = gateway.explain_signature(posted(fields))
    assert explanation.matched is not None
    assert explanation.candidates[0].signed_text == longhand(fields, ("sign", "sign_type"))
    assert (explanation.candidates[0].key_id, explanation.candidates[0].digest) == ("alipay_public_key", "")
    # Tampered: the public-key check says which key it does not verify with; nothing is withheld, nothing forged.
    tampered = gateway.explain_signature(posted({**fields, "total_amount": "1.00"}))
    assert tampered.matched is None
    assert tampered.candidates[0].digest == ""
    assert tampered.verdict().startswith("the signature does not verify with alipay_public_key")


# -- settings: keys in every form the console gives ----------------------------------------------------------


def _bare(pem: bytes) -> str:
    return "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))


def test_keys_as_values_files_pem_or_bare_base64(keys, settings, paycore_order):
    private_pem = keys.merchant_private.read_bytes()
    public_pem = keys.alipay_public.read_bytes()
    pkcs1 = keys.merchant.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    pkcs1_public = keys.alipay.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    for private, public in (
        (private_pem.decode(), public_pem.decode()),
        (_bare(private_pem), _bare(public_pem)),
        (base64.b64encode(pkcs1).decode(), base64.b64encode(pkcs1_public).decode()),
        (str(keys.merchant_private), str(keys.alipay_public)),
    ):
        with paycore.Gateway("alipay", {**settings, "private_key": private, "alipay_public_key": public}) as gateway:
            assert gateway.provider.settings.app_id == APP_ID


@pytest.mark.parametrize(
    ("setting", "value", "text"),
    [
        ("private_key", "/nowhere/key.pem", "private_key"),
        ("private_key", "MIIBOgIBAAJBAK", "private_key"),
        ("alipay_public_key", "not a key at all", "alipay_public_key"),
        ("gateway", "http://openapi.alipay.com/gateway.do", "https"),
        ("gateway", "staging", "gateway"),
        ("app_id", "abc", "app_id"),
    ],
)
def test_bad_settings_are_config_errors_without_the_value(settings, setting, value, text):
    with pytest.raises(paycore.ConfigError, match=text) as caught:
        paycore.Gateway("alipay", {**settings, setting: value})
    if setting == "private_key":
        assert value not in str(caught.value)


def test_a_short_rsa_key_is_refused(settings, tmp_path):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505  # refusing it is the point
    path = tmp_path / "weak.pem"
    path.write_bytes(
        weak.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(paycore.ConfigError, match="2048"):
        paycore.Gateway("alipay", {**settings, "private_key": str(path)})


def test_gateway_presets(settings):
    with paycore.Gateway("alipay", {**settings, "gateway": "sandbox"}) as gateway:
        assert gateway.provider.settings.gateway == "https://openapi-sandbox.dl.alipaydev.com/gateway.do"


def _pem_with_extra(keys, slot):
    public_pem = keys.alipay_public.read_text()
    private_pem = keys.merchant_private.read_text()
    if slot == "alipay_public_key":
        return {
            "private appended": public_pem + private_pem,
            "private alone": private_pem,
            "text before": "Alipay's key:\n" + public_pem,
            "text after": public_pem + "copied from the console",
            "two public keys": public_pem + public_pem,
        }
    return {
        "public appended": private_pem + public_pem,
        "text after": private_pem + "note",
        "two private keys": private_pem + private_pem,
    }


@pytest.mark.parametrize("slot", ["alipay_public_key", "private_key"])
def test_a_key_setting_holds_exactly_one_pem_block_of_its_kind(keys, settings, tmp_path, slot):
    # Whatever else a key setting holds (a private key pasted into the public slot, say) must not be
    # accepted silently: the public slot is printed by `paycore accounts`.
    for label, value in _pem_with_extra(keys, slot).items():
        path = tmp_path / "key.pem"
        path.write_text(value)
        for setting in (value, str(path)):
            with pytest.raises(paycore.ConfigError, match=slot) as caught:
                paycore.Gateway("alipay", {**settings, slot: setting})
            message = str(caught.value)
            assert "PRIVATE" not in message, label
            assert "MII" not in message, label


def test_a_private_key_in_the_public_slot_is_named_as_such(keys, settings):
    private_pem = keys.merchant_private.read_bytes()
    for value in (private_pem.decode(), _bare(private_pem)):
        with pytest.raises(paycore.ConfigError, match="a private key") as caught:
            paycore.Gateway("alipay", {**settings, "alipay_public_key": value})
        assert _bare(private_pem)[:40] not in str(caught.value)


def test_a_key_path_naming_an_unknown_user_is_a_config_error(settings):
    with pytest.raises(paycore.ConfigError, match="private_key"):
        paycore.Gateway("alipay", {**settings, "private_key": "~nosuchuser-paycore/key.pem"})


@pytest.mark.parametrize("setting", ["private_key", "alipay_public_key"])
def test_a_key_path_naming_no_regular_file_is_refused_without_reading_it(settings, tmp_path, setting):
    # /dev/zero never ends: read whole, the process filled its memory. A directory, a pipe: no key either.
    for path in ("/dev/zero", str(tmp_path)):
        with pytest.raises(paycore.ConfigError, match=setting):
            paycore.Gateway("alipay", {**settings, setting: path})


def test_a_key_file_larger_than_any_key_is_refused(settings, tmp_path):
    huge = tmp_path / "huge.pem"
    huge.write_bytes(b"A" * 2_000_000)
    with pytest.raises(paycore.ConfigError, match="private_key"):
        paycore.Gateway("alipay", {**settings, "private_key": str(huge)})


def test_paycore_accounts_never_prints_a_private_key_pasted_into_the_public_slot(keys, tmp_path):
    import os
    import subprocess
    import sys

    public_and_private = keys.alipay_public.read_text() + keys.merchant_private.read_text()
    config = tmp_path / "paycore.toml"
    config.write_text(
        "[accounts.shop]\n"
        'provider = "alipay"\n'
        f'app_id = "{APP_ID}"\n'
        f"private_key = {json.dumps(str(keys.merchant_private))}\n"
        f"alipay_public_key = {json.dumps(public_and_private)}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "paycore.cli", "accounts"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}, "PAYCORE_CONFIG": str(config)},
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert "alipay_public_key holds a private key" in output
    private_body = _bare(keys.merchant_private.read_bytes())
    assert "PRIVATE" not in output.replace("holds a private key", "")
    assert private_body[:32] not in output
    assert private_body[-32:] not in output


def test_a_signed_no_such_trade_about_another_order_is_not_order_not_found(paycore_any_gateway, mock_alipay):
    # "No such trade" tells reconciliation the create never arrived: it must be about the order asked.
    refusal = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}
    mock_alipay.answers["alipay.trade.query"] = {**refusal, "out_trade_no": "ZZZ-other-order"}
    with pytest.raises(paycore.ProtocolError, match="another order"):
        paycore_any_gateway().query("A1")
    mock_alipay.answers["alipay.trade.query"] = {**refusal, "out_trade_no": "A1"}
    with pytest.raises(paycore.OrderNotFound):
        paycore_any_gateway().query("A1")


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        # a query's answer, renamed: the method's name is outside the signature
        ("alipay.trade.close", {"trade_status": "WAIT_BUYER_PAY", "total_amount": "10.00"}),
        ("alipay.trade.close", {"fund_change": "Y", "refund_fee": "10.00"}),
        ("alipay.trade.close", {"qr_code": "https://qr.alipay.com/a"}),
        # a refund query's answer without refund_status (Alipay leaves it out of many), renamed
        ("alipay.trade.close", {"trade_no": "2026120422001", "out_request_no": "r1", "refund_amount": "10.00"}),
        ("alipay.trade.close", {"total_amount": "10.00"}),
        ("alipay.trade.precreate", {"qr_code": "https://qr.alipay.com/a", "trade_status": "WAIT_BUYER_PAY"}),
        ("alipay.trade.query", {"trade_status": "TRADE_SUCCESS", "total_amount": "10.00", "fund_change": "Y"}),
    ],
)
def test_another_methods_signed_answer_is_refused(paycore_any_gateway, mock_alipay, paycore_order, method, answer):
    mock_alipay.answers[method] = {"code": "10000", "msg": "Success", "out_trade_no": "A1", **answer}
    gateway = paycore_any_gateway()
    call = {
        "alipay.trade.close": lambda: gateway.close_payment("A1"),
        "alipay.trade.precreate": lambda: gateway.create(paycore_order(order_id="A1", amount=Decimal("10.00"))),
        "alipay.trade.query": lambda: gateway.query("A1"),
    }[method]
    with pytest.raises(paycore.ProtocolError, match="another method"):
        call()
