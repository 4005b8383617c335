"""Certificate mode: SNs cross-checked with the openssl command line and Alipay's published root SN; requests,
answers and notifications verified with the certificates, against the mock Alipay of conftest.

The certificates here are made by the openssl command line (a root, an intermediate,
Alipay's and the app's certificates), as Alipay's certificate authority would; the
SNs are computed from openssl's own reading of each certificate.
"""

from __future__ import annotations

import datetime
import hashlib
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

import paycore

APP_ID = "2021000000000001"

ROOT_BUNDLE = Path(__file__).parent / "data" / "alipay_root_cert.crt"
#: the alipay_root_cert_sn of Alipay's production root bundle, as Alipay's SDKs and documents give it
PUBLISHED_ROOT_SN = "687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6"


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    found = shutil.which("openssl")
    if found is None:
        pytest.fail("the openssl command line is needed to cross-check certificate SNs (apt-get install openssl)")
    return subprocess.run([found, *args], input=stdin, capture_output=True, check=True).stdout


def openssl_sn(certificate: Path) -> str:
    """The SN as Alipay defines it, from openssl's reading: MD5(issuer in RFC 2253 + serial in decimal)."""
    issuer = _openssl("x509", "-in", str(certificate), "-noout", "-issuer", "-nameopt", "RFC2253").decode()
    serial = _openssl("x509", "-in", str(certificate), "-noout", "-serial").decode()
    text = issuer.strip().removeprefix("issuer=") + str(int(serial.strip().removeprefix("serial="), 16))
    digest = _openssl("dgst", "-md5", "-r", stdin=text.encode()).decode()
    return digest.split()[0]


class Certificates:
    """A certificate authority in miniature, made with the openssl command line."""

    def __init__(self, folder: Path, keys) -> None:
        self.folder = folder
        self.root_key = self._key("root.key")
        self.root = self._self_signed("root.crt", self.root_key, "/C=CN/O=Test Financial/OU=CA/CN=Test Root R1")
        ec_key = folder / "ec_root.key"
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(ec_key))
        self.ec_root = self._self_signed("ec_root.crt", ec_key, "/C=CN/O=Test Financial/OU=CA/CN=Test Root E1")
        self.bundle = folder / "root_bundle.crt"
        self.bundle.write_bytes(self.ec_root.read_bytes() + self.root.read_bytes())
        inter_key = self._key("inter.key")
        self.intermediate = self._issued("inter.crt", inter_key, "/C=CN/O=Test Financial/CN=Test Class 2 R1", ca=True)
        self.alipay_leaf = self._issued(
            "alipay_leaf.crt",
            keys.alipay_private,
            "/C=CN/O=Alipay/CN=Alipay 2088000000000001",
            issuer=(self.intermediate, inter_key),
        )
        self.alipay_cert = folder / "alipayCertPublicKey_RSA2.crt"
        self.alipay_cert.write_bytes(self.alipay_leaf.read_bytes() + self.intermediate.read_bytes())
        self.app_cert = self._issued(
            "appCertPublicKey.crt",
            keys.merchant_private,
            f"/C=CN/O=Merchant/CN=2088000000000001-{APP_ID}",
            issuer=(self.intermediate, inter_key),
        )

    def _key(self, name: str) -> Path:
        path = self.folder / name
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path))
        return path

    def _self_signed(self, name: str, key: Path, subject: str) -> Path:
        path = self.folder / name
        _openssl(
            "req", "-x509", "-new", "-key", str(key), "-sha256", "-days", "3650", "-subj", subject, "-out", str(path)
        )
        return path

    def _issued(
        self, name: str, key: Path, subject: str, *, ca: bool = False, issuer: tuple[Path, Path] | None = None
    ) -> Path:
        issuer_cert, issuer_key = issuer or (self.root, self.root_key)
        csr = self.folder / f"{name}.csr"
        _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
        extensions = self.folder / f"{name}.ext"
        extensions.write_text("basicConstraints=CA:TRUE\n" if ca else "basicConstraints=CA:FALSE\n")
        path = self.folder / name
        serial = "0x" + hashlib.sha256(name.encode()).hexdigest()[:30]
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(issuer_cert), "-CAkey", str(issuer_key),
            "-set_serial", serial, "-days", "3650", "-sha256", "-extfile", str(extensions), "-out", str(path),
        )  # fmt: skip
        return path


@pytest.fixture(scope="session")
def certificates(keys, tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("alipay-certificates"), keys)


@pytest.fixture
def cert_settings(keys, certificates: Certificates) -> dict[str, str]:
    return {
        "app_id": APP_ID,
        "private_key": str(keys.merchant_private),
        "app_cert": str(certificates.app_cert),
        "alipay_cert": str(certificates.alipay_cert),
        "alipay_root_cert": str(certificates.bundle),
        "gateway": "https://openapi.alipay.com/gateway.do",
    }


@pytest.fixture
def paycore_settings(cert_settings):
    return cert_settings


# -- SNs -------------------------------------------------------------------------------------------------------


