"""What real deployments send: reference time format, attach through every platform, long order ids."""

from __future__ import annotations

import html
from datetime import datetime
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paycore import Gateway, InvalidRequest, MalformedNotification, PaymentStatus

KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
FIELDS = {
    "memberid": "10002",
    "orderid": "E2026112618181812345",
    "transaction_id": "20261126182000000001",
    "amount": "100.0000",
    "datetime": "20261126182000",
    "returncode": "00",
}
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("sent", ["20261126182000", "2026-11-26 18:20:00"])
def test_both_time_formats_are_read(paycore_any_gateway, helpers, sent):
    notification = paycore_any_gateway(None).verify_notification(
        helpers.notification_body({**FIELDS, "datetime": sent})
    )
    assert notification.paid_at == datetime(2026, 11, 26, 18, 20, tzinfo=SHANGHAI)


@pytest.mark.parametrize("returncode", ["00", "01"])
@pytest.mark.parametrize(
    "sent",
    [
        "2026/11/26 18:20:00",
        "1764152400",
        "2026112618200",
        "20261326182000",
        "\uff12\uff10\uff12\uff16\uff11\uff11\uff12\uff16\uff11\uff18\uff12\uff10\uff10\uff10",
    ],
)
def test_a_time_in_no_known_format_is_malformed_never_a_silent_none(paycore_any_gateway, helpers, sent, returncode):
    body = helpers.notification_body({**FIELDS, "datetime": sent, "returncode": returncode})
    with pytest.raises(MalformedNotification, match="datetime"):
        paycore_any_gateway(None).verify_notification(body)


def _gateway_holds(sent: str) -> str:
    """What the gateway stores of ``pay_attach``: PHP decoded the form, then htmlspecialchars."""
    return html.escape(sent, quote=True).replace("&#x27;", "&#039;")


def _sent_attach(peer, paycore_order, paycore_any_gateway, attach: str) -> str:
    paycore_any_gateway(peer).create(paycore_order(attach=attach))
    return dict(parse_qsl(peer.requests[-1].content.decode(), keep_blank_values=True))["pay_attach"]


def _deliveries(helpers, held: str, *, sign_attach: bool) -> dict[str, object]:
    """The notification carrying ``held`` as the platforms deliver it."""
    signed = {**FIELDS, "attach": held} if sign_attach else FIELDS
    fields = {**FIELDS, "sign": helpers.sign(signed, KEY), "attach": held}
    raw = "&".join(f"{name}={value}" for name, value in fields.items()).encode()  # the reference: no encoding
    return {
        "raw": raw,
        "form-encoded": urlencode(fields).encode(),
        # a web framework parsed the raw body before handing it over
        "framework-parsed raw": dict(parse_qsl(raw.decode(), keep_blank_values=True)),
        "framework-parsed form": dict(parse_qsl(urlencode(fields), keep_blank_values=True)),
    }


ATTACHES = ["cart-7", "会员 7&x=1", "a+b%20c", "<b>'q'</b> \"x\"", "1234|456", "0", "", " lead", "=&=&"]


@pytest.mark.parametrize("sign_attach", [False, True], ids=["reference", "attach-signed"])
@pytest.mark.parametrize("attach", ATTACHES)
def test_attach_comes_back_exactly_as_given(paycore_any_gateway, peer, paycore_order, helpers, attach, sign_attach):
    held = _gateway_holds(_sent_attach(peer, paycore_order, paycore_any_gateway, attach))
    for delivery, body in _deliveries(helpers, held, sign_attach=sign_attach).items():
        notification = paycore_any_gateway(None).verify_notification(body)
        assert notification.attach == attach, delivery


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attach=_TEXT, sign_attach=st.booleans())
def test_any_attach_survives_any_platform(settings, peer, paycore_order, helpers, attach, sign_attach):
    with Gateway("juhe", settings) as gateway:
        gateway.create(paycore_order(attach=attach), flow="form")  # the same fields, no I/O
        sent = gateway.create(paycore_order(attach=attach), flow="form").form.fields["pay_attach"]
        held = _gateway_holds(sent)
        assert held == sent  # nothing for HTML escaping to change
        for delivery, body in _deliveries(helpers, held, sign_attach=sign_attach).items():
            assert gateway.verify_notification(body).attach == attach, delivery


def test_attach_zero_signed_with_zero_kept(paycore_any_gateway, helpers):
    # a platform that signs attach and keeps "0": the attach "0" is in its string
    fields = {**FIELDS, "attach": "0"}
    kept = "&".join(f"{name}={fields[name]}" for name in sorted(fields)) + f"&key={KEY}"
    import hashlib

    sign = hashlib.md5(kept.encode()).hexdigest().upper()
    body = "&".join(f"{k}={v}" for k, v in FIELDS.items()) + f"&sign={sign}&attach=0"
    assert paycore_any_gateway(None).verify_notification(body.encode()).attach == "0"


def test_empty_attach_always_appended_reads_as_none(paycore_any_gateway, helpers):
    assert paycore_any_gateway(None).verify_notification(helpers.notification_body(FIELDS, attach="")).attach is None


def test_order_id_limit_is_an_account_setting(paycore_any_gateway, peer, paycore_order):
    long_id = "E" * 21
    with pytest.raises(InvalidRequest, match="max_order_id_length"):
        paycore_any_gateway(peer).create(paycore_order(order_id=long_id))
    assert (
        paycore_any_gateway(peer, max_order_id_length=21).create(paycore_order(order_id=long_id)).status
        is PaymentStatus.PENDING
    )


def test_notification_for_a_50_character_order_id_verifies(paycore_any_gateway, helpers):
    long_id = "E" * 50
    assert (
        paycore_any_gateway(None)
        .verify_notification(helpers.notification_body({**FIELDS, "orderid": long_id}))
        .order_id
        == long_id
    )


def test_notification_order_id_past_what_any_platform_stores_is_malformed(paycore_any_gateway, helpers):
    with pytest.raises(MalformedNotification, match="50"):
        paycore_any_gateway(None).verify_notification(helpers.notification_body({**FIELDS, "orderid": "E" * 51}))


@pytest.mark.parametrize("attach", [b"%E4%B8", b"caf\xe9", b"%ZZ"])
def test_an_unreadable_unsigned_attach_does_not_cost_a_genuine_notification(paycore_any_gateway, helpers, attach):
    body = helpers.notification_body(FIELDS) + b"&attach=" + attach
    notification = paycore_any_gateway(None).verify_notification(body)
    assert notification.status is PaymentStatus.PAID
    assert notification.attach  # as well as it could be read


def test_a_body_with_a_byte_order_mark_verifies(paycore_any_gateway, helpers):
    body = b"\xef\xbb\xbf" + helpers.notification_body(FIELDS)
    assert paycore_any_gateway(None).verify_notification(body).status is PaymentStatus.PAID
