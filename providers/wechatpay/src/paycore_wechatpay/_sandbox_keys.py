"""The wechatpay sandbox's keys, certificates, sealing and signing: its own code, written apart from the provider's.

RSA keys are generated once per process (2048-bit keys take a while): the
merchant's API key, the platform's, and another to sign wrongly with. In
certificate mode an authority of the sandbox's own issues the platform
certificates; ``/v3/certificates`` serves them sealed with the APIv3 key.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import secrets
import string
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

__all__ = [
    "Authority",
    "checked_authorization",
    "generated_keys",
    "new_apiv3_key",
    "pem_private",
    "pem_public",
    "seal",
    "signature",
]

_AUTHORIZATION = re.compile(
    r'WECHATPAY2-SHA256-RSA2048 mchid="([^"]*)",nonce_str="([^"]*)",signature="([^"]*)",'
    r'timestamp="([^"]*)",serial_no="([^"]*)"'
)
_MAX_SKEW = 300


@functools.cache
def generated_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The merchant's, the platform's and a wrong key: once per process."""
    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3))  # type: ignore[return-value]  # three, as asked


@functools.cache
def authority_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_apiv3_key() -> str:
    """32 letters and digits, as the merchant platform lets a merchant set."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def pem_public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def signature(lines: tuple[str | bytes, ...], key: rsa.RSAPrivateKey) -> str:
    """SHA256withRSA over the lines, each followed by a newline; base64."""
    text = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    return base64.b64encode(key.sign(text, padding.PKCS1v15(), hashes.SHA256())).decode()


def seal(plain: bytes, apiv3_key: str, associated_data: str) -> dict[str, str]:
    """AEAD_AES_256_GCM as the platform seals a resource or a certificate: a 12-character nonce, base64 text."""
    nonce = secrets.token_hex(6)
    sealed = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plain, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "nonce": nonce,
        "associated_data": associated_data,
        "ciphertext": base64.b64encode(sealed).decode(),
    }


def checked_authorization(
    header: str, *, method: str, path: str, body: bytes, mchid: str, serial_no: str, key: rsa.RSAPublicKey
) -> str | None:
    """What is wrong with a request's Authorization, as the platform checks it; None when it verifies."""
    match = _AUTHORIZATION.fullmatch(header.strip())
    if match is None:
        return "Authorization 格式错误"
    claimed_mchid, nonce, signed, timestamp, serial = match.groups()
    if claimed_mchid != mchid:
        return "商户号与签名的商户号不一致"
    if serial.upper() != serial_no.upper():
        return "商户证书序列号有误"
    if not timestamp.isdigit() or abs(int(datetime.now(UTC).timestamp()) - int(timestamp)) > _MAX_SKEW:
        return "timestamp 已过期"
    text = "\n".join((method, path, timestamp, nonce)).encode() + b"\n" + body + b"\n"
    try:
        key.verify(base64.b64decode(signed, validate=True), text, padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature):
        return "签名错误"
    return None


class Authority:
    """The sandbox's certificate authority and the platform certificates it has issued (rotation adds one)."""

    def __init__(self) -> None:
        self._key = authority_key()
        self.name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paycore sandbox"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Certificate Authority"),
                x509.NameAttribute(NameOID.COMMON_NAME, "paycore sandbox CA"),
            ]
        )
        #: (certificate, its key), oldest first
        self.issued: list[tuple[x509.Certificate, rsa.RSAPrivateKey]] = []

    def issue(self, key: rsa.RSAPrivateKey, mchid: str) -> x509.Certificate:
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paycore sandbox"),
                        x509.NameAttribute(NameOID.COMMON_NAME, f"Tenpay sandbox platform {mchid}"),
                    ]
                )
            )
            .issuer_name(self.name)
            .public_key(key.public_key())
            # 20 random bytes, written as 40 hexadecimal digits: the platform's serials look so
            .serial_number(int.from_bytes(os.urandom(20), "big") >> 1)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * 5))
            .sign(self._key, hashes.SHA256())
        )
        self.issued.append((certificate, key))
        return certificate

    @staticmethod
    def serial(certificate: x509.Certificate) -> str:
        return f"{certificate.serial_number:040X}"
