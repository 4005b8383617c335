"""The Alipay sandbox over loopback sockets: signed envelopes, notifications and resends, faults, refunds, admin API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from paycore_alipay.sandbox import AlipaySandbox

import paycore
from paycore.sandbox import SandboxOptions
from paycore.testing import Merchant


@pytest.fixture
def world():
    started: list[tuple[AlipaySandbox, Merchant]] = []

    def start(*faults: str, answers: list[str] | None = None) -> tuple[AlipaySandbox, Merchant]:
        sandbox = AlipaySandbox(SandboxOptions(profile="fast", faults=faults))
        sandbox.start()
        shop = Merchant(
            "alipay",
            sandbox.account_settings(),
            answers=answers or (),
            amount=Decimal("66.60"),
            channel="alipay_qr",
            subject="Oolong 乌龙茶",
            attach="cart-9",
        ).start()
        started.append((sandbox, shop))
        return sandbox, shop

    yield start
    for sandbox, shop in started:
        sandbox.stop()
        shop.stop()


def test_pay_notify_apply_once_query_refund(world):
    sandbox, shop = world()
    order = shop.order()
    payment = shop.gateway.create(order)
    assert isinstance(payment.next_action, paycore.QrCode)
    assert shop.gateway.query(order.order_id).status is paycore.PaymentStatus.PENDING
    sandbox.pay(order.order_id)
    attempts = sandbox.wait_for_notifications(order.order_id)
    assert [(attempt.status_code, attempt.response) for attempt in attempts] == [(200, "success")]
    assert [(event.order_id, event.source) for event in shop.paid] == [(order.order_id, "notification")]
    queried = shop.gateway.query(order.order_id)
    assert (queried.status, queried.paid_amount) == (paycore.PaymentStatus.PAID, Decimal("66.60"))
    first = shop.gateway.refund(order.order_id, refund_id=f"{order.order_id}-r1", amount=Decimal("6.60"))
    again = shop.gateway.refund(order.order_id, refund_id=f"{order.order_id}-r1", amount=Decimal("6.60"))
    assert first.status is again.status is paycore.RefundStatus.SUCCEEDED
    assert first.raw["refund_status"] == "REFUND_SUCCESS"  # confirmed by the refund query, which names it
    # Asked again, the sandbox moves no money (fund_change N) and the refund query settles it: refunded once.
    assert again.raw["refund_status"] == "REFUND_SUCCESS"
    assert shop.gateway.query_refund(order.order_id, f"{order.order_id}-r1").amount == Decimal("6.60")
    with pytest.raises(paycore.GatewayError) as caught:
        shop.gateway.refund(order.order_id, refund_id=f"{order.order_id}-r2", amount=Decimal("60.01"))
    assert caught.value.gateway_code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"


def test_resent_until_the_answer_is_exactly_success(world):
    sandbox, shop = world(answers=["fail", "SUCCESS", "success!"])
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    assert [attempt.acknowledged for attempt in sandbox.wait_for_notifications(order.order_id)] == [False] * 3 + [True]
    assert len(shop.paid) == 1


def test_duplicate_and_wrong_sign(world):
    sandbox, shop = world("duplicate")
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    assert [attempt.response for attempt in sandbox.wait_for_notifications(order.order_id)] == ["success", "success"]
    assert len(shop.paid) == 1
    sandbox.set_faults("wrong_sign")
    with pytest.raises(paycore.SignatureError):
        shop.gateway.query(order.order_id)  # the envelope is signed with another key too
    sandbox.set_faults([])
    other = shop.order()
    shop.gateway.create(other)
    sandbox.set_faults("wrong_sign")
    sandbox.pay(other.order_id)
    attempts = sandbox.wait_for_notifications(other.order_id)
    assert {attempt.response for attempt in attempts} == {"fail"}
    assert len(attempts) == 5
    assert len(shop.paid) == 1


def test_error_envelope_closed_close_and_unknown(world):
    sandbox, shop = world()
    with pytest.raises(paycore.OrderNotFound, match="交易不存在"):
        shop.gateway.query("never-created")
    order = shop.order()
    shop.gateway.create(order)
    assert shop.gateway.close_payment(order.order_id).status is paycore.PaymentStatus.CLOSED
    assert shop.gateway.query(order.order_id).status is paycore.PaymentStatus.CLOSED
    with pytest.raises(paycore.InvalidRequest, match="cannot be paid"):
        sandbox.pay(order.order_id)
    sandbox.set_faults("error_envelope")
    with pytest.raises(paycore.GatewayError, match="系统繁忙") as caught:
        shop.gateway.query(order.order_id)
    assert caught.value.gateway_code == "isp.unknow-error"
    sandbox.set_faults("closed")
    late = shop.order()
    shop.gateway.create(late)
    sandbox.set_faults([])
    assert shop.gateway.query(late.order_id).status is paycore.PaymentStatus.CLOSED


def test_a_merchant_key_alipay_does_not_know_is_refused(world, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    sandbox, shop = world()
    stranger_key = tmp_path / "stranger.pem"
    stranger_key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    settings = {**sandbox.account_settings(), "private_key": str(stranger_key)}
    with paycore.Gateway("alipay", settings) as stranger, pytest.raises(paycore.GatewayError) as caught:
        stranger.create(shop.order())
    assert "验签出错" in str(caught.value)


def test_the_browser_flows_through_the_cashier(world):
    sandbox, shop = world()
    order = shop.order(channel="alipay_page")
    link = shop.gateway.create(order).next_action
    assert isinstance(link, paycore.Redirect)
    with httpx.Client() as browser:
        cashier = browser.get(str(link.url), follow_redirects=True)
        assert cashier.status_code == 200
        assert "Oolong 乌龙茶" in cashier.text
        back = browser.post(f"{cashier.url}/pay")
    assert back.status_code == 302
    returned = httpx.URL(back.headers["location"])
    shown = shop.gateway.parse_return(
        paycore.NotificationRequest(method="GET", path="/return", query=returned.query.decode())
    )
    assert (shown.order_id, shown.signature_checked) == (order.order_id, True)
    sandbox.wait_for_notifications(order.order_id)
    assert len(shop.paid) == 1


def test_the_sandbox_survives_hostile_input_and_hides_answers(world):
    sandbox, shop = world()
    order = shop.order()
    shop.gateway.create(order)
    sandbox.pay(order.order_id)
    sandbox.wait_for_notifications(order.order_id)
    with httpx.Client(base_url=sandbox.url) as client:
        assert client.post("/gateway.do", content=b"\xff\xfe").status_code == 400
        assert "alipay_trade_query_response" in client.post("/gateway.do", data={"method": "alipay.trade.query"}).text
        assert client.get("/cashier/").status_code == 404
        for faults in (5, None, "x", [["x"]]):
            assert client.put("/admin/faults", json={"faults": faults}).status_code == 400
        log = client.get(f"/admin/orders/{order.order_id}/notifications").json()
        assert log
        assert all("response" not in entry for entry in log)
        assert client.post("/admin/orders/none/pay").status_code == 400


@pytest.mark.parametrize(
    "options",
    [SandboxOptions(secret_key="k"), SandboxOptions(strict=True), SandboxOptions(profile="realistic")],
)
def test_options_it_cannot_honour_are_refused(options):
    with pytest.raises(paycore.InvalidRequest):
        AlipaySandbox(options)


def test_keys_are_removed_when_it_stops():
    sandbox = AlipaySandbox(SandboxOptions(profile="fast"))
    folder = sandbox.keys_folder
    with sandbox:
        assert sorted(path.name for path in folder.iterdir()) == ["alipay_public_key.pem", "app_private_key.pem"]
        assert (folder / "app_private_key.pem").stat().st_mode & 0o077 == 0
    assert not folder.exists()


def _signed_request(sandbox: AlipaySandbox, method: str, biz_content: str) -> dict[str, str]:
    """A request the merchant signed correctly, whatever its biz_content holds (the sandbox must read it)."""
    from paycore_alipay._keys import load_private_key
    from paycore_alipay._signing import sign, sign_content

    params = {
        "app_id": sandbox.account_settings()["app_id"],
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2026-11-28 12:00:00",
        "version": "1.0",
        "notify_url": "http://127.0.0.1:9/notify",
        "biz_content": biz_content,
    }
    params["sign"] = sign(sign_content(params), load_private_key(sandbox.account_settings()["private_key"]))
    return params


@pytest.mark.parametrize(
    ("method", "biz_content"),
    [
        ("alipay.trade.precreate", '{"a":' * 100_000 + "1" + "}" * 100_000),
        ("alipay.trade.page.pay", '{"a":' * 100_000 + "1" + "}" * 100_000),
        ("alipay.trade.precreate", '{"out_trade_no": "H1", "total_amount": "1_0.00", "subject": "s"}'),
        ("alipay.trade.precreate", '{"out_trade_no": "H2", "total_amount": " 1.00 ", "subject": "s"}'),
        ("alipay.trade.precreate", '{"out_trade_no": "H3", "total_amount": "1e2", "subject": "s"}'),
        ("alipay.trade.page.pay", '{"out_trade_no": "H4", "total_amount": "1_0.00", "subject": "s"}'),
        ("alipay.trade.page.pay", '{"out_trade_no": "H5", "total_amount": "1.00", "subject": {"x": 1}}'),
        ("alipay.trade.page.pay", '{"out_trade_no": ["H6"], "total_amount": "1.00", "subject": "s"}'),
        ("alipay.trade.refund", '{"out_trade_no": "PAID", "refund_amount": "1e999999", "out_request_no": "r1"}'),
        ("alipay.trade.refund", '{"out_trade_no": "PAID", "refund_amount": "1_0.00", "out_request_no": "r2"}'),
        ("alipay.trade.precreate", '{"out_trade_no": "A\\ud800", "total_amount": "1.00", "subject": "s"}'),
        ("alipay.trade.precreate", '{"out_trade_no": "H7", "total_amount": "1.00", "subject": "\\udc00"}'),
        ("alipay.trade.page.pay", '{"out_trade_no": "H8", "total_amount": "1.00", "subject": "\\udc00"}'),
    ],
)
def test_signed_requests_with_hostile_biz_content_are_refused_not_crashed(world, method, biz_content):
    sandbox, shop = world()
    paid = shop.order(order_id="PAID")
    shop.gateway.create(paid)
    sandbox.pay("PAID")
    sandbox.wait_for_notifications("PAID")
    with httpx.Client(base_url=sandbox.url) as client:
        answer = client.post("/gateway.do", data=_signed_request(sandbox, method, biz_content))
        if method == "alipay.trade.page.pay":
            assert answer.status_code == 400, answer.text[:200]
        else:
            assert answer.status_code == 200, answer.text[:200]
            assert '"code":"40004"' in answer.text or '"code":"40002"' in answer.text, answer.text[:200]
        # No trade was made of it, and the sandbox still answers.
        assert sorted(sandbox._trades) == ["PAID"]
        assert shop.gateway.query("PAID").status is paycore.PaymentStatus.PAID


def test_certificate_mode_end_to_end():
    """Certificates instead of Alipay's public key: SNs on every request, answers naming Alipay's certificate."""
    with AlipaySandbox(SandboxOptions(profile="fast"), certificates=True) as sandbox:
        settings = sandbox.account_settings()
        assert "alipay_public_key" not in settings
        assert {"app_cert", "alipay_cert", "alipay_root_cert"} <= set(settings)
        with Merchant("alipay", settings, amount=Decimal("8.80"), channel="alipay_qr", subject="Puer 普洱") as shop:
            order = shop.order()
            assert isinstance(shop.gateway.create(order).next_action, paycore.QrCode)
            sandbox.pay(order.order_id)
            sandbox.wait_for_notifications(order.order_id)
            assert [payment.order_id for payment in shop.paid] == [order.order_id]
            assert shop.gateway.query(order.order_id).status is paycore.PaymentStatus.PAID
            refund = shop.gateway.refund(order.order_id, refund_id=f"{order.order_id}-r1", amount=Decimal("1.00"))
            assert refund.status is paycore.RefundStatus.SUCCEEDED
        # Another certificate of the same app key (another serial, so another SN): the platform refuses it.
        key = serialization.load_pem_private_key(Path(settings["private_key"]).read_bytes(), password=None)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another app certificate")])
        now = datetime.now(UTC)
        other = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(99)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        app_cert = other.public_bytes(serialization.Encoding.PEM).decode()
        with paycore.Gateway("alipay", {**settings, "app_cert": app_cert}) as gateway:
            with pytest.raises(paycore.GatewayError, match="app_cert_sn"):
                gateway.query(order.order_id)


def test_a_method_name_cannot_write_the_answer(world):
    # The method is pasted into the answer's key: unescaped, a request (no key needed) wrote the envelope.
    sandbox, _ = world()
    method = 'alipay.trade.query_response":{"code":"10000","trade_status":"TRADE_SUCCESS"},"x'
    with httpx.Client(base_url=sandbox.url) as client:
        answer = client.post("/gateway.do", data={"method": method, "app_id": sandbox.app_id})
    assert list(json.loads(answer.text)) == ["error_response"]