def test_the_sn_of_alipays_production_root_bundle_is_the_published_one():
    # The bundle holds an SM2 root and an ECDSA one that cryptography cannot even read: only RSA roots count.
    from paycore_alipay._certs import root_cert_sn

    assert root_cert_sn(str(ROOT_BUNDLE)) == PUBLISHED_ROOT_SN
    assert root_cert_sn(ROOT_BUNDLE.read_text()) == PUBLISHED_ROOT_SN


def test_certificate_sns_agree_with_openssl(certificates):
    from paycore_alipay._certs import load_certificate, root_cert_sn

    assert load_certificate(str(certificates.app_cert), "app_cert").sn == openssl_sn(certificates.app_cert)
    assert load_certificate(str(certificates.alipay_cert), "alipay_cert").sn == openssl_sn(certificates.alipay_leaf)
    assert root_cert_sn(str(certificates.bundle)) == openssl_sn(certificates.root)  # the EC root does not count


# -- requests, answers, notifications ---------------------------------------------------------------------------


def test_requests_carry_the_sns_and_answers_verify_with_alipays_certificate(
    paycore_any_gateway, mock_alipay, certificates, paycore_order
):
    mock_alipay.answers["alipay.trade.precreate"] = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "A1",
        "qr_code": "https://qr.alipay.com/a",
    }
    mock_alipay.envelope = lambda name, text, sign: (
        f'{{"{name}": {text}, "alipay_cert_sn": "{openssl_sn(certificates.alipay_leaf)}", "sign": "{sign}"}}'
    )
    payment = paycore_any_gateway().create(paycore_order(order_id="A1", amount=Decimal("1.00")))
    assert isinstance(payment.next_action, paycore.QrCode)
    sent = mock_alipay.requests[-1]
    assert sent["app_cert_sn"] == openssl_sn(certificates.app_cert)
    assert sent["alipay_root_cert_sn"] == openssl_sn(certificates.root)
    # The create succeeded: the mock checked the signature with openssl over every parameter, these two included.


def test_an_answer_signed_with_a_renewed_certificate_says_so(paycore_any_gateway, mock_alipay, keys, paycore_order):
    mock_alipay.sign_with = keys.merchant_private  # another key than the configured certificate's
    mock_alipay.envelope = lambda name, text, sign: (
        f'{{"{name}": {text}, "alipay_cert_sn": "0123456789abcdef0123456789abcdef", "sign": "{sign}"}}'
    )
    with pytest.raises(paycore.SignatureError, match="current public key certificate"):
        paycore_any_gateway().query("A1")
    mock_alipay.envelope = None
    with pytest.raises(paycore.SignatureError, match="configured alipay_cert"):
        paycore_any_gateway().query("A1")


def test_notifications_verify_with_alipays_certificate(paycore_any_gateway, keys):
    fields = {
        "app_id": APP_ID,
        "charset": "utf-8",
        "out_trade_no": "A1",
        "trade_no": "2026112822001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.80",
        "gmt_payment": "2026-11-28 12:00:01",
    }
    signed = "&".join(f"{name}={fields[name]}" for name in sorted(fields)).encode()
    body = {**fields, "sign_type": "RSA2", "sign": keys.openssl_sign(signed, keys.alipay_private)}
    received = paycore_any_gateway().verify_notification(urlencode(body).encode())
    assert (received.order_id, received.status) == ("A1", paycore.PaymentStatus.PAID)
    with pytest.raises(paycore.SignatureError, match="alipay_cert"):
        paycore_any_gateway().verify_notification(urlencode({**body, "total_amount": "0.01"}).encode())


# -- settings ---------------------------------------------------------------------------------------------------


def _pem(path: Path) -> str:
    return path.read_text()


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"alipay_public_key": "KEY"}, "not both"),
        ({"alipay_root_cert": None}, "needs alipay_root_cert"),
        ({"app_cert": None, "alipay_cert": None, "alipay_root_cert": None}, "alipay_public_key"),
        ({"app_cert": "ALIPAY"}, "app_cert is not the certificate of private_key"),
        ({"alipay_cert": "APP"}, "not issued by a certificate of alipay_root_cert"),
        ({"alipay_cert": "LEAF_ONLY"}, "not issued by a certificate of alipay_root_cert"),
        ({"alipay_cert": "REVERSED"}, "not a chain"),
        ({"alipay_root_cert": "EC_ONLY"}, "no RSA certificate"),
        ({"alipay_cert": "WITH_TEXT"}, "nothing else"),
        ({"alipay_cert": "/nowhere/alipay.crt"}, "alipay_cert"),
        ({"app_cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}, "cannot be read"),
    ],
)
def test_certificate_settings_that_do_not_belong_together_are_config_errors(
    cert_settings, certificates, keys, change, text
):
    values = {
        "KEY": str(keys.alipay_public),
        "ALIPAY": str(certificates.alipay_cert),
        "APP": str(certificates.app_cert),
        "LEAF_ONLY": _pem(certificates.alipay_leaf),
        "REVERSED": _pem(certificates.intermediate) + _pem(certificates.alipay_leaf),
        "EC_ONLY": _pem(certificates.ec_root),
        "WITH_TEXT": "subject=Alipay\n" + _pem(certificates.alipay_cert),
    }
    settings = {**cert_settings, **{name: values.get(value, value) for name, value in change.items()}}
    settings = {name: value for name, value in settings.items() if value is not None}
    with pytest.raises(paycore.ConfigError, match=text):
        paycore.Gateway("alipay", settings)


