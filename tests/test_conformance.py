"""paycore's own conformance runs: the fake provider (through an in-memory gateway) passes the suite."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pydantic

import paycore
from paycore import NotificationRequest, Order, SignatureError
from paycore.sandbox import Sandbox, SandboxOptions
from paycore.testing import FakeGateway, FakeProvider, FakeSettings
from paycore.testing._conformance_base import ConformanceBase
from paycore.testing.conformance import ConformanceWorld, ProviderConformance
from tests.seam_providers import KEY, GetPay, HookPay, MiniSandbox, QrPay, SeamSettings


class TestFakeConformance(ProviderConformance):
    provider = FakeProvider

    @contextlib.contextmanager
    def world(self) -> Iterator[ConformanceWorld]:
        fake = FakeGateway()
        # Another merchant on the same fake platform, signing with the same (default) key.
        other = FakeGateway(FakeSettings(merchant_id="another-merchant"))

        def pay(order: Order) -> NotificationRequest:
            fake.pay(order.order_id)
            return fake.notification_request(order.order_id, path="/notify/conformance")

        def pay_other(order: Order) -> NotificationRequest:
            other.pay(order.order_id)
            return other.notification_request(order.order_id, path="/notify/conformance")

        other_merchant = ConformanceWorld(
            settings={"merchant_id": "another-merchant"}, pay=pay_other, transport=httpx.MockTransport(other)
        )
        yield ConformanceWorld(settings={}, pay=pay, transport=httpx.MockTransport(fake), other_merchant=other_merchant)


BROKEN_PROVIDER = """
import contextlib
from decimal import Decimal

import httpx
import pydantic

import paycore
from paycore.testing import FakeGateway, FakeProvider, fake_sign
from paycore.testing.conformance import ConformanceWorld, ProviderConformance
from tests.seam_providers import GetPay, HookPay, QrPay


class LeakySettings(paycore.ProviderSettings):
    base_url: str = "https://fake-gateway.invalid"
    merchant_id: str = "fake-merchant"
    secret_key: str = "fake-secret"  # not a SecretStr
    ack: str = "ok"


class BrokenProvider(FakeProvider):
    settings_model = LeakySettings
    provider_name = "broken"

    def _signed(self, fields):
        fields["merchant_id"] = self.settings.merchant_id
        fields["sign"] = fake_sign(fields, self.settings.secret_key)
        return fields

    @paycore.hookimpl
    def query_payment(self, order_id):
        response = yield self._post("/orders/query", {"order_id": order_id})
        order = response.json()["order"]  # trusts the answer's shape
        return paycore.Payment(order_id=order["order_id"], status=order["status"], amount=Decimal(order["amount"]),
                               provider=self.name, account=self.account)

    @paycore.hookimpl
    def verify_notification(self, request):
        fields = request.form_fields()  # never checks the signature
        return paycore.Notification(order_id=fields["order_id"], status=fields["status"],
                                    amount=Decimal(fields["amount"]), currency="CNY", provider=self.name,
                                    account=self.account,
                                    raw=fields, ack=paycore.Reply(body="ok"))


class TestBrokenConformance(ProviderConformance):
    provider = BrokenProvider

    @contextlib.contextmanager
    def world(self):
        fake = FakeGateway()

        def pay(order):
            fake.pay(order.order_id)
            return fake.notification_request(order.order_id)

        yield ConformanceWorld(settings={}, pay=pay, transport=httpx.MockTransport(fake))
