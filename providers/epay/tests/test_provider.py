"""Every branch of the epay provider under Gateway and AsyncGateway, against a mock platform.

The mock checks signatures with the longhand rule of test_signing (hashlib over the
string built here), not with the provider's code.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest

import paycore
from paycore import CreateFlow, PaymentStatus

KEY = "a-test-key-of-the-tests"
PID = "10001"
BASE = "https://gateway.example"


def longhand_sign(fields: dict[str, str], key: str = KEY) -> str:
    text = "&".join(
        f"{name}={fields[name]}" for name in sorted(fields) if fields[name] and name not in ("sign", "sign_type")
    )
    return hashlib.md5((text + key).encode()).hexdigest()


def json_text(data: object) -> httpx.Response:
    return httpx.Response(200, text=json.dumps(data, ensure_ascii=False), headers={"content-type": "text/html"})


class Platform:
    """mapi.php and api.php in miniature; records what it was sent."""

    def __init__(self, create_answer: dict[str, object] | None = None, query_answer: dict[str, object] | None = None):
        self.create_answer = create_answer or {"code": 1, "trade_no": "T1", "payurl": f"{BASE}/pay/T1"}
        self.query_answer = query_answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/mapi.php":
            fields = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
            if fields.get("sign") != longhand_sign(fields) or fields.get("sign_type") != "MD5":
                return json_text({"code": -1, "msg": "签名校验失败"})
            return json_text(self.create_answer)
        if request.url.path == "/api.php":
            return json_text(self.query_answer or {"code": -1, "msg": "订单号不存在"})
        return httpx.Response(404)


@pytest.fixture
def order(paycore_order):
    def make(**fields):
        return paycore_order(**{"client_ip": "203.0.113.7", **fields})

    return make


def notification(**overrides: str) -> dict[str, str]:
    fields = {
        "pid": PID,
        "trade_no": "2026112812000012345",
        "out_trade_no": "A20261128001",
        "type": "alipay",
        "name": "Green tea",
        "money": "12.50",
        "trade_status": "TRADE_SUCCESS",
        "param": "cart-7",
    }
    fields.update(overrides)
    return {**fields, "sign": longhand_sign(fields), "sign_type": "MD5"}


def get(fields: dict[str, str] | str) -> paycore.NotificationRequest:
    query = fields if isinstance(fields, str) else urlencode(fields)
    return paycore.NotificationRequest(method="GET", path="/notify/main", query=query)


# -- create ----------------------------------------------------------------------------------------------


def test_api_create_sends_a_signed_mapi_request(paycore_any_gateway, order):
    platform = Platform()
    placed = order(attach="cart-7", channel="wechat_h5")
    payment = paycore_any_gateway(platform).create(placed)
    sent = dict(parse_qsl(platform.requests[0].content.decode()))
    assert sent == {
        "pid": PID,
        "type": "wxpay",
        "out_trade_no": placed.order_id,
        "notify_url": placed.notify_url,
        "return_url": placed.return_url,
        "name": "Green tea",
        "money": "12.50",
        "param": "cart-7",
        "clientip": "203.0.113.7",
        "device": "mobile",
        "sign": longhand_sign(sent),
        "sign_type": "MD5",
    }
    assert payment.next_action == paycore.Redirect(url=f"{BASE}/pay/T1")
    assert payment.transaction_id == "T1"
    assert payment.status is PaymentStatus.PENDING


@pytest.mark.parametrize(
    ("answer", "action"),
    [
        ({"qrcode": "https://qr.alipay.com/bax01"}, paycore.QrCode(content="https://qr.alipay.com/bax01")),
        ({"urlscheme": "weixin://wxpay/bizpayurl?pr=abc"}, paycore.AppLink(url="weixin://wxpay/bizpayurl?pr=abc")),
    ],
)
def test_api_create_reads_qr_content_and_app_links(paycore_any_gateway, order, answer, action):
    payment = paycore_any_gateway(Platform({"code": "1", "trade_no": "T1", **answer})).create(order())
    assert payment.next_action == action


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        ({"code": -1, "msg": "商户未开通该支付方式"}, paycore.GatewayError, "商户未开通该支付方式"),
        ({"code": 1, "trade_no": "T1"}, paycore.ProtocolError, "no payurl, qrcode or urlscheme"),
        ({"code": 1, "payurl": "javascript:alert(1)"}, paycore.ProtocolError, "not usable"),
        ({"code": 1, "payurl": ["x"]}, paycore.ProtocolError, "not text"),
    ],
)
def test_api_create_refusals_and_bad_answers(paycore_any_gateway, order, answer, error, text):
    with pytest.raises(error, match=text) as caught:
        paycore_any_gateway(Platform(answer)).create(order())
    if error is paycore.GatewayError:
        assert caught.value.gateway_code == "-1"


def test_form_flow_is_a_signed_submit_form_without_a_request(paycore_any_gateway, order):
    platform = Platform()
    payment = paycore_any_gateway(platform).create(order(channel="alipay_page"), flow=CreateFlow.FORM)
    form = payment.next_action
    assert isinstance(form, paycore.PaymentForm)
    assert str(form.action) == f"{BASE}/submit.php"
    assert form.fields["sign"] == longhand_sign(form.fields)
    assert "clientip" not in form.fields
    assert form.fields["type"] == "alipay"
    assert platform.requests == []
    # The form carries no clientip, so it needs none: an order without client_ip is fine on this flow only.
    without_ip = paycore_any_gateway(platform).create(order(channel="alipay_page", client_ip=None), flow="form")
    assert isinstance(without_ip.next_action, paycore.PaymentForm)
    with pytest.raises(paycore.InvalidRequest, match="client_ip for channel 'alipay_page' on the 'server' create flow"):
        paycore_any_gateway(platform).create(order(channel="alipay_page", client_ip=None), flow="server")
    assert platform.requests == []


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"amount": Decimal("1.005")}, "2 decimal"),
        ({"subject": "tea & cake"}, "cannot hold '&' or '='"),
        ({"notify_url": "https://shop.example/notify?a=1"}, "cannot hold '&' or '='"),
        ({"channel": "unionpay_qr"}, "unionpay_qr"),
        ({"currency": "USD"}, "CNY"),
        ({"client_ip": None}, "client_ip"),
    ],
)
def test_orders_the_platform_would_mangle_are_refused_before_sending(paycore_any_gateway, order, fields, text):
    platform = Platform()
    with pytest.raises(paycore.InvalidRequest, match=text) as caught:
        paycore_any_gateway(platform).create(order(**fields))
    assert caught.value.may_have_reached_gateway is False
    assert platform.requests == []


# -- query -----------------------------------------------------------------------------------------------


def paid_answer(**overrides: object) -> dict[str, object]:
    answer: dict[str, object] = {
        "code": 1,
        "msg": "查询订单号成功",
        "trade_no": "2026112812000012345",
        "out_trade_no": "A20261128001",
        "type": "alipay",
        "pid": 10001,
        "addtime": "2026-11-28 12:00:00",
        "endtime": "2026-11-28 12:01:30",
        "name": "Green tea",
        "money": "12.50",
        "status": 1,
    }
    answer.update(overrides)
    return answer


def test_query_of_a_paid_order(paycore_any_gateway):
    platform = Platform(query_answer=paid_answer())
    payment = paycore_any_gateway(platform).query("A20261128001")
    assert payment.status is PaymentStatus.PAID
    assert payment.amount == payment.paid_amount == Decimal("12.50")
    assert payment.paid_at == datetime(2026, 11, 28, 12, 1, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    sent = platform.requests[0]
    assert sent.method == "GET"
    assert sent.url.path == "/api.php"
    assert dict(sent.url.params) == {"act": "order", "pid": PID, "key": KEY, "out_trade_no": "A20261128001"}


def test_query_of_an_unpaid_order(paycore_any_gateway):
    payment = paycore_any_gateway(Platform(query_answer=paid_answer(status=0, endtime=None))).query("A20261128001")
    assert payment.status is PaymentStatus.PENDING
    assert payment.paid_at is None
    assert payment.paid_amount is None


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        (None, paycore.OrderNotFound, "订单号不存在"),
        ({"code": -3, "msg": "KEY校验失败"}, paycore.GatewayError, "KEY校验失败"),
        (paid_answer(out_trade_no="B1"), paycore.ProtocolError, "another order"),
        (paid_answer(pid="999"), paycore.ProtocolError, "another merchant"),
        (paid_answer(money="12.5x"), paycore.ProtocolError, "2 decimals"),
        (paid_answer(money=12.505), paycore.ProtocolError, "2 decimals"),
        (paid_answer(endtime="yesterday"), paycore.ProtocolError, "endtime"),
    ],
)
def test_query_refusals_and_bad_answers(paycore_any_gateway, answer, error, text):
    with pytest.raises(error, match=text):
        paycore_any_gateway(Platform(query_answer=answer)).query("A20261128001")


def test_the_key_in_the_query_url_never_reaches_a_log(paycore_any_gateway, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(paycore.OrderNotFound) as caught:
        paycore_any_gateway(Platform()).query("A20261128001")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "api.php" in logged or "query" in logged
    assert KEY not in logged
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)


# -- notifications ---------------------------------------------------------------------------------------


def test_a_genuine_get_notification(paycore_any_gateway):
    received = paycore_any_gateway().verify_notification(get(notification()))
    assert received.order_id == "A20261128001"
    assert received.status is PaymentStatus.PAID
    assert received.amount == received.paid_amount == Decimal("12.50")
    assert received.transaction_id == "2026112812000012345"
    assert received.attach == "cart-7"
    assert received.ack == paycore.Reply(body="success")


def test_a_posted_form_is_read_from_the_body(paycore_any_gateway):
    body = urlencode(notification()).encode()
    assert paycore_any_gateway().verify_notification(body).order_id == "A20261128001"


def test_an_upper_case_signature_and_an_empty_param_are_accepted(paycore_any_gateway):
    fields = notification(param="")
    fields["sign"] = fields["sign"].upper()
    received = paycore_any_gateway().verify_notification(get(fields))
    assert received.attach is None


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({**notification(), "money": "125.00"}, paycore.SignatureError),
        ({**notification(), "trade_status": "TRADE_CLOSED"}, paycore.SignatureError),
        (notification() | {"sign": longhand_sign(notification(), "another-key")}, paycore.SignatureError),
        (notification() | {"sign_type": "RSA"}, paycore.SignatureError),
        (notification(pid="10002"), paycore.MerchantMismatch),
        (notification(trade_status="TRADE_WHATEVER"), paycore.MalformedNotification),
        (notification(money="12.505"), paycore.MalformedAmount),
        (notification(money="-1.00"), paycore.MalformedAmount),
        (notification(name="tea&out_trade_no=B2"), paycore.MalformedNotification),
        ({name: value for name, value in notification().items() if name != "sign"}, paycore.MissingField),
        (urlencode(notification()) + "&money=99.00", paycore.MalformedNotification),
        ("", paycore.MissingField),
    ],
    ids=[
        "money",
        "status",
        "key",
        "sign-type",
        "merchant",
        "unknown-status",
        "three-decimals",
        "negative",
        "folded",
        "unsigned",
        "repeated",
        "empty",
    ],
)
def test_forged_and_malformed_notifications_are_refused(paycore_any_gateway, query, error):
    with pytest.raises(error):
        paycore_any_gateway().verify_notification(get(query))


def test_a_folded_field_cannot_replace_its_neighbour(paycore_any_gateway):
    """name="tea&out_trade_no=B2" with out_trade_no dropped signs the same string: refused, not read."""
    genuine = notification(name="tea")
    folded = {name: value for name, value in genuine.items() if name not in ("out_trade_no", "sign")}
    folded["name"] = f"tea&out_trade_no={genuine['out_trade_no']}"
    folded["sign"] = genuine["sign"]
    assert longhand_sign(folded) == genuine["sign"]  # a verifier that only checks the signature would accept it
    with pytest.raises(paycore.VerificationError):
        paycore_any_gateway().verify_notification(get(folded))


def test_failure_reply_and_routing(paycore_any_gateway):
    gateway = paycore_any_gateway()
    assert gateway.failure_reply("bad signature") == paycore.Reply(body="fail", status=400)
    assert gateway.notification_order_id(get(notification())) == "A20261128001"
    assert gateway.notification_order_id(get("out_trade_no=a&out_trade_no=b")) is None


def test_browser_return_is_verified(paycore_any_gateway):
    shown = paycore_any_gateway().parse_return(get(notification()))
    assert shown.signature_checked is True
    assert shown.claimed_status is PaymentStatus.PAID
    assert shown.amount == Decimal("12.50")
    with pytest.raises(paycore.SignatureError):
        paycore_any_gateway().parse_return(get({**notification(), "money": "0.01"}))


@pytest.mark.parametrize("shape", ["page", "refusal"])
def test_a_platform_echoing_the_query_url_never_shows_the_key_even_clipped(paycore_any_gateway, shape):
    """An error page or refusal that repeats the request URL, cut by the message's clip in the middle of the key."""

    def echo(request: httpx.Request) -> httpx.Response:
        # Prefixes chosen so that the clip (80 characters of a page, 200 of a refusal) falls inside the key.
        if shape == "page":
            return httpx.Response(400, text=f"400: {request.url}")
        return json_text({"code": -1, "msg": "x" * 134 + str(request.url)})

    with pytest.raises(paycore.PaycoreError) as caught:
        paycore_any_gateway(echo).query("A20261128001")
    shown = f"{caught.value} {caught.value!r} {getattr(caught.value, 'gateway_message', '')}"
    assert "api.php" in shown  # the echo is there ...
    assert KEY[:6] not in shown  # ... without any readable part of the key


