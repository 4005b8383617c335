"""Certificate mode: platform certificates fetched, opened with the APIv3 key, verified, cached and rotated.

The certificates are made by the openssl command line and sealed by pycryptodome.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

import paycore
from paycore import PaymentStatus

_QUERY = "/v3/pay/transactions/out-trade-no/WX20261205001"


def _entry(wx, pem: bytes, serial: str, associated_data: str = "certificate") -> dict:
    return {
        "serial_no": serial,
        "effective_time": "2026-12-01T00:00:00+08:00",
        "expire_time": "2031-12-01T00:00:00+08:00",
        "encrypt_certificate": wx.seal(pem, associated_data=associated_data),
    }


@pytest.fixture
def serial() -> str:
    return "5" + secrets.token_hex(19).upper()


@pytest.fixture
def platform(keys, wx, mock_wechatpay, serial):
    """The mock in certificate mode: /v3/certificates serves one certificate, everything is signed with its key."""
    pem = keys.openssl_certificate(keys.platform_private, serial)
    mock_wechatpay.answers["GET", "/v3/certificates"] = (200, {"data": [_entry(wx, pem, serial)]})
    mock_wechatpay.signing = {"serial": serial}
    return pem


@pytest.fixture
def paycore_settings(settings):
    """Certificate mode: no platform public key."""
    return {name: value for name, value in settings.items() if not name.startswith("platform_public")}


def _paths(mock):
    return [request.url.path for request in mock.requests]


def test_the_first_request_fetches_the_certificates_then_they_are_cached(
    paycore_any_gateway, mock_wechatpay, wx, platform
):
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction())
    gateway = paycore_any_gateway()
    assert gateway.query("WX20261205001").status is PaymentStatus.PAID
    assert gateway.query("WX20261205001").status is PaymentStatus.PAID
    assert _paths(mock_wechatpay) == ["/v3/certificates", _QUERY, _QUERY]
    # No Wechatpay-Serial on requests in certificate mode: it names a public key id only in public-key mode.
    assert "wechatpay-serial" not in mock_wechatpay.requests[1].headers


def test_a_notification_verifies_with_a_fetched_certificate(paycore_any_gateway, mock_wechatpay, wx, platform, serial):
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction())
    gateway = paycore_any_gateway()
    gateway.query("WX20261205001")
    notification = gateway.verify_notification(wx.notification(wx.transaction(), serial=serial))
    assert notification.status is PaymentStatus.PAID


def test_certificates_given_in_settings_verify_before_any_request(wx, platform, serial, paycore_settings):
    settings = {**paycore_settings, "platform_certificates": platform.decode()}
    with paycore.Gateway("wechatpay", settings) as gateway:
        notification = gateway.verify_notification(wx.notification(wx.transaction(), serial=serial.lower()))
    assert notification.order_id == "WX20261205001"


def test_an_unknown_serial_on_a_notification_is_refused_and_fetched_on_the_next_request(
    paycore_any_gateway, mock_wechatpay, wx, keys, serial
):
    # The platform rotated its certificate: the notification names a serial not known yet.
    pem = keys.openssl_certificate(keys.platform_private, serial)
    extra = {"platform_certificates": pem.decode()}
    rotated = "6" + secrets.token_hex(19).upper()
    new_pem = keys.openssl_certificate(keys.stranger_private, rotated)
    mock_wechatpay.answers["GET", "/v3/certificates"] = (
        200,
        {"data": [_entry(wx, pem, serial), _entry(wx, new_pem, rotated)]},
    )
    mock_wechatpay.signing = {"serial": serial}
    gateway = paycore_any_gateway(**extra)
    request = wx.notification(wx.transaction(), serial=rotated, key=keys.stranger_private)
    with pytest.raises(paycore.SignatureError, match="does not know"):
        gateway.verify_notification(request)
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction())
    gateway.query("WX20261205001")
    assert _paths(mock_wechatpay) == ["/v3/certificates", _QUERY]
    # The platform resends: now it verifies, and the old certificate still does too (a rotation keeps both).
    assert gateway.verify_notification(request).order_id == "WX20261205001"
    assert gateway.verify_notification(wx.notification(wx.transaction(), serial=serial)).order_id == "WX20261205001"


def test_an_answer_signed_by_a_new_certificate_fetches_and_verifies_again(
    paycore_any_gateway, mock_wechatpay, wx, keys, platform, serial
):
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction())
    gateway = paycore_any_gateway()
    gateway.query("WX20261205001")
    rotated = "7" + secrets.token_hex(19).upper()
    new_pem = keys.openssl_certificate(keys.stranger_private, rotated)
    mock_wechatpay.answers["GET", "/v3/certificates"] = (
        200,
        {"data": [_entry(wx, platform, serial), _entry(wx, new_pem, rotated)]},
    )

    def rotate(response: httpx.Response) -> httpx.Response:
        # From now on the platform signs with the new certificate.
        headers = {
            **{name: value for name, value in response.headers.items() if not name.startswith("wechatpay-")},
            **wx.signed_headers(response.content, serial=rotated, key=keys.stranger_private),
        }
        return httpx.Response(response.status_code, content=response.content, headers=headers)

    mock_wechatpay.after = rotate
    assert gateway.query("WX20261205001").status is PaymentStatus.PAID
    assert _paths(mock_wechatpay) == ["/v3/certificates", _QUERY, _QUERY, "/v3/certificates"]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda wx, pem, serial: [_entry(wx, pem, serial, associated_data="transaction")], "associated_data"),
        (lambda wx, pem, serial: [_entry(wx, pem, "1234ABCD")], "serial"),
        (lambda wx, pem, serial: [{**_entry(wx, pem, serial), "encrypt_certificate": {"algorithm": "AES"}}], "sealed"),
        (lambda wx, pem, serial: [], "no data"),
    ],
)
def test_a_certificates_answer_that_does_not_hold_is_refused_whole(
    paycore_any_gateway, mock_wechatpay, wx, platform, serial, mangle, message
):
    mock_wechatpay.answers["GET", "/v3/certificates"] = (200, {"data": mangle(wx, platform, serial)})
    with pytest.raises(paycore.ProtocolError, match=message):
        paycore_any_gateway().query("WX20261205001")


def test_a_certificate_sealed_with_another_key_is_refused(paycore_any_gateway, mock_wechatpay, wx, platform, serial):
    entry = _entry(wx, platform, serial)
    entry["encrypt_certificate"] = wx.seal(platform, key="k" * 32, associated_data="certificate")
    mock_wechatpay.answers["GET", "/v3/certificates"] = (200, {"data": [entry]})
    with pytest.raises(paycore.ProtocolError, match="does not open"):
        paycore_any_gateway().query("WX20261205001")


def test_a_certificates_answer_signed_by_none_of_them_is_refused(paycore_any_gateway, mock_wechatpay, keys, platform):
    # A man in the middle who knows no APIv3 key cannot seal one, and cannot sign with one he did not seal.
    mock_wechatpay.signing = {"serial": "1234ABCD", "key": keys.stranger_private}
    with pytest.raises(paycore.SignatureError):
        paycore_any_gateway().query("WX20261205001")


def test_an_expired_certificate_is_left_out(paycore_any_gateway, mock_wechatpay, wx, keys, serial):
    key = serialization.load_pem_private_key(keys.platform_private.read_bytes(), password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    expired = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int(serial, 16))
        .not_valid_before(now - timedelta(days=60))
        .not_valid_after(now - timedelta(days=1))
        .sign(key, hashes.SHA256())
    ).public_bytes(serialization.Encoding.PEM)
    mock_wechatpay.answers["GET", "/v3/certificates"] = (200, {"data": [_entry(wx, expired, serial)]})
    mock_wechatpay.signing = {"serial": serial}
    with pytest.raises(paycore.SignatureError):
        paycore_any_gateway().query("WX20261205001")


def test_an_answer_replayed_under_another_spelling_of_its_serial_is_refused(
    paycore_any_gateway, mock_wechatpay, wx, platform, serial
):
    # The serial is not signed, and a certificate's serial is found in any spelling: the replay cache
    # must not take "0" + serial for a new answer (a close's 204 replayed to close another order).
    mock_wechatpay.answers["POST", _QUERY + "/close"] = (204, None)
    captured: list[httpx.Response] = []

    def replay(response: httpx.Response) -> httpx.Response:
        if mock_wechatpay.requests[-1].url.path == "/v3/certificates":
            return response
        if not captured:
            captured.append(response)
            return response
        first = captured[0]
        headers = {name: value for name, value in first.headers.items() if name != "wechatpay-serial"}
        headers["Wechatpay-Serial"] = "0" + serial.lower()
        return httpx.Response(first.status_code, content=first.content, headers=headers)

    mock_wechatpay.after = replay
    gateway = paycore_any_gateway()
    assert gateway.close_payment("WX20261205001").status is PaymentStatus.CLOSED
    with pytest.raises(paycore.SignatureError, match="replays"):
        gateway.close_payment("WX20261205002")


def test_forged_unknown_serials_make_at_most_one_fetch_a_minute(
    paycore_any_gateway, mock_wechatpay, wx, keys, platform
):
    mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction())
    gateway = paycore_any_gateway()
    gateway.query("WX20261205001")
    for number in range(3):
        # Anyone can POST a fresh timestamp naming a made-up serial: refused, and asks for a fetch.
        forged = wx.notification(wx.transaction(), serial=f"{number + 1}" * 40, key=keys.stranger_private)
        with pytest.raises(paycore.SignatureError):
            gateway.verify_notification(forged)
        mock_wechatpay.answers["GET", _QUERY] = (200, wx.transaction())
        gateway.query("WX20261205001")
    # fetched once at the start; the asks came within a minute of it
    assert _paths(mock_wechatpay).count("/v3/certificates") == 1
