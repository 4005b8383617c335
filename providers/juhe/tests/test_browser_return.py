"""The buyer's browser return: parsed for display, sign checked when present."""

from __future__ import annotations

from decimal import Decimal

import pytest
from paycore_juhe import parse_browser_return

from paycore import Gateway, InvalidRequest, MalformedNotification, PaymentStatus, SignatureError
from paycore.testing import FakeProvider

FIELDS = {
    "memberid": "10002",
    "orderid": "E2026112618181812345",
    "transaction_id": "20261126182000000001",
    "amount": "100.0000",
    "datetime": "2026-11-26 18:20:00",
    "returncode": "00",
}


@pytest.fixture
def gateway(settings):
    with Gateway("juhe", settings) as juhe:
        yield juhe


def test_signed_return_is_parsed_and_marked_checked(gateway, helpers):
    shown = parse_browser_return(helpers.notification_body(FIELDS, attach="cart-7"), gateway=gateway)
    assert shown.order_id == FIELDS["orderid"]
    assert shown.claimed_status is PaymentStatus.PAID
    assert shown.amount == Decimal("100")
    assert shown.attach == "cart-7"
    assert shown.signature_checked is True


def test_unsigned_return_is_parsed_but_not_checked(gateway):
    shown = parse_browser_return({"orderid": "A1", "returncode": "01"}, gateway=gateway)
    assert shown.signature_checked is False
    assert shown.claimed_status is PaymentStatus.FAILED
    assert shown.amount is None


def test_forged_sign_is_refused(gateway, helpers):
    body = helpers.notification_body(FIELDS).replace(b"amount=100.0000", b"amount=1.0000")
    with pytest.raises(SignatureError):
        parse_browser_return(body, gateway=gateway)


def test_return_without_order_id_is_malformed(gateway):
    with pytest.raises(MalformedNotification):
        parse_browser_return(b"returncode=00", gateway=gateway)


def test_needs_a_juhe_gateway():
    with Gateway(FakeProvider) as fake, pytest.raises(InvalidRequest, match="juhe"):
        parse_browser_return(b"orderid=1", gateway=fake)


@pytest.mark.parametrize("amount", ["NaN", "-5", "1E+999999999", "sNaN", "Infinity", " 5", "\uff15", "1_0", "0"])
def test_an_amount_not_written_as_gateways_write_them_is_malformed(gateway, amount):
    from paycore import MalformedAmount

    with pytest.raises(MalformedAmount, match="amount"):
        parse_browser_return({"orderid": "A1", "returncode": "00", "amount": amount}, gateway=gateway)


def test_attach_of_a_signed_return_is_decoded(gateway, helpers):
    shown = parse_browser_return(helpers.notification_body(FIELDS, attach="b64.5Lya5ZGY"), gateway=gateway)
    assert shown.attach == "会员"


def test_str_and_bytearray_bodies_are_read_like_bytes(gateway, helpers):
    body = helpers.notification_body(FIELDS)
    assert parse_browser_return(body.decode(), gateway=gateway).signature_checked
    assert parse_browser_return(bytearray(body), gateway=gateway).signature_checked


@pytest.mark.parametrize("body", [None, 5, 1.5, object(), ["orderid=1"]])
def test_other_bodies_are_invalid_requests(gateway, body):
    with pytest.raises(InvalidRequest, match="bytes, str or a mapping"):
        parse_browser_return(body, gateway=gateway)


def test_a_str_body_with_a_lone_surrogate_is_malformed(gateway):
    with pytest.raises(MalformedNotification, match="Unicode"):
        parse_browser_return("orderid=A\udc80", gateway=gateway)
