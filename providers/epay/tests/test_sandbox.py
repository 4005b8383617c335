"""The epay sandbox over loopback sockets: GET notifications and resends, faults, the cashier, the admin API."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import pytest
from paycore_epay.sandbox import EpaySandbox

import paycore
from paycore.sandbox import SandboxOptions
from paycore.testing import Merchant


@pytest.fixture
def world():
    started: list[tuple[EpaySandbox, Merchant]] = []

    def start(*faults: str, answers: list[str] | None = None) -> tuple[EpaySandbox, Merchant]:
        sandbox = EpaySandbox(SandboxOptions(profile="fast", faults=faults))
        sandbox.start()
        shop = Merchant(
            "epay",
            sandbox.account_settings(),
            answers=answers or (),
            amount=Decimal("12.50"),
            channel="alipay_qr",
            subject="Green tea",
            client_ip="127.0.0.1",
        ).start()
        started.append((sandbox, shop))
        return sandbox, shop

    yield start
    for sandbox, shop in started:
        sandbox.stop()
        shop.stop()


def test_a_payment_is_notified_by_get_and_applied_once(world):
    sandbox, shop = world()
    order = shop.order()
    payment = shop.gateway.create(order)
    assert isinstance(payment.next_action, paycore.QrCode)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [(attempt.status_code, attempt.response, attempt.acknowledged) for attempt in attempts] == [
        (200, "success", True)
    ]
    assert shop.notify_methods == ["GET"]
    assert [event.order_id for event in shop.paid] == [order.order_id]
    queried = shop.gateway.query(order.order_id)
    assert queried.status is paycore.PaymentStatus.PAID
    assert queried.transaction_id == payment.transaction_id


def test_resent_until_the_answer_is_exactly_success(world):
    sandbox, shop = world(answers=["fail", "SUCCESS", " ok "])
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [attempt.acknowledged for attempt in attempts] == [False, False, False, True]
    assert len(shop.paid) == 1


def test_a_duplicate_after_success_is_acknowledged_and_not_applied_again(world):
    sandbox, shop = world("duplicate")
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [attempt.response for attempt in attempts] == ["success", "success"]
    assert len(shop.paid) == 1


def test_a_wrongly_signed_notification_is_refused_every_time(world):
    sandbox, shop = world("wrong_sign")
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert len(attempts) == 5
    assert {(attempt.status_code, attempt.response) for attempt in attempts} == {(400, "fail")}
    assert shop.paid == []


def test_refusals_and_unknown_orders_are_typed(world):
    sandbox, shop = world()
    with pytest.raises(paycore.OrderNotFound, match="订单号不存在"):
        shop.gateway.query("never-created")
    sandbox.set_faults(["refuse"])
    with pytest.raises(paycore.GatewayError, match="系统繁忙"):
        shop.gateway.create(shop.order())
    with pytest.raises(paycore.InvalidRequest, match="unknown epay sandbox fault"):
        sandbox.set_faults(["nope"])


def test_a_wrong_key_is_refused_by_the_platform_and_never_shown(world):
    sandbox, shop = world()
    settings = {**sandbox.account_settings(), "secret_key": "not-the-merchant-key"}
    with paycore.Gateway("epay", settings, account="main") as stranger:
        with pytest.raises(paycore.GatewayError, match="签名校验失败") as created:
            stranger.create(shop.order())
        with pytest.raises(paycore.GatewayError, match="KEY校验失败") as queried:
            stranger.query("whatever")
    for error in (created.value, queried.value):
        assert "not-the-merchant-key" not in str(error)


def test_the_form_flow_through_the_cashier_and_back(world):
    """submit.php → the cashier → Pay → the buyer's browser back at return_url with signed fields."""
    sandbox, shop = world()
    order = shop.order(channel="alipay_page")
    form = shop.gateway.create(order, flow="form").next_action
    assert isinstance(form, paycore.PaymentForm)
    with httpx.Client() as browser:
        cashier = browser.post(str(form.action), data=form.fields, follow_redirects=True)
        assert cashier.status_code == 200
        assert "Green tea" in cashier.text
        pay = browser.post(f"{cashier.url}/pay")
    assert pay.status_code == 302
    back = httpx.URL(pay.headers["location"])
    assert back.path == "/return"
    shown = shop.gateway.parse_return(
        paycore.NotificationRequest(method="GET", path="/return", query=back.query.decode())
    )
    assert shown.order_id == order.order_id
    assert shown.signature_checked is True
    sandbox.wait_for_notifications(order.order_id)
    assert len(shop.paid) == 1


