"""The WeChat Pay sandbox over loopback sockets: signed answers, sealed notifications resent until a 2xx, faults."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from paycore_wechatpay.sandbox import WechatpaySandbox

import paycore
from paycore.sandbox import SandboxOptions
from paycore.testing import Merchant


@pytest.fixture
def world():
    started: list[tuple[WechatpaySandbox, Merchant]] = []

    def start(
        *faults: str, answers: list[tuple[int, str]] | None = None, certificates: bool = False, **settings: str
    ) -> tuple[WechatpaySandbox, Merchant]:
        sandbox = WechatpaySandbox(SandboxOptions(profile="fast", faults=faults, certificates=certificates))
        sandbox.start()
        shop = Merchant(
            "wechatpay",
            {**sandbox.account_settings(), **settings},
            answers=answers or (),
            amount=Decimal("66.60"),
            channel="wechat_qr",
            subject="Oolong 乌龙茶",
            attach="cart-9",
        ).start()
        started.append((sandbox, shop))
        return sandbox, shop

    yield start
    for sandbox, shop in started:
        sandbox.stop()
        shop.stop()


@pytest.mark.parametrize("certificates", [False, True])
def test_pay_notify_apply_once_query_refund(world, certificates):
    sandbox, shop = world(certificates=certificates)
    order = shop.order()
    payment = shop.gateway.create(order)
    assert isinstance(payment.next_action, paycore.QrCode)
    assert shop.gateway.query(order.order_id).status is paycore.PaymentStatus.PENDING
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [(attempt.status_code, attempt.response) for attempt in attempts] == [(204, "")]
    assert [(event.order_id, event.source) for event in shop.paid] == [(order.order_id, "notification")]
    queried = shop.gateway.query(order.order_id)
    assert (queried.status, queried.paid_amount) == (paycore.PaymentStatus.PAID, Decimal("66.60"))
    refund_id = f"{order.order_id}-r1"
    first = shop.gateway.refund(order.order_id, refund_id=refund_id, amount=Decimal("6.60"), order_amount=order.amount)
    again = shop.gateway.refund(order.order_id, refund_id=refund_id, amount=Decimal("6.60"), order_amount=order.amount)
    assert (first.refund_id, again.refund_id, first.amount) == (refund_id, refund_id, Decimal("6.60"))
    assert shop.gateway.query_refund(order.order_id, refund_id).status is paycore.RefundStatus.SUCCEEDED
    with pytest.raises(paycore.GatewayError) as caught:
        shop.gateway.refund(
            order.order_id, refund_id=f"{order.order_id}-r2", amount=Decimal("60.01"), order_amount=order.amount
        )
    assert caught.value.gateway_code == "NOT_ENOUGH"
    assert shop.gateway.query(order.order_id).status is paycore.PaymentStatus.REFUNDED


def test_a_refund_notification_is_acknowledged_and_applies_nothing(world):
    sandbox, shop = world()
    shop_refunds = f"{shop.url}/notify/main"
    shop.gateway.close()
    shop.gateway = paycore.Gateway(
        "wechatpay", {**sandbox.account_settings(), "refund_notify_url": shop_refunds}, account="main"
    )
    shop.handler = paycore.NotificationHandler(
        paycore.Accounts({"main": shop.gateway}),
        lookup=shop.orders.get,
        on_paid=shop.paid.append,
        store=paycore.stores.MemoryStore(),
    )
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    sandbox.wait_for_notifications(order.order_id)
    shop.gateway.refund(order.order_id, refund_id="R-1", amount=Decimal("66.60"), order_amount=order.amount)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [attempt.status_code for attempt in attempts] == [204, 204]  # the payment's, then the refund's
    assert len(shop.paid) == 1  # the refund was not taken for a second payment


def test_resent_until_any_2xx(world):
    sandbox, shop = world(answers=[(500, "busy"), (400, "SUCCESS"), (302, "")])
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [attempt.acknowledged for attempt in attempts] == [False, False, False, True]
    assert len(shop.paid) == 1


def test_duplicate_is_applied_once(world):
    sandbox, shop = world("duplicate")
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [attempt.status_code for attempt in attempts] == [204, 204]
    assert len(shop.paid) == 1


@pytest.mark.parametrize("fault", ["wrong_sign", "stale_timestamp", "unknown_serial", "bad_ciphertext"])
def test_notifications_that_do_not_verify_are_refused_and_resent_and_the_query_tells_the_truth(world, fault):
    sandbox, shop = world()
    order = shop.order()
    shop.gateway.create(order)
    sandbox.set_faults([fault])
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert attempts
    assert all(attempt.status_code == 400 and not attempt.acknowledged for attempt in attempts)
    assert json.loads(attempts[0].response)["code"] == "FAIL"
    assert shop.paid == []
    sandbox.set_faults([])
    assert shop.handler.apply_payment(shop.gateway.query(order.order_id)) is paycore.Outcome.APPLIED


@pytest.mark.parametrize("fault", ["wrong_sign", "stale_timestamp", "unknown_serial"])
def test_answers_that_do_not_verify_are_refused(world, fault):
    _, shop = world(fault)
    with pytest.raises(paycore.SignatureError):
        shop.gateway.create(shop.order())


def test_error_json_closed_close_and_unknown(world):
    sandbox, shop = world("error_json")
    with pytest.raises(paycore.GatewayError) as caught:
        shop.gateway.create(shop.order())
    assert caught.value.gateway_code == "SYSTEM_ERROR"
    sandbox.set_faults(["closed"])
    order = shop.order()
    shop.gateway.create(order)
    assert shop.gateway.query(order.order_id).status is paycore.PaymentStatus.CLOSED
    sandbox.set_faults([])
    other = shop.order()
    shop.gateway.create(other)
    assert shop.gateway.close_payment(other.order_id).status is paycore.PaymentStatus.CLOSED
    assert shop.gateway.query(other.order_id).status is paycore.PaymentStatus.CLOSED
    with pytest.raises(paycore.OrderNotFound):
        shop.gateway.query("NO-SUCH-ORDER-1")


def test_a_request_the_platform_cannot_verify_is_answered_401_sign_error(world):
    sandbox, _ = world()
    answer = httpx.post(f"{sandbox.url}/v3/pay/transactions/native", json={"mchid": sandbox.mchid})
    assert answer.status_code == 401
    assert answer.json()["code"] == "SIGN_ERROR"
    # an answer the platform signed even so: the merchant can tell it is the platform's
    assert answer.headers["wechatpay-signature-type"] == "WECHATPAY2-SHA256-RSA2048"


def test_certificates_rotate_and_both_verify(world):
    sandbox, shop = world(certificates=True)
    order = shop.order()
    shop.gateway.create(order)
    sandbox.rotate_certificate()
    # The next answer names the new serial: the provider fetches the certificates again and verifies.
    assert shop.gateway.query(order.order_id).status is paycore.PaymentStatus.PENDING
    sandbox.pay(order.order_id)
    sandbox.wait_for_notifications(order.order_id)
    assert len(shop.paid) == 1
    with pytest.raises(paycore.NotSupported):
        world()[0].rotate_certificate()


def test_the_cashier_pays_and_returns_where_asked(world):
    sandbox, shop = world()
    order = shop.order(channel="wechat_h5", client_ip="127.0.0.1")
    link = shop.gateway.create(order).next_action
    assert isinstance(link, paycore.Redirect)
    with httpx.Client() as browser:
        cashier = browser.get(str(link.url))
        assert cashier.status_code == 200
        assert "Oolong 乌龙茶" in cashier.text
        assert "66.60" in cashier.text
        back = browser.post(f"{sandbox.url}{_form_action(cashier.text)}")
    assert back.status_code == 302
    assert back.headers["location"] == shop.return_url
    sandbox.wait_for_notifications(order.order_id)
    assert len(shop.paid) == 1


def _form_action(page: str) -> str:
    start = page.index('action="') + len('action="')
    return page[start : page.index('"', start)].replace("&amp;", "&")


@pytest.mark.parametrize(
    "options",
    [SandboxOptions(secret_key="x" * 32), SandboxOptions(credentials={"secret_key": "x"}), SandboxOptions(strict=True)],
)
def test_options_it_cannot_honour_are_refused(options):
    with pytest.raises(paycore.InvalidRequest):
        WechatpaySandbox(options)


def test_given_credentials_are_used_and_never_shown():
    apiv3_key = "k" * 32
    with WechatpaySandbox(SandboxOptions(profile="fast", credentials={"apiv3_key": apiv3_key})) as sandbox:
        assert sandbox.account_settings()["apiv3_key"] == apiv3_key
        assert apiv3_key not in repr(sandbox)
    with pytest.raises(paycore.InvalidRequest, match="32 ASCII"):
        WechatpaySandbox(SandboxOptions(credentials={"apiv3_key": "short"}))


def test_keys_are_removed_when_it_stops():
    sandbox = WechatpaySandbox(SandboxOptions(profile="fast"))
    with sandbox:
        assert (sandbox.keys_folder / "apiclient_key.pem").exists()
    assert not sandbox.keys_folder.exists()