"""


def test_a_broken_provider_fails_with_messages_that_say_what_to_fix(pytester):
    pytester.makepyfile(test_broken=BROKEN_PROVIDER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-p", "no:anyio")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 4
    output = result.stdout.str()
    assert "FAILED test_broken.py::TestBrokenConformance::test_settings_model_refuses_unknown_settings" in output
    assert "setting 'secret_key' looks secret but is <class 'str'>: declare it pydantic.SecretStr" in output
    assert "FAILED test_broken.py::TestBrokenConformance::test_tampered_notifications_are_refused" in output
    assert "a tampered notification was accepted (field merchant_id changed; changed: ['merchant_id'])" in output
    assert "FAILED test_broken.py::TestBrokenConformance::test_malformed_and_oversized_notifications" in output
    assert (
        "failed during verify: KeyError at test_broken.py:39: refuse such input with a paycore.VerificationError"
        in output
    )
    assert "FAILED test_broken.py::TestBrokenConformance::test_malformed_answers_are_typed_errors" in output
    assert "an unexpected exception escaped the provider" in output
    # what a broken provider still gets right passes: its hooks match the specs
    passed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-p", "no:anyio", "-k", "hooks_match")
    passed.assert_outcomes(passed=1)


# The seam providers (GET notifications, JSON signed over headers, QR answers) on their mini sandboxes.
class TestGetPayConformance(ProviderConformance):
    provider = GetPay


class TestHookPayConformance(ProviderConformance):
    provider = HookPay
    signed_notification_headers = frozenset({"x-hook-timestamp", "x-hook-nonce", "x-hook-signature"})
    notification_max_age = HookPay.max_age


class TestQrPayConformance(ProviderConformance):
    provider = QrPay


ONE_CHANNEL_PROVIDER = """
import contextlib

import httpx

import paycore
from paycore.testing import FakeGateway, FakeProvider, fake_sign
from paycore.testing.conformance import ConformanceWorld, ProviderConformance


class OneChannelProvider(FakeProvider):
    provider_name = "one-channel"

    @paycore.hookimpl
    def create_payment(self, order, flow):
        if order.channel is not paycore.Channel.ALIPAY_QR:
            # A bug only the other channels meet: the order is signed with another key.
            self._signed = lambda fields: {**fields, "merchant_id": self.settings.merchant_id,
                                           "sign": fake_sign(fields, "not-the-key")}
        return (yield from FakeProvider.create_payment(self, order, flow))


class TestOneChannelConformance(ProviderConformance):
    provider = OneChannelProvider

    @contextlib.contextmanager
    def world(self):
        fake = FakeGateway()

        def pay(order):
            fake.pay(order.order_id)
            return fake.notification_request(order.order_id)

        yield ConformanceWorld(settings={}, pay=pay, transport=httpx.MockTransport(fake))
"""


def test_a_provider_broken_on_a_channel_other_than_the_first_fails(pytester):
    pytester.makepyfile(test_one_channel=ONE_CHANNEL_PROVIDER)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "-p", "no:anyio", "-k", "every_declared_channel or create_pay_verify"
    )
    result.assert_outcomes(passed=2, failed=1)  # the first channel's round trip passes, under both gateways
    assert "FAILED test_one_channel.py::TestOneChannelConformance::test_every_declared_channel_and_flow_is_paid" in (
        result.stdout.str()
    )


class _ClaimsOnly:
    """A verifier for another merchant's account: it cannot verify, but can say which order a message claims."""

    def notification_order_id(self, received: NotificationRequest) -> str | None:
        return "O-SEALED" if received.body.startswith(b"sealed:") else None

    def verify_notification(self, received: NotificationRequest) -> None:
        raise SignatureError("not this account's")


def test_the_suites_endpoint_finds_an_encrypted_notification_by_the_order_it_claims():
    from paycore.testing._conformance_base import _Endpoint

    endpoint = _Endpoint(_ClaimsOnly())  # type: ignore[arg-type]  # only the two hooks are used
    sealed = NotificationRequest(body=b"sealed:3q2+7w==")  # no order id in clear text
    endpoint.received.put(NotificationRequest(body=b"something else"))
    endpoint.received.put(sealed)
    assert endpoint.wait_for("O-SEALED") is sealed