def test_the_admin_api_serves_other_processes(world):
    sandbox, shop = world()
    order = shop.order()
    shop.gateway.create(order)
    with httpx.Client(base_url=sandbox.url) as admin:
        assert admin.put("/admin/faults", json={"faults": ["duplicate"]}).json() == {"faults": ["duplicate"]}
        assert admin.post(f"/admin/orders/{order.order_id}/pay").status_code == 200
        sandbox.wait_for_notifications(order.order_id)
        log = admin.get(f"/admin/orders/{order.order_id}/notifications").json()
        assert [entry["acknowledged"] for entry in log] == [True, True]
        assert admin.post("/admin/orders/none/pay").status_code == 400
        assert admin.put("/admin/faults", json={"faults": ["bogus"]}).status_code == 400
        assert admin.get("/admin/nothing").status_code == 404
    assert urlsplit(log[0]["url"]).path == "/notify/main"


def test_the_sandbox_refuses_what_a_platform_refuses(world):
    sandbox, _ = world()
    with httpx.Client(base_url=sandbox.url) as client:
        assert client.post("/mapi.php", data={"pid": sandbox.merchant_id}).json()["code"] == -1
        assert client.post("/submit.php", data={}).status_code == 400
        assert client.get("/api.php", params={"act": "other"}).json()["code"] == -1
        assert client.get("/cashier/none").status_code == 404
        assert client.get("/nothing").status_code == 404
        broken = client.post("/mapi.php", content=b"\xff\xfe=\x00&&==", headers={"content-type": "x"})
        assert broken.status_code == 200
        assert broken.json()["code"] == -1


def test_the_plugin_fixture_starts_it(paycore_sandbox):
    sandbox = paycore_sandbox("epay")
    assert sandbox.account_settings()["base_url"] == sandbox.url
    with paycore.Gateway("epay", sandbox.account_settings()) as gateway:
        with pytest.raises(paycore.OrderNotFound):
            gateway.query("A1")


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        (SandboxOptions(state_path="sandbox.sqlite3"), "--state"),
        (SandboxOptions(channels=("x",)), "--channel"),
    ],
)
def test_options_it_cannot_honour_are_refused_not_ignored(options, flag):
    with pytest.raises(paycore.InvalidRequest, match=f"the epay sandbox takes no {flag}$"):
        EpaySandbox(options)
    with pytest.raises(paycore.InvalidRequest, match="profiles are realistic, fast"):
        EpaySandbox(SandboxOptions(profile="document"))


def test_the_sandbox_survives_hostile_input(world):
    """Every bad request gets an answer: a crash would look like a platform that hung up."""
    import socket

    sandbox, shop = world()
    order = shop.order()
    shop.gateway.create(order)
    key = sandbox.account_settings()["secret_key"]
    huge = {
        "pid": sandbox.merchant_id,
        "type": "alipay",
        "out_trade_no": "B1",
        "notify_url": f"{shop.url}/n",
        "name": "x",
    }
    with httpx.Client(base_url=sandbox.url) as client:
        for money in ("1e30", "1_000", "NaN", "-0.00", "0.001"):
            fields = {**huge, "money": money, "clientip": "127.0.0.1"}
            fields["sign"] = _longhand(fields, key)
            answer = client.post("/mapi.php", data=fields)
            assert answer.json() == {"code": -1, "msg": "金额不合法"}, money
        for faults in (5, None, "duplicate", [["x"]]):
            assert client.put("/admin/faults", json={"faults": faults}).status_code in (200, 400)
        assert client.get("/cashier/").status_code == 404
        assert client.get("/cashier/x/y/z").status_code == 404
    with socket.create_connection(("127.0.0.1", urlsplit(sandbox.url).port)) as raw:
        raw.sendall(b"POST /mapi.php HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")


def test_a_notify_url_that_cannot_be_used_is_recorded_not_lost(world):
    sandbox, shop = world()
    order = shop.order()
    shop.gateway.create(order)
    sandbox._orders[order.order_id].notify_url = "http://[::1"  # as a platform would store what it was sent
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert attempts
    assert {attempt.error for attempt in attempts} == {"InvalidURL"}


def test_the_admin_api_never_shows_what_a_notify_url_answered(world):
    """Otherwise anyone reaching the sandbox reads internal pages through it (a create names any notify_url)."""
    sandbox, shop = world()
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    sandbox.wait_for_notifications(order.order_id)
    with httpx.Client(base_url=sandbox.url) as admin:
        log = admin.get(f"/admin/orders/{order.order_id}/notifications").json()
    assert log
    assert all("response" not in entry for entry in log)
    assert sandbox.attempts(order.order_id)[0].response == "success"  # the Python API, in-process, keeps it


def _longhand(fields: dict[str, str], key: str) -> str:
    import hashlib

    text = "&".join(
        f"{name}={fields[name]}" for name in sorted(fields) if fields[name] and name not in ("sign", "sign_type")
    )
    return hashlib.md5((text + key).encode()).hexdigest()
