"""The alipay sandbox's keys, certificates and signing: its own code, written apart from the provider's.

Keys are generated once per process (2048-bit RSA takes a while); in certificate
mode a certificate authority of its own (a root and an intermediate) issues
Alipay's and the app's certificates, named as Alipay's are.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "SELLER_ID",
    "CertificateAuthority",
    "authority_keys",
    "authority_name",
    "generated_keys",
    "holder_name",
    "rsa2_sign",
    "signed_content",
]

#: the seller the sandbox's trades belong to (``seller_id``)
SELLER_ID = "2088000000000001"


def signed_content(fields: Mapping[str, str], unsigned: Iterable[str]) -> str:
    """Alipay's side of the signed string, written apart from the provider's."""
    skipped = set(unsigned)
    pairs = sorted((name, value) for name, value in fields.items() if name not in skipped and value)
    return "&".join(name + "=" + value for name, value in pairs)


def rsa2_sign(data: bytes, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


@functools.cache
def generated_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """Generated once per process: 2048-bit keys take a while, and every sandbox of a test run would wait."""
    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3))  # type: ignore[return-value]  # three, as asked


class CertificateAuthority:
    """Certificates as Alipay's authority issues them, for certificate mode: a root, an intermediate, and
    Alipay's and the app's certificates (the sandbox's own code, apart from the provider's)."""

    def __init__(self, alipay_key: rsa.RSAPrivateKey, app_key: rsa.RSAPrivateKey, app_id: str) -> None:
        root_key, intermediate_key = authority_keys()
        self.root = self._issue(authority_name("Sandbox Root R1"), root_key.public_key(), None, root_key, ca=True)
        self.intermediate = self._issue(
            authority_name("Sandbox Class 2 R1"), intermediate_key.public_key(), self.root, root_key, ca=True, serial=2
        )
        self.alipay = self._issue(
            holder_name("Alipay sandbox"), alipay_key.public_key(), self.intermediate, intermediate_key, serial=3
        )
        self.app = self._issue(
            holder_name(f"{SELLER_ID}-{app_id}"), app_key.public_key(), self.intermediate, intermediate_key, serial=4
        )

    @staticmethod
    def _issue(
        subject: x509.Name,
        key: rsa.RSAPublicKey,
        issuer: x509.Certificate | None,
        signing_key: rsa.RSAPrivateKey,
        *,
        ca: bool = False,
        serial: int = 1,
    ) -> x509.Certificate:
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer is not None else subject)
            .public_key(key)
            .serial_number(0x5A0D_B0C5 * 100 + serial)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(signing_key, hashes.SHA256())
        )

    @staticmethod
    def sn(certificate: x509.Certificate) -> str:
        """Alipay's name for a certificate: MD5 of its issuer (RFC 2253) and its serial in decimal."""
        text = certificate.issuer.rfc4514_string() + str(certificate.serial_number)
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def authority_name(common_name: str) -> x509.Name:
    """An authority's name with the attributes of Alipay's own (``CN=…,OU=…,O=…,C=…``).

    Merchant SDKs write a certificate's issuer as exactly ``CN=…,OU=…,O=…,C=…`` when
    they compute its SN, taking each part for granted: an issuer without an ``OU``
    (or with parts Alipay's have not) gives them another SN than the gateway's.
    """
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paycore sandbox"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Certification Authority"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def holder_name(common_name: str) -> x509.Name:
    """A certificate holder's name as Alipay writes them: ``CN=…,OU=…,O=…,L=…,ST=…,C=…``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Zhejiang"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Hangzhou"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paycore sandbox"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Alipay"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@functools.cache
def authority_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The root's and the intermediate's keys, generated once per process and only in certificate mode."""
    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))  # type: ignore[return-value]  # two, as asked