def test_an_expired_certificate_is_refused(cert_settings, keys):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old Root")])
    now = datetime.datetime.now(datetime.UTC)
    old = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(keys.alipay.public_key())
        .serial_number(7)
        .not_valid_before(now - datetime.timedelta(days=800))
        .not_valid_after(now - datetime.timedelta(days=1))
        .sign(keys.alipay, hashes.SHA256())
    )
    pem = old.public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(paycore.ConfigError, match="not now"):
        paycore.Gateway("alipay", {**cert_settings, "alipay_cert": pem, "alipay_root_cert": pem})


# -- the sandbox's certificates look like Alipay's ---------------------------------------------------------------


def _sdk_sn(certificate: x509.Certificate) -> str:
    """The SN as common merchant SDKs compute it: the issuer written ``CN=…,OU=…,O=…,C=…``, each part assumed."""
    issuer = certificate.issuer

    def part(oid: x509.ObjectIdentifier) -> str:
        found = issuer.get_attributes_for_oid(oid)
        return str(found[0].value) if found else "None"  # what str.format makes of an absent attribute

    cn, ou = part(NameOID.COMMON_NAME), part(NameOID.ORGANIZATIONAL_UNIT_NAME)
    o, c = part(NameOID.ORGANIZATION_NAME), part(NameOID.COUNTRY_NAME)
    text = f"CN={cn},OU={ou},O={o},C={c}"
    return hashlib.md5(f"{text}{certificate.serial_number}".encode(), usedforsecurity=False).hexdigest()


@pytest.fixture(scope="module")
def certificate_sandbox():
    from paycore_alipay.sandbox import AlipaySandbox

    from paycore.sandbox import SandboxOptions

    with AlipaySandbox(SandboxOptions(profile="fast", certificates=True)) as sandbox:
        yield sandbox


def _certificates(path: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def test_the_sandbox_names_its_authorities_and_holders_with_alipays_attributes(certificate_sandbox):
    settings = certificate_sandbox.account_settings()
    authority = [NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME]
    holder = [
        NameOID.COUNTRY_NAME,
        NameOID.STATE_OR_PROVINCE_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.ORGANIZATIONAL_UNIT_NAME,
        NameOID.COMMON_NAME,
    ]
    app = _certificates(settings["app_cert"])[0]
    alipay, intermediate = _certificates(settings["alipay_cert"])
    (root,) = _certificates(settings["alipay_root_cert"])
    for certificate in (app, alipay, intermediate, root):
        assert [attribute.oid for attribute in certificate.issuer] == authority
    for certificate in (intermediate, root):
        assert [attribute.oid for attribute in certificate.subject] == authority
    for certificate in (app, alipay):
        assert [attribute.oid for attribute in certificate.subject] == holder


def test_an_sdk_writing_the_issuer_as_cn_ou_o_c_gets_the_sn_the_sandbox_expects(certificate_sandbox):
    from paycore_alipay._certs import cert_sn, root_cert_sn

    settings = certificate_sandbox.account_settings()
    for setting in ("app_cert", "alipay_cert", "alipay_root_cert"):
        certificate = _certificates(settings[setting])[0]
        expected = openssl_sn(Path(settings[setting]))  # openssl's reading of the first certificate
        assert _sdk_sn(certificate) == expected == cert_sn(certificate)
    root_pem = Path(settings["alipay_root_cert"]).read_text()
    assert root_cert_sn(root_pem) == "_".join(_sdk_sn(c) for c in _certificates(settings["alipay_root_cert"]))


def test_paycore_sandbox_serves_certificate_mode_from_the_command_line(tmp_path):
    import os
    import signal
    import sys

    paycore_cli = Path(sys.executable).with_name("paycore")
    command = [str(paycore_cli), "sandbox", "--provider", "alipay", "--certificates", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tmp_path, env=dict(os.environ)) as process:
        try:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                if line.startswith("alipay_root_cert"):
                    break
            printed = {line.split(" = ")[0]: line.split(" = ")[1].strip('"') for line in lines if " = " in line}
            assert {"app_cert", "alipay_cert", "alipay_root_cert", "private_key"} <= set(printed)
            assert "alipay_public_key" not in printed
            app = x509.load_pem_x509_certificate(Path(printed["app_cert"]).read_bytes())
            assert [attribute.oid for attribute in app.issuer][2] == NameOID.ORGANIZATIONAL_UNIT_NAME
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert process.returncode == 0  # stopped cleanly, its generated files removed


@pytest.mark.parametrize("provider", ["juhe", "epay"])
def test_a_sandbox_without_certificate_mode_refuses_the_switch(provider):
    from paycore.cli import main

    assert main(["sandbox", "--provider", provider, "--certificates", "--port", "0"]) == 2
