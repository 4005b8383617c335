"""Notifications: verified over their headers, then opened with the APIv3 key; tampering of any part refused."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

import paycore
from paycore import (
    MerchantMismatch,
    NotificationHandler,
    OrderRecord,
    Outcome,
    PaymentStatus,
    RefundStatus,
    VerificationError,
)
from paycore.stores import MemoryStore


@pytest.fixture
def gateway(settings):
    with paycore.Gateway("wechatpay", settings, account="main") as gateway:
        yield gateway


def test_a_genuine_payment_notification_is_paid_in_exact_yuan(gateway, wx):
    notification = gateway.verify_notification(wx.notification(wx.transaction(attach="cart 7")))
    assert notification.order_id == "WX20261205001"
    assert notification.status is PaymentStatus.PAID
    assert (notification.amount, notification.paid_amount) == (Decimal("9.90"), Decimal("9.90"))
    assert notification.currency == "CNY"
    assert notification.transaction_id == "4200000985202612050000000001"
    assert notification.paid_at is not None
    assert notification.paid_at.isoformat() == "2026-12-05T10:00:00+08:00"
    assert notification.attach == "cart 7"
    assert notification.refund is None
    # acknowledged by a 204 with no body
    assert (notification.ack.status, notification.ack.body) == (204, "")


def test_payer_total_below_total_is_what_was_paid(gateway, wx):
    resource = wx.transaction(amount={"total": 990, "payer_total": 890, "currency": "CNY"})
    notification = gateway.verify_notification(wx.notification(resource))
    assert (notification.amount, notification.paid_amount) == (Decimal("9.90"), Decimal("8.90"))


def _headers_changed(request, name, value):
    headers = {key: val for key, val in request.headers.items() if key.lower() != name.lower()}
    if value is not None:
        headers[name] = value
    return paycore.NotificationRequest(method="POST", path="/notify", headers=headers, body=request.body)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Wechatpay-Timestamp", "+1"),  # a second later than signed
        ("Wechatpay-Timestamp", None),
        ("Wechatpay-Nonce", "another-nonce"),
        ("Wechatpay-Nonce", None),
        ("Wechatpay-Signature", "AAAA"),
        ("Wechatpay-Signature", None),
        ("Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000000000000"),
        ("Wechatpay-Serial", None),
        ("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA4096"),
        ("Wechatpay-Signature-Type", None),
    ],
)
def test_each_header_changed_or_dropped_is_refused(gateway, wx, header, value):
    genuine = wx.notification(wx.transaction())
    if value == "+1":
        value = str(int(genuine.header("wechatpay-timestamp") or 0) + 1)
    with pytest.raises(VerificationError):
        gateway.verify_notification(_headers_changed(genuine, header, value))


def test_a_header_given_twice_is_refused(gateway, wx):
    genuine = wx.notification(wx.transaction())
    for name in ("Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Timestamp", "Wechatpay-Nonce"):
        doubled = [*genuine.headers.items(), (name, genuine.header(name.lower()) or "")]
        request = paycore.NotificationRequest(method="POST", path="/notify", headers=doubled, body=genuine.body)
        with pytest.raises(VerificationError):
            gateway.verify_notification(request)


def test_tampering_with_the_body_ciphertext_or_associated_data_is_refused(gateway, wx):
    envelope = wx.envelope(wx.transaction())
    genuine = wx.signed(json.dumps(envelope).encode())
    gateway.verify_notification(genuine)
    # the body changed after signing: any byte
    with pytest.raises(VerificationError):
        gateway.verify_notification(_with_body(genuine, genuine.body.replace(b"TRANSACTION", b"TRANSACTIOn")))
    for part, value in [("ciphertext", "A" + envelope["resource"]["ciphertext"][1:]), ("associated_data", "refund")]:
        changed = json.loads(json.dumps(envelope))
        changed["resource"][part] = value
        body = json.dumps(changed).encode()
        # as an attacker would send it (old signature) and as if the platform had signed it: refused both ways
        with pytest.raises(VerificationError):
            gateway.verify_notification(_with_body(genuine, body))
        with pytest.raises(VerificationError, match="cannot be read"):
            gateway.verify_notification(wx.signed(body))


def _with_body(request, body):
    return paycore.NotificationRequest(method="POST", path="/notify", headers=request.headers, body=body)


def test_a_stale_or_future_timestamp_is_refused(gateway, wx):
    for offset in (-301 - 5, 306):
        with pytest.raises(VerificationError, match="5 minutes off"):
            gateway.verify_notification(wx.notification(wx.transaction(), timestamp=int(time.time()) + offset))
    gateway.verify_notification(wx.notification(wx.transaction(), timestamp=int(time.time()) - 240))


def test_another_key_or_an_unknown_serial_is_refused(gateway, wx, keys):
    with pytest.raises(VerificationError, match="not signed by the platform key"):
        gateway.verify_notification(wx.notification(wx.transaction(), key=keys.stranger_private))
    with pytest.raises(VerificationError, match="does not know"):
        gateway.verify_notification(wx.notification(wx.transaction(), serial="PUB_KEY_ID_0199999999999999"))


def test_another_merchant_or_app_is_refused(gateway, wx):
    with pytest.raises(MerchantMismatch, match="mchid"):
        gateway.verify_notification(wx.notification(wx.transaction(mchid="1900000110")))
    with pytest.raises(MerchantMismatch, match="appid"):
        gateway.verify_notification(wx.notification(wx.transaction(appid="wx0000000000000000")))


def test_a_sealed_resource_of_another_apiv3_key_is_refused(gateway, wx):
    envelope = wx.envelope(wx.transaction())
    envelope["resource"].update(wx.seal(json.dumps(wx.transaction()).encode(), key="z" * 32))
    with pytest.raises(VerificationError, match="cannot be read"):
        gateway.verify_notification(wx.signed(json.dumps(envelope).encode()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_type": "TRANSACTION.CLOSED"}, "neither a payment nor a refund"),
        ({"resource_type": "plain-resource"}, "not an encrypt-resource"),
        ({"event_type": "REFUND.SUCCESS"}, "original_type is not 'refund'"),
    ],
)
def test_events_and_envelopes_it_does_not_know_are_refused(gateway, wx, change, message):
    envelope = {**wx.envelope(wx.transaction()), **change}
    with pytest.raises(VerificationError, match=message):
        gateway.verify_notification(wx.signed(json.dumps(envelope).encode()))


def test_a_success_event_must_say_success(gateway, wx):
    with pytest.raises(VerificationError, match="trade_state is not SUCCESS"):
        gateway.verify_notification(wx.notification(wx.transaction(trade_state="NOTPAY")))
    resource = wx.transaction(amount={"total": 990, "payer_total": 990, "currency": "USD"})
    with pytest.raises(VerificationError, match="not in CNY"):
        gateway.verify_notification(wx.notification(resource))


@pytest.mark.parametrize("amount", [{"total": 9.9}, {"total": "990"}, {"total": -1}, {"total": True}, {}])
def test_amounts_are_whole_fen(gateway, wx, amount):
    with pytest.raises(VerificationError):
        gateway.verify_notification(wx.notification(wx.transaction(amount=amount)))


def test_a_get_or_a_non_json_body_is_refused(gateway, wx):
    genuine = wx.notification(wx.transaction())
    with pytest.raises(VerificationError, match="by POST"):
        gateway.verify_notification(
            paycore.NotificationRequest(method="GET", path="/notify", headers=genuine.headers, body=genuine.body)
        )
    with pytest.raises(VerificationError):
        gateway.verify_notification(wx.signed(b"not json"))
    with pytest.raises(VerificationError, match="naming a key twice"):
        gateway.verify_notification(wx.signed(b'{"event_type":"TRANSACTION.SUCCESS","event_type":"REFUND.SUCCESS"}'))


def _refund_resource(wx, status="SUCCESS", **changes):
    resource = {
        "mchid": wx.mchid,
        "out_trade_no": "WX20261205001",
        "transaction_id": "4200000985202612050000000001",
        "out_refund_no": "R20261205001",
        "refund_id": "50000000382019052709732678859",
        "refund_status": status,
        "success_time": "2026-12-05T11:00:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {"total": 990, "refund": 500, "payer_total": 990, "payer_refund": 500},
    }
    resource.update(changes)
    return resource


@pytest.mark.parametrize(
    ("event", "payment_status", "refund_status"),
    [
        ("REFUND.SUCCESS", PaymentStatus.REFUNDED, RefundStatus.SUCCEEDED),
        ("REFUND.ABNORMAL", PaymentStatus.UNKNOWN, RefundStatus.FAILED),
        ("REFUND.CLOSED", PaymentStatus.UNKNOWN, RefundStatus.FAILED),
    ],
)
def test_refund_notifications_carry_the_refund_never_a_payment(gateway, wx, event, payment_status, refund_status):
    status = event.partition(".")[2]
    request = wx.notification(_refund_resource(wx, status), event_type=event, original_type="refund")
    notification = gateway.verify_notification(request)
    assert notification.status is payment_status
    assert notification.refund is not None
    assert (notification.refund.refund_id, notification.refund.amount) == ("R20261205001", Decimal("5.00"))
    assert notification.refund.status is refund_status
    assert notification.amount == Decimal("9.90")


def test_a_refund_event_must_match_its_refund_status(gateway, wx):
    request = wx.notification(_refund_resource(wx, "CLOSED"), event_type="REFUND.SUCCESS", original_type="refund")
    with pytest.raises(VerificationError, match="refund_status says otherwise"):
        gateway.verify_notification(request)
    request = wx.notification(
        _refund_resource(wx, mchid="1900000110"), event_type="REFUND.SUCCESS", original_type="refund"
    )
    with pytest.raises(MerchantMismatch):
        gateway.verify_notification(request)


def test_the_handler_acknowledges_a_refund_notification_and_applies_nothing(gateway, wx):
    orders = {"WX20261205001": OrderRecord("WX20261205001", Decimal("9.90"), account="main")}
    paid: list[paycore.AppliedPayment] = []
    accounts = paycore.Accounts({"main": gateway}, default="main")
    handler = NotificationHandler(accounts, lookup=orders.get, on_paid=paid.append, store=MemoryStore())
    refund = wx.notification(_refund_resource(wx), event_type="REFUND.SUCCESS", original_type="refund")
    handled = handler.process(refund)
    assert handled.outcome is Outcome.NOTHING_TO_APPLY
    assert (handled.reply.status, paid) == (204, [])
    handled = handler.process(wx.notification(wx.transaction()))
    assert handled.outcome is Outcome.APPLIED
    assert [payment.order_id for payment in paid] == ["WX20261205001"]


def test_failure_replies_are_json_4xx_or_5xx_never_2xx(gateway):
    for reason, status in [("bad signature", 400), ("amount mismatch", 400), ("busy", 500), ("store failed", 500)]:
        reply = gateway.failure_reply(reason)
        assert reply.status == status
        assert reply.content_type == "application/json"
        assert json.loads(reply.body) == {"code": "FAIL", "message": reason}


def test_the_order_id_is_read_only_with_this_accounts_key(gateway, wx, settings):
    request = wx.notification(wx.transaction())
    assert gateway.notification_order_id(request) == "WX20261205001"
    with paycore.Gateway("wechatpay", {**settings, "apiv3_key": "y" * 32}) as other:
        assert other.notification_order_id(request) is None


def test_explain_signature_names_the_key_and_never_a_digest(gateway, wx, keys):
    explanation = gateway.explain_signature(wx.notification(wx.transaction()))
    (candidate,) = explanation.candidates
    assert candidate.matched
    assert candidate.key_id == wx.public_key_id
    assert candidate.digest == ""
    forged = gateway.explain_signature(wx.notification(wx.transaction(), key=keys.stranger_private))
    assert not forged.candidates[0].matched
