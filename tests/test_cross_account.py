"""A notification signed by one configured account must not pay an order of another.

The account in the notify path picks the key that verifies; an attacker picks the
path. With a second account whose key is known (the sandbox's public test key pasted
beside production), a notification for a production order, signed with that key
and posted to the other account's path, verifies — and must still not be applied.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from paycore_juhe import sign

import paycore
import paycore.testing
from paycore.handler import NotificationHandler, OrderRecord
from paycore.sandbox import PUBLIC_SANDBOX_KEY
from paycore.stores import MemoryStore

PRODUCTION = {"base_url": "https://pay.example.com", "merchant_id": "10001", "secret_key": "production-secret-key"}
SANDBOX = {"base_url": "http://127.0.0.1:8000", "merchant_id": "10002", "secret_key": PUBLIC_SANDBOX_KEY}


def _forged(order_id: str) -> paycore.NotificationRequest:
    fields = {
        "memberid": "10002",
        "orderid": order_id,
        "amount": "999.00",
        "transaction_id": "T1",
        "datetime": "20261128120000",
        "returncode": "00",
    }
    fields["sign"] = sign(fields, PUBLIC_SANDBOX_KEY)
    return paycore.NotificationRequest(path="/pay/notify/sandbox", body=urlencode(fields).encode())


@pytest.fixture
def accounts():
    gateways = {
        "main": paycore.Gateway("juhe", PRODUCTION, account="main"),
        "sandbox": paycore.Gateway("juhe", SANDBOX, account="sandbox"),
    }
    with paycore.Accounts(gateways, default="main", allow_public_test_keys=True) as both:
        yield both


def test_the_handler_refuses_an_order_whose_record_names_no_account_among_several(accounts):
    orders = {"PROD123": OrderRecord("PROD123", Decimal("999.00"))}  # the merchant stored no account
    paid: list[paycore.AppliedPayment] = []
    handler = NotificationHandler(accounts, lookup=orders.get, on_paid=paid.append, store=MemoryStore())
    handled = handler.process(_forged("PROD123"))
    assert handled.outcome is paycore.Outcome.MISMATCH
    assert paid == []


def test_with_one_account_a_record_without_one_belongs_to_it():
    fields = {
        "memberid": "10001",
        "orderid": "A1",
        "amount": "1.00",
        "transaction_id": "T1",
        "datetime": "20261128120000",
        "returncode": "00",
    }
    fields["sign"] = sign(fields, PRODUCTION["secret_key"])
    genuine = paycore.NotificationRequest(path="/pay/notify/main", body=urlencode(fields).encode())
    paid: list[paycore.AppliedPayment] = []
    with paycore.Accounts({"main": paycore.Gateway("juhe", PRODUCTION, account="main")}) as single:
        orders = {"A1": OrderRecord("A1", Decimal("1.00"))}
        handler = NotificationHandler(single, lookup=orders.get, on_paid=paid.append, store=MemoryStore())
        assert handler.process(genuine).outcome is paycore.Outcome.APPLIED
    assert [event.account for event in paid] == ["main"]


def test_check_against_compares_the_account(accounts):
    notification = accounts.verify_notification(_forged("PROD123"))
    order = paycore.Order(
        order_id="PROD123",
        amount=Decimal("999.00"),
        channel="alipay_qr",
        subject="tv",
        notify_url="https://shop.example/pay/notify/main",
        return_url="https://shop.example/done",
    )
    with pytest.raises(paycore.MerchantMismatch, match="account 'sandbox'"):
        notification.check_against(order, account="main")


def test_accounts_refuse_a_public_test_key_beside_real_accounts():
    gateways = {
        "main": paycore.Gateway("juhe", PRODUCTION, account="main"),
        "sandbox": paycore.Gateway("juhe", SANDBOX, account="sandbox"),
    }
    with pytest.raises(paycore.ConfigError, match="public test key"):
        paycore.Accounts(gateways, default="main")
    with paycore.Accounts({"sandbox": gateways["sandbox"]}):  # the sandbox alone is fine
        pass


class _TwoKeyTestProvider(paycore.testing.FakeProvider):
    """A provider whose sandbox documents a test credential of its own, beside paycore's public key."""

    provider_name = "two-key"
    public_test_credentials = frozenset({"two-key-public-test-credential"})


def test_a_providers_own_public_test_credential_is_refused_beside_real_accounts_and_reported():
    from paycore._check import secret_placeholder_reason

    gateways = {
        "main": paycore.Gateway(
            paycore.testing.FakeProvider, {"secret_key": "a-real-secret-of-the-merchant"}, account="main"
        ),
        "test": paycore.Gateway(_TwoKeyTestProvider, {"secret_key": "two-key-public-test-credential"}, account="test"),
    }
    with pytest.raises(paycore.ConfigError, match=r"account\(s\) test use the sandbox's public test key"):
        paycore.Accounts(gateways, default="main")
    with paycore.Accounts({"test": gateways["test"]}):  # alone, as in a sandbox session, it is fine
        pass
    public = _TwoKeyTestProvider.public_test_credentials
    assert secret_placeholder_reason("two-key-public-test-credential", public) == "is the public sandbox test key"
    assert secret_placeholder_reason("two-key-public-test-credential") is None  # another provider's: not known
    # Printed by its sandbox, it hides nothing: messages do not mask it (nor every word it begins with).
    assert "two-key-public-test-credential" not in gateways["test"]._runtime.masked_secrets
    assert "a-real-secret-of-the-merchant" in gateways["main"]._runtime.masked_secrets
