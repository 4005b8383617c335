"""What the most widely deployed epay platform does to text: it stores ``name`` and ``param`` escaped and signs them so.

The platform stores an order's ``name`` and ``param`` as
``htmlspecialchars(addslashes($value))`` and notifies (and signs) them as stored;
``money`` comes back as PHP prints a float. Every order the provider accepts must
have notifications it verifies, and ``attach`` must come back exactly as given.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from paycore_epay.sandbox import EpaySandbox, _php_float, _stored_like_php

import paycore
from paycore.sandbox import SandboxOptions
from paycore.testing import Merchant

# Produced by PHP itself (php-cli 8.2.36, Debian 12), the platform's language:
#   php -r 'echo json_encode([$v, htmlspecialchars(addslashes($v))], JSON_UNESCAPED_UNICODE);'
#   php -r 'echo (float)$m;'
# A check of the sandbox against an implementation it was not written from.
PHP_STORED = [
    ('Tom\'s "tea"', "Tom\\&#039;s \\&quot;tea\\&quot;"),
    ('{"uid":42}', "{\\&quot;uid\\&quot;:42}"),
    ("a\\b", "a\\\\b"),
    ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
    ("fish & chips", "fish &amp; chips"),
    ("绿茶 两杯", "绿茶 两杯"),
    ("x\x00y", "x\\0y"),
    ('it\'s <5> & "6" \\ 绿', "it\\&#039;s &lt;5&gt; &amp; \\&quot;6\\&quot; \\\\ 绿"),
]
PHP_FLOATS = [("9.90", "9.9"), ("10.00", "10"), ("0.10", "0.1"), ("0.01", "0.01"), ("1234567.89", "1234567.89")]

#: Each character a platform alters or a buyer's text commonly holds, alone and together.
AWKWARD = ["'", '"', "<", ">", "&", "\\", "绿茶", " ", "=", "b64.x", 'Tom\'s "tea" <b> & \\ 绿茶 a=b']


@pytest.mark.parametrize(("value", "stored"), PHP_STORED)
def test_the_sandbox_stores_text_as_php_does(value, stored):
    assert _stored_like_php(value) == stored


@pytest.mark.parametrize(("money", "printed"), PHP_FLOATS)
def test_the_sandbox_prints_money_as_php_prints_a_float(money, printed):
    assert _php_float(money) == printed


@pytest.fixture(params=[False, True], ids=["escaping platform", "strict"])
def shop(request):
    sandbox = EpaySandbox(SandboxOptions(profile="fast", strict=request.param))
    sandbox.start()
    merchant = Merchant(
        "epay",
        sandbox.account_settings(),
        amount=Decimal("9.90"),
        channel="alipay_qr",
        client_ip="127.0.0.1",
    ).start()
    yield sandbox, merchant
    sandbox.stop()
    merchant.stop()


def _notification_of(sandbox: EpaySandbox, order_id: str) -> paycore.NotificationRequest:
    # The GET the platform sends, as its resender builds it.
    fields = sandbox._notification(sandbox._order(order_id))
    return paycore.NotificationRequest(method="GET", path="/notify/main", query=urlencode(fields))


@pytest.mark.parametrize("text", AWKWARD)
def test_an_awkward_attach_comes_back_exactly_and_is_applied_once(shop, text):
    sandbox, merchant = shop
    order = merchant.order(subject="Green tea", attach=f"cart {text} 7")
    merchant.gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [attempt.acknowledged for attempt in attempts] == [True]
    assert [event.order_id for event in merchant.paid] == [order.order_id]
    notification = merchant.gateway.verify_notification(_notification_of(sandbox, order.order_id))
    assert notification.attach == f"cart {text} 7"
    assert notification.amount == Decimal("9.90")
    # The buyer's return carries the same signed fields.
    assert merchant.gateway.parse_return(_notification_of(sandbox, order.order_id)).attach == f"cart {text} 7"


@pytest.mark.parametrize("text", [text for text in AWKWARD if "&" not in text and "=" not in text])
def test_an_awkward_subject_is_notified_as_the_platform_signed_it_and_applied_once(shop, text):
    sandbox, merchant = shop
    order = merchant.order(subject=f"Green {text} tea")
    merchant.gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [attempt.acknowledged for attempt in attempts] == [True]
    assert [event.order_id for event in merchant.paid] == [order.order_id]
    notification = merchant.gateway.verify_notification(_notification_of(sandbox, order.order_id))
    stored = f"Green {text} tea" if sandbox.options.strict else _stored_like_php(f"Green {text} tea")
    assert notification.raw["name"] == stored  # the platform's text: shown, never read as money or identity
    assert merchant.gateway.parse_return(_notification_of(sandbox, order.order_id)).signature_checked


@pytest.mark.parametrize("subject", ["fish & chips", "a=b"])
def test_a_subject_a_platform_would_sign_raw_with_a_separator_is_refused_before_sending(shop, subject):
    sandbox, merchant = shop
    order = merchant.order(subject=subject)
    with pytest.raises(paycore.InvalidRequest, match="'&' or '='"):
        merchant.gateway.create(order)
    with pytest.raises(paycore.InvalidRequest):
        sandbox._order(order.order_id)  # nothing reached the platform


def test_money_notified_as_a_php_float_is_the_same_amount(shop):
    sandbox, merchant = shop
    order = merchant.order(subject="Green tea", amount=Decimal("10.00"))
    merchant.gateway.create(order)
    sandbox.pay(order.order_id)
    sandbox.wait_for_notifications(order.order_id)
    assert [event.amount for event in merchant.paid] == [Decimal("10.00")]
    request = _notification_of(sandbox, order.order_id)
    assert ("money=10&" in request.query) is not sandbox.options.strict


@pytest.mark.parametrize(
    "name",
    ["Green &trade_no=X tea", "Green & tea", "Green &amp tea", "Green &#39; tea", "a=b"],
    ids=["a field smuggled in", "a bare ampersand", "an entity without ';'", "an entity PHP never writes", "="],
)
def test_an_ampersand_that_begins_no_php_entity_is_still_refused(shop, name):
    sandbox, merchant = shop
    order = merchant.order(subject="Green tea")
    merchant.gateway.create(order)
    stored = sandbox._order(order.order_id)
    stored.name = name  # as a forger, or a broken platform, would send it
    with pytest.raises(paycore.MalformedNotification):
        merchant.gateway.verify_notification(_notification_of(sandbox, order.order_id))