@pytest.mark.parametrize(
    ("setting", "value", "text"),
    [
        ("secret_key", "", "secret_key"),
        ("secret_key", "abc12", "secret_key"),
        ("base_url", "http://pay.example.com", "https"),
        ("base_url", "http://10.0.0.8:8080", "https"),
    ],
)
def test_settings_that_would_let_anyone_forge_or_read_the_key_are_refused(setting, value, text):
    """An empty or short key signs forgeries anyone can make; plain http shows the key (it travels in api.php URLs)."""
    settings = {"base_url": BASE, "merchant_id": PID, "secret_key": KEY, setting: value}
    with pytest.raises(paycore.ConfigError, match=text) as caught:
        paycore.Gateway("epay", settings)
    if setting == "secret_key" and value:
        assert value not in str(caught.value)


def test_plain_http_on_this_machine_is_allowed_for_sandboxes():
    with paycore.Gateway("epay", {"base_url": "http://127.0.0.1:8000", "merchant_id": PID, "secret_key": KEY}):
        pass


def test_an_empty_key_cannot_verify_a_keyless_forgery_even_from_the_environment(monkeypatch, tmp_path):
    (tmp_path / "paycore.toml").write_text(
        f'[accounts.shop]\nprovider = "epay"\nbase_url = "{BASE}"\nmerchant_id = "{PID}"\n'
    )
    monkeypatch.setenv("PAYCORE_SHOP_SECRET_KEY", "")
    with pytest.raises(paycore.ConfigError, match="secret_key"):
        paycore.Gateway.from_config("shop", tmp_path / "paycore.toml")


@pytest.mark.parametrize("message", ["商户不存在", "支付方式不存在", "Not Found"])
def test_only_a_missing_order_is_order_not_found(paycore_any_gateway, order, message):
    """OrderNotFound tells reconcile the create never arrived: another merchant or type missing must not say so."""
    refusal = {"code": -1, "msg": message}
    with pytest.raises(paycore.GatewayError) as created:
        paycore_any_gateway(Platform(create_answer=refusal)).create(order())
    with pytest.raises(paycore.GatewayError) as queried:
        paycore_any_gateway(Platform(query_answer=refusal)).query("A20261128001")
    assert not isinstance(created.value, paycore.OrderNotFound)
    assert not isinstance(queried.value, paycore.OrderNotFound)
