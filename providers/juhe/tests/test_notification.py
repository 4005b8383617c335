"""verify_notification: parsing the raw body, signs, merchant, amounts, status."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from paycore import (
    MalformedAmount,
    MalformedNotification,
    MerchantMismatch,
    MissingField,
    PaymentStatus,
    SignatureError,
)

KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
FIELDS = {
    "memberid": "10002",
    "orderid": "E2026112618181812345",
    "transaction_id": "20261126182000000001",
    "amount": "100.0000",
    "datetime": "2026-11-26 18:20:00",
    "returncode": "00",
}
SIGNED = ["memberid", "orderid", "transaction_id", "amount", "datetime", "returncode"]


def test_notification_signed_by_an_independent_implementation_verifies(paycore_any_gateway, helpers):
    notification = paycore_any_gateway(None).verify_notification(helpers.notification_body(FIELDS))
    assert notification.order_id == "E2026112618181812345"
    assert notification.status is PaymentStatus.PAID
    assert notification.amount == Decimal("100")
    assert notification.paid_amount == Decimal("100")
    assert notification.transaction_id == "20261126182000000001"
    assert notification.paid_at == datetime(2026, 11, 26, 18, 20, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert str(notification.ack) == "OK"
    assert (notification.ack.status, notification.ack.content_type) == (200, "text/plain; charset=utf-8")
    assert notification.raw["sign"] == "FF7ADF5F4D70DCCE0322931D4E343441"
    assert (notification.provider, notification.account) == ("juhe", "main")


def test_true_amount_is_the_paid_amount(paycore_any_gateway, helpers):
    body = helpers.notification_body({**FIELDS, "true_amount": "99.9900"})
    assert b"sign=074023EF8D5BDD8A7B2B0DC8551E42F8" in body
    notification = paycore_any_gateway(None).verify_notification(body)
    assert notification.amount == Decimal("100")
    assert notification.paid_amount == Decimal("99.99")


@pytest.mark.parametrize("field", [*SIGNED, "true_amount"])
def test_tampering_with_any_signed_field_is_refused(paycore_any_gateway, helpers, field):
    fields = {**FIELDS, "true_amount": "99.9900"}
    body = helpers.notification_body(fields).decode()
    tampered = body.replace(f"{field}={fields[field]}", f"{field}={fields[field]}9", 1)
    assert tampered != body
    with pytest.raises(SignatureError):
        paycore_any_gateway(None).verify_notification(tampered.encode())


def test_tampered_sign_is_refused(paycore_any_gateway, helpers):
    body = helpers.notification_body(FIELDS).replace(b"sign=FF7A", b"sign=FF7B")
    with pytest.raises(SignatureError):
        paycore_any_gateway(None).verify_notification(body)


def test_sign_with_another_key_is_refused(paycore_any_gateway, helpers):
    with pytest.raises(SignatureError):
        paycore_any_gateway(None).verify_notification(helpers.notification_body(FIELDS, key="another-key"))


def test_lower_case_sign_is_accepted(paycore_any_gateway, helpers):
    body = helpers.notification_body(FIELDS).replace(
        b"FF7ADF5F4D70DCCE0322931D4E343441", b"ff7adf5f4d70dcce0322931d4e343441"
    )
    assert paycore_any_gateway(None).verify_notification(body).status is PaymentStatus.PAID


def test_unencoded_attach_spilling_into_fake_fields(paycore_any_gateway, helpers):
    attach = "http://x/y.html?orderid=1&userId=U&price=300&amount=0.01&sign=00"
    notification = paycore_any_gateway(None).verify_notification(helpers.notification_body(FIELDS, attach=attach))
    assert notification.attach == attach
    assert notification.order_id == FIELDS["orderid"]
    assert notification.amount == Decimal("100")


def test_percent_encoded_attach_is_decoded(paycore_any_gateway, helpers):
    notification = paycore_any_gateway(None).verify_notification(
        helpers.notification_body(FIELDS, attach="%E4%BC%9A%E5%91%98%26x")
    )
    assert notification.attach == "会员&x"


def test_form_encoded_body_is_read_too(paycore_any_gateway, helpers):
    from urllib.parse import urlencode

    fields = {**FIELDS, "sign": helpers.sign(FIELDS, KEY), "attach": "a b&c"}
    notification = paycore_any_gateway(None).verify_notification(urlencode(fields).encode())
    assert notification.paid_at is not None
    assert notification.attach == "a b&c"


def test_mapping_body(paycore_any_gateway, helpers):
    fields = {**FIELDS, "sign": helpers.sign(FIELDS, KEY)}
    assert paycore_any_gateway(None).verify_notification(fields).order_id == FIELDS["orderid"]


def test_a_field_given_twice_is_refused(paycore_any_gateway, helpers):
    # PHP keeps the last, other parsers the first: a body with two readings is refused.
    body = helpers.notification_body(FIELDS)
    with pytest.raises(MalformedNotification, match="more than once"):
        paycore_any_gateway(None).verify_notification(body + b"&amount=0.01")
    with pytest.raises(MalformedNotification, match="more than once"):
        paycore_any_gateway(None).verify_notification(b"orderid=" + FIELDS["orderid"].encode() + b"&" + body)


def test_sign_including_attach_is_accepted(paycore_any_gateway, helpers):
    # some integrations sign every field but sign, attach included
    signed = {**FIELDS, "attach": "cart-7"}
    body = "&".join(f"{k}={v}" for k, v in FIELDS.items()) + f"&sign={helpers.sign(signed, KEY)}&attach=cart-7"
    assert paycore_any_gateway(None).verify_notification(body.encode()).attach == "cart-7"


def test_sign_keeping_a_zero_value_is_accepted(paycore_any_gateway, helpers):
    fields = {**FIELDS, "returncode": "0"}  # failed payment; "0" kept in the signed string
    text = "&".join(f"{k}={v}" for k, v in fields.items())
    import hashlib

    kept = hashlib.md5(("&".join(f"{k}={fields[k]}" for k in sorted(fields)) + "&key=" + KEY).encode()).hexdigest()
    notification = paycore_any_gateway(None).verify_notification(f"{text}&sign={kept.upper()}".encode())
    assert notification.status is PaymentStatus.FAILED
    assert notification.paid_amount is None


@pytest.mark.parametrize("returncode", ["01", "99", "FAIL"])
def test_returncode_other_than_00_is_failed(paycore_any_gateway, helpers, returncode):
    notification = paycore_any_gateway(None).verify_notification(
        helpers.notification_body({**FIELDS, "returncode": returncode})
    )
    assert notification.status is PaymentStatus.FAILED
    assert notification.paid_at is None


@pytest.mark.parametrize("field", ["memberid", "orderid", "amount", "transaction_id", "datetime", "returncode"])
def test_missing_field_is_malformed(paycore_any_gateway, helpers, field):
    fields = {k: v for k, v in FIELDS.items() if k != field}
    with pytest.raises(MissingField, match=field):
        paycore_any_gateway(None).verify_notification(helpers.notification_body(fields))


def test_missing_sign_is_malformed(paycore_any_gateway):
    body = "&".join(f"{k}={v}" for k, v in FIELDS.items()).encode()
    with pytest.raises(MissingField, match="sign"):
        paycore_any_gateway(None).verify_notification(body)


def test_wrong_merchant_is_refused_even_when_signed(paycore_any_gateway, helpers):
    with pytest.raises(MerchantMismatch):
        paycore_any_gateway(None).verify_notification(helpers.notification_body({**FIELDS, "memberid": "10003"}))


@pytest.mark.parametrize("amount", ["abc", "-1.00", "NaN", "1e999999", "0.0000"])
def test_malformed_amount_is_refused(paycore_any_gateway, helpers, amount):
    with pytest.raises(MalformedAmount, match="amount"):
        paycore_any_gateway(None).verify_notification(helpers.notification_body({**FIELDS, "amount": amount}))


def test_zero_true_amount_is_refused(paycore_any_gateway, helpers):
    with pytest.raises(MalformedAmount, match="true_amount"):
        paycore_any_gateway(None).verify_notification(helpers.notification_body({**FIELDS, "true_amount": "0.00"}))


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"garbage", b"memberid=%ZZ", b"memberid=%FF&orderid=1"])
def test_garbage_bodies_are_malformed(paycore_any_gateway, body):
    with pytest.raises(MalformedNotification):
        paycore_any_gateway(None).verify_notification(body)


def test_custom_ack(paycore_any_gateway, helpers):
    assert (
        paycore_any_gateway(None, ack="success").verify_notification(helpers.notification_body(FIELDS)).ack.body
        == "success"
    )


@pytest.mark.parametrize("sign", ["签名", "", " ", "FF7ADF5F4D70DCCE0322931D4E34344", "0" * 32])
def test_a_sign_that_is_not_the_digest_is_refused(paycore_any_gateway, helpers, sign):
    body = helpers.notification_body(FIELDS).replace(b"FF7ADF5F4D70DCCE0322931D4E343441", sign.encode())
    with pytest.raises((SignatureError, MissingField)):
        paycore_any_gateway(None).verify_notification(body)


def test_notifications_and_queries_say_they_settle_in_cny(paycore_any_gateway, helpers):
    # The platform settles in yuan: the handler compares this with the order's currency.
    assert paycore_any_gateway(None).verify_notification(helpers.notification_body(FIELDS)).currency == "CNY"


def test_amounts_come_with_the_yuan_precision_of_the_order(paycore_any_gateway, helpers):
    # The platform stores decimal(…,4) and sends 9.9000: an application printing or storing it saw four places.
    body = helpers.notification_body({**FIELDS, "amount": "9.9000", "true_amount": "9.8900"})
    notification = paycore_any_gateway(None).verify_notification(body)
    assert (str(notification.amount), str(notification.paid_amount)) == ("9.90", "9.89")
    # A value with more than the yuan's places is not rounded away: it is what was signed.
    odd = paycore_any_gateway(None).verify_notification(helpers.notification_body({**FIELDS, "amount": "9.9050"}))
    assert str(odd.amount) == "9.9050"