UNCHECKED_HEADERS_PROVIDER = """
import time

import paycore
from paycore import toolkit
from paycore.testing.conformance import ProviderConformance
from tests.seam_providers import HookPay


class TrustingHookPay(HookPay):
    provider_name = "trusting-hookpay"

    @paycore.hookimpl
    def verify_notification(self, request):
        # The signature and the timestamp are never checked: only the body is read.
        fields = toolkit.load_json(request.body)
        if not isinstance(fields, dict) or not isinstance(fields.get("order_id"), str):
            raise paycore.MalformedNotification("not an object with an order_id")
        return self._notification(fields, paycore.Reply(status=204))


class TestTrustingHookPayConformance(ProviderConformance):
    provider = TrustingHookPay
    signed_notification_headers = frozenset({"x-hook-timestamp", "x-hook-nonce", "x-hook-signature"})


class LaxHookPay(HookPay):
    provider_name = "lax-hookpay"

    @paycore.hookimpl
    def verify_notification(self, request):
        if request.header("x-hook-signature") is None:  # "unsigned": read as it is
            fields = toolkit.load_json(request.body)
            return self._notification(fields, paycore.Reply(status=204))
        return HookPay.verify_notification(self, request)


class TestLaxHookPayConformance(ProviderConformance):
    provider = LaxHookPay
    signed_notification_headers = frozenset({"x-hook-timestamp", "x-hook-nonce", "x-hook-signature"})


class ClocklessHookPay(HookPay):
    provider_name = "clockless-hookpay"
    max_age = 10**12  # the signature is checked, its timestamp never: a notification replays for ever


class TestClocklessHookPayConformance(ProviderConformance):
    provider = ClocklessHookPay
    notification_max_age = 300
"""


def test_a_header_signed_provider_that_skips_its_signature_check_fails(pytester):
    pytester.makepyfile(test_trusting=UNCHECKED_HEADERS_PROVIDER)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "-p", "no:anyio", "-k", "tampered or replayed"
    )
    # Trusting and Lax fail tampering; Clockless passes it (its signature is checked) and fails the replay.
    result.assert_outcomes(passed=1, failed=3, skipped=2)
    assert "TestClocklessHookPayConformance::test_a_replayed_notification_is_refused_once_stale" in result.stdout.str()
    output = result.stdout.str()
    assert "a tampered notification was accepted (member order_id changed" in output  # nothing checked at all
    # The body untouched, the signature header dropped: only the header check can see it.
    assert "whose signed header was tampered with was accepted (header x-hook-signature dropped)" in output


class _KeyedSettings(SeamSettings):
    signing_key: pydantic.SecretStr
    label: str = "shop"


class _KeyedSandbox(MiniSandbox):
    """Keeps the options it was made with; takes a second secret, as multi-key protocols' sandboxes do."""

    credential_names = frozenset({"secret_key", "signing_key", "label"})
    made: ClassVar[list[SandboxOptions]] = []

    def __init__(self, options: SandboxOptions) -> None:
        super().__init__(
            options, create=lambda fields, url: {"code": 0}, notify=lambda fields, url: httpx.Request("GET", url)
        )
        self.made.append(options)
        self.signing_key = options.credentials.get("signing_key", "generated-signing-key")

    def account_settings(self) -> dict[str, Any]:
        return {**super().account_settings(), "signing_key": self.signing_key, "label": "first"}


class _KeyedPay(HookPay):
    settings_model = _KeyedSettings

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        return _KeyedSandbox(options)


def test_the_second_merchants_sandbox_gets_every_secret_setting_it_takes():
    # The "another merchant" check needs the same keys on both sandboxes, so that only the merchant id can
    # refuse: every SecretStr setting the sandbox takes is forwarded (secret_key keeps its own option).
    class _Keyed(ConformanceBase):
        provider = _KeyedPay

    _KeyedSandbox.made.clear()
    with _Keyed().world() as world:
        assert world.other_merchant is not None
        assert world.other_merchant.settings["signing_key"] == "generated-signing-key"
    first, second = _KeyedSandbox.made
    assert first.credentials == {}
    assert second.credentials == {"signing_key": "generated-signing-key"}  # not label: it is no secret
    assert second.secret_key == KEY
    assert "generated-signing-key" not in repr(second)
