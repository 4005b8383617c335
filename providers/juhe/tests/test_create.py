"""Create, server-to-server and browser form, under both gateways."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest

from paycore import Channel, ConfigError, GatewayError, InvalidRequest, PaymentStatus, ProtocolError, TransportError

#: The seven create fields the protocol signs, and no others.
SIGNED_CREATE_FIELDS = (
    "pay_amount",
    "pay_applydate",
    "pay_bankcode",
    "pay_callbackurl",
    "pay_memberid",
    "pay_notifyurl",
    "pay_orderid",
)


def _form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}


def _answer(payload: object, **headers: str) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=json.dumps(payload), headers=headers)

    return handler  # type: ignore[return-value]


def test_accepted_by_a_gateway_that_checks_signatures(paycore_any_gateway, peer, paycore_order):
    order = paycore_order()
    payment = paycore_any_gateway(peer).create(order)
    assert payment.status is PaymentStatus.PENDING
    assert payment.pay_url == f"https://pay.example.com/cashier.html?osn={order.order_id}"
    assert payment.amount == Decimal("100")
    assert (payment.provider, payment.account) == ("juhe", "main")
    sent = _form(peer.requests[0])
    assert peer.requests[0].method == "POST"
    assert peer.requests[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent["type"] == "json"
    assert sent["pay_amount"] == "100.00"
    assert sent["pay_bankcode"] == "903"
    assert sent["pay_productname"] == "Green tea"


def test_request_has_exactly_the_seven_signed_fields_plus_sign(paycore_any_gateway, peer, paycore_order, helpers):
    paycore_any_gateway(peer).create(paycore_order(attach="cart-7", description="two cups", quantity=2))
    sent = _form(peer.requests[0])
    assert sent["pay_md5sign"] == helpers.sign(
        {name: sent[name] for name in SIGNED_CREATE_FIELDS}, "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
    )
    everything_but_sign = {k: v for k, v in sent.items() if k != "pay_md5sign"}
    # signing any unsigned field too would give a different sign: the gateway would refuse it
    assert sent["pay_md5sign"] != helpers.sign(everything_but_sign, "t4ig5acnpx4fet4zapshjacjd9o4bhbi")
    assert sent["pay_productnum"] == "2"
    assert sent["pay_productdesc"] == "two cups"


def test_wrong_key_is_refused_by_the_peer_with_its_message(paycore_any_gateway, peer, paycore_order):
    with pytest.raises(GatewayError, match="签名验证失败") as excinfo:
        paycore_any_gateway(peer, secret_key="wrong-key").create(paycore_order())
    assert excinfo.value.gateway_message == "签名验证失败"
    assert peer.orders == {}


def test_applydate_is_in_the_account_time_zone(paycore_any_gateway, peer, paycore_order):
    order = paycore_order(created_at=datetime(2026, 11, 26, 10, 18, 18, tzinfo=UTC))
    paycore_any_gateway(peer).create(order)
    assert _form(peer.requests[0])["pay_applydate"] == "2026-11-26 18:18:18"
    peer.orders.clear()
    paycore_any_gateway(peer, timezone="UTC").create(order)
    assert _form(peer.requests[-1])["pay_applydate"] == "2026-11-26 10:18:18"


@pytest.mark.parametrize(("amount", "wire"), [("1", "1.00"), ("0.1", "0.10"), ("1234.56", "1234.56")])
def test_amount_has_two_decimals(paycore_any_gateway, peer, paycore_order, amount, wire):
    paycore_any_gateway(peer).create(paycore_order(amount=Decimal(amount)))
    assert _form(peer.requests[0])["pay_amount"] == wire


def test_attach_is_sent_as_unpadded_base64url(paycore_any_gateway, peer, paycore_order):
    paycore_any_gateway(peer).create(paycore_order(attach="会员 id=7&x"))
    raw = _form(peer.requests[0])["pay_attach"]
    # the expected value from coreutils: printf '会员 id=7&x' | base64 | tr '+/' '-_' | tr -d '='
    assert raw == "b64.5Lya5ZGYIGlkPTcmeA"
    # decoded by the standard library's own base64 reading, padding restored
    assert base64.urlsafe_b64decode(raw.removeprefix("b64.") + "==").decode() == "会员 id=7&x"


def test_order_id_longer_than_20_is_refused_before_sending(paycore_any_gateway, peer, paycore_order):
    with pytest.raises(InvalidRequest, match="20 characters"):
        paycore_any_gateway(peer).create(paycore_order(order_id="E" * 21))
    assert peer.requests == []


@pytest.mark.parametrize("char", ["&", "<", ">", '"', "'"])
def test_html_unsafe_signed_value_is_refused_naming_the_field(paycore_any_gateway, peer, paycore_order, char):
    # < > " are refused in any URL by the Order itself (paycore.toolkit.is_http_url); & and ' by juhe.
    with pytest.raises(InvalidRequest, match=r"notify_?url"):
        paycore_any_gateway(peer).create(paycore_order(notify_url=f"https://shop.example/n?a=1{char}b=2"))
    assert peer.requests == []


def test_unsafe_characters_in_unsigned_fields_are_fine(paycore_any_gateway, peer, paycore_order):
    paycore_any_gateway(peer).create(paycore_order(subject="Tea & <cake>"))
    assert _form(peer.requests[0])["pay_productname"] == "Tea & <cake>"


def test_unknown_channel_is_refused_before_sending(paycore_any_gateway, peer, paycore_order):
    with pytest.raises(InvalidRequest, match="'9999' is not configured"):
        paycore_any_gateway(peer).create(paycore_order(channel="9999"))
    assert peer.requests == []


def test_account_channels_override_and_extend_the_defaults(paycore_any_gateway, peer, paycore_order):
    gateway = paycore_any_gateway(peer, channels={"alipay_qr": "9031", "douyin": "950", "jd": ""})
    gateway.create(paycore_order(order_id="A1"))
    gateway.create(paycore_order(order_id="A2", channel="douyin"))
    gateway.create(paycore_order(order_id="A3", channel="950"))  # a raw code of this account
    gateway.create(paycore_order(order_id="A4", channel=Channel.WECHAT_QR))  # untouched default
    assert [_form(r)["pay_bankcode"] for r in peer.requests] == ["9031", "950", "950", "902"]
    with pytest.raises(InvalidRequest, match="'jd'"):
        gateway.create(paycore_order(order_id="A5", channel=Channel.JD))  # switched off


def test_ststus_spelling_is_accepted(paycore_any_gateway, paycore_order):
    order = paycore_order()
    handler = _answer(
        {
            "ststus": "1",
            "msg": "下单成功",
            "pay_amount": "100",
            "pay_orderid": order.order_id,
            "payUrl": "http://x.example/cashier.html?osn=1",
        }
    )
    assert paycore_any_gateway(handler).create(order).pay_url == "http://x.example/cashier.html?osn=1"


def test_json_sent_as_text_html_is_read(paycore_any_gateway, paycore_order):
    order = paycore_order()
    handler = _answer({"status": 1, "payUrl": "https://x.example/p"}, **{"content-type": "text/html"})
    assert paycore_any_gateway(handler).create(order).pay_url == "https://x.example/p"


def test_error_answer_is_gateway_error_with_its_message(paycore_any_gateway, paycore_order):
    with pytest.raises(GatewayError, match="通道维护") as excinfo:
        paycore_any_gateway(_answer({"status": "error", "msg": "通道维护", "data": []})).create(paycore_order())
    assert excinfo.value.gateway_message == "通道维护"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"code": 0, "data": {}}, "unknown shape"),
        ({"status": "1", "msg": "ok"}, "no payment URL"),
        ({"status": "1", "payUrl": "javascript:alert(1)"}, "payment URL must be an absolute"),
        ({"status": "1", "payUrl": "https://x/p", "pay_orderid": "OTHER"}, "order id"),
        ({"status": "1", "payUrl": "https://x/p", "pay_amount": "99.99"}, "amount 99.99"),
        ({"status": "1", "payUrl": "https://x/p", "pay_amount": "lots"}, "malformed pay_amount"),
        ([1, 2], "not an object"),
        ({"status": {"nested": 1}}, "nested value"),
    ],
)
def test_odd_json_shapes_are_protocol_errors(paycore_any_gateway, paycore_order, payload, message):
    with pytest.raises(ProtocolError, match=message):
        paycore_any_gateway(_answer(payload)).create(paycore_order())


def test_echoed_amount_with_other_formatting_matches(paycore_any_gateway, paycore_order):
    order = paycore_order(amount=Decimal("100"))
    handler = _answer({"status": "1", "payUrl": "https://x/p", "pay_amount": "100.0000", "pay_orderid": order.order_id})
    assert paycore_any_gateway(handler).create(order).pay_url == "https://x/p"


def test_html_page_is_protocol_error_with_a_hint(paycore_any_gateway, paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html><body><h1>签名错误</h1></body></html>")

    with pytest.raises(ProtocolError, match=r"flow='form'.*签名错误"):
        paycore_any_gateway(handler).create(paycore_order())


@pytest.mark.parametrize(
    "page",
    [
        '<meta http-equiv="refresh" content="0;url=https://cashier.example/pay?osn=1&amp;t=2">',
        "<script>window.location.href = 'https://cashier.example/pay?osn=1&t=2';</script>",
        '<script>location.replace("https://cashier.example/pay?osn=1&t=2")</script>',
    ],
)
def test_html_page_with_a_redirect_gives_that_url(paycore_any_gateway, paycore_order, page):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html=f"<html><head>{page}</head></html>")

    gateway = paycore_any_gateway(handler, cashier_hosts=["cashier.example"])
    assert gateway.create(paycore_order()).pay_url == "https://cashier.example/pay?osn=1&t=2"


@pytest.mark.parametrize("status", [400, 403, 500, 502])
@pytest.mark.parametrize(
    "page",
    [
        '<meta http-equiv="refresh" content="0;url=/cashier.html?osn=1">',
        "<script>location.href = '/cashier.html?osn=1';</script>",
    ],
)
def test_error_page_holding_a_redirect_is_not_a_payment(paycore_any_gateway, paycore_order, page, status):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, html=f"<html><head>{page}</head><body>Bad Gateway</body></html>")

    with pytest.raises(ProtocolError, match=f"HTTP {status}"):
        paycore_any_gateway(handler).create(paycore_order())


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/cashier.html", "//evil.example/x", "https://pay.example.com.evil.example/x", "javascript:x"],
)
def test_redirect_to_another_host_is_not_a_payment(paycore_any_gateway, paycore_order, target):
    def meta(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html=f'<meta http-equiv="refresh" content="0;url={target}">')

    def location(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": target})

    for handler in (meta, location):
        with pytest.raises(ProtocolError):
            paycore_any_gateway(handler).create(paycore_order())


def test_success_body_with_an_error_status_is_protocol_error(paycore_any_gateway, paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"status": "1", "payUrl": "https://pay.example.com/c"})

    with pytest.raises(ProtocolError, match="HTTP 500"):
        paycore_any_gateway(handler).create(paycore_order())


def test_http_redirect_gives_its_location(paycore_any_gateway, paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "/cashier.html?osn=7"})

    assert paycore_any_gateway(handler).create(paycore_order()).pay_url == "https://pay.example.com/cashier.html?osn=7"


def test_http_500_is_protocol_error(paycore_any_gateway, paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="Internal Server Error")

    with pytest.raises(ProtocolError, match="HTTP 500"):
        paycore_any_gateway(handler).create(paycore_order())


def test_read_timeout_is_transport_error_that_may_have_reached(paycore_any_gateway, paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(TransportError) as excinfo:
        paycore_any_gateway(handler).create(paycore_order())
    assert excinfo.value.may_have_reached_gateway


def test_custom_paths(paycore_any_gateway, paycore_order):
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"status": "1", "payUrl": "https://x/p"})

    paycore_any_gateway(handler, create_path="/pay/submit.php").create(paycore_order())
    assert seen == ["/pay/submit.php"]


def test_form_flow_carries_every_field_signed_and_does_no_io(paycore_any_gateway, peer, paycore_order, helpers):
    payment = paycore_any_gateway(peer).create(paycore_order(attach="a&b"), flow="form")
    assert peer.requests == []
    form = payment.form
    assert form is not None
    assert form.action == "https://pay.example.com/Pay_Index.html"
    assert "type" not in form.fields  # the browser gets the gateway's HTML cashier
    signed = {name: form.fields[name] for name in SIGNED_CREATE_FIELDS}
    assert form.fields["pay_md5sign"] == helpers.sign(signed, "t4ig5acnpx4fet4zapshjacjd9o4bhbi")
    assert form.fields["pay_productname"] == "Green tea"
    assert form.fields["pay_attach"] == "b64.YSZi"
    page = form.to_html()
    assert 'action="https://pay.example.com/Pay_Index.html"' in page
    assert f'name="pay_md5sign" value="{form.fields["pay_md5sign"]}"' in page


def test_form_flow_is_accepted_by_the_peer_when_posted(peer, paycore_order, settings):
    from paycore import Gateway

    with Gateway("juhe", settings) as gateway:
        form = gateway.create(paycore_order(), flow="form").form
    assert form is not None
    # what the browser would POST: the form's fields, form-encoded
    response = peer(httpx.Request("POST", form.action, data=form.fields))
    assert response.json()["status"] == "1"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"base_url": "ftp://x"}, "base_url"),
        ({"base_url": "https://x/?a=1"}, "base_url"),
        ({"merchant_id": ""}, "merchant_id"),
        ({"merchant_id": "a&b"}, "merchant_id"),
        ({"secret_key": ""}, "secret_key"),
        ({"create_path": "Pay_Index.html"}, "create_path"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"channels": {"alipay_qr": "9&3"}}, "channels"),
        ({"unknown_setting": "1"}, "unknown_setting"),
    ],
)
def test_bad_settings_are_config_errors(settings, overrides, field):
    from paycore import Gateway

    with pytest.raises(ConfigError, match=field) as excinfo:
        Gateway("juhe", {**settings, **overrides})
    assert "t4ig5acnpx4fet4zapshjacjd9o4bhbi" not in str(excinfo.value)


def test_missing_settings_name_each(settings):
    from paycore import Gateway

    with pytest.raises(ConfigError, match=r"base_url.*merchant_id.*secret_key"):
        Gateway("juhe", {})


@pytest.mark.parametrize(
    "hostile",
    [
        "<meta " * 40_000,
        "<script" * 35_000,
        "location = '<" * 20_000,
        '<meta http-equiv=refresh content="' + "0;" * 120_000,
        "<" + "a" * 250_000,
    ],
    ids=["meta", "script", "location", "refresh", "unterminated"],
)
def test_hostile_html_just_under_the_cap_is_a_protocol_error(paycore_any_gateway, paycore_order, hostile):
    # Linear-time reading: these took minutes with backtracking patterns (benchmarks/juhe_html.py).
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html=hostile)

    with pytest.raises(ProtocolError, match="flow='form'"):
        paycore_any_gateway(handler).create(paycore_order())


def test_pathologically_nested_json_is_a_protocol_error(paycore_any_gateway, paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="[" * 100_000 + "]" * 100_000)

    with pytest.raises(ProtocolError, match="nested too deeply") as excinfo:
        paycore_any_gateway(handler).create(paycore_order())
    assert excinfo.value.may_have_reached_gateway


@pytest.mark.parametrize(
    "pay_url",
    [
        "https://pay.example.com/cashier?osn=1 2",
        "https://u:p@pay.example.com/",
        "http://evil.example\\@pay.example.com/x",
        "https://pay.example.com:99999/x",
    ],
)
def test_an_unusable_pay_url_after_the_order_was_accepted_is_protocol_error(
    paycore_any_gateway, paycore_order, pay_url
):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "1", "payUrl": pay_url})

    with pytest.raises(ProtocolError, match="may exist") as excinfo:
        paycore_any_gateway(handler).create(paycore_order())
    assert excinfo.value.may_have_reached_gateway


@pytest.mark.parametrize("currency", ["USD", "JPY", "HKD"])
def test_an_order_in_another_currency_is_refused_before_any_io(paycore_any_gateway, peer, paycore_order, currency):
    # juhe's platforms take yuan: a USD order sent as the same number would be paid in CNY.
    amount = Decimal("100") if currency == "JPY" else Decimal("100.00")
    with pytest.raises(InvalidRequest, match=f"{currency}.*CNY"):
        paycore_any_gateway(peer).create(paycore_order(currency=currency, amount=amount))
    assert peer.requests == []


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, {"html": '<script>location.href="http://[pay.example.com/cashier";</script>'}),
        (200, {"html": '<meta http-equiv="refresh" content="0;url=https://pay.example.com]:x/[a">'}),
    ],
    ids=["script", "meta refresh"],
)
def test_a_redirect_to_an_unreadable_url_is_a_protocol_error(paycore_any_gateway, paycore_order, status, answer):
    # urllib raises ValueError on an unclosed '[': the gateway's answer is at fault, not the provider.
    with pytest.raises(ProtocolError):
        paycore_any_gateway(lambda request: httpx.Response(status, **answer)).create(paycore_order())
