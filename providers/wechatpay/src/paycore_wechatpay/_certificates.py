"""Platform certificates: read from a setting, or from ``GET /v3/certificates`` (each encrypted with the APIv3 key).

WeChat Pay names a certificate by its serial number in upper-case hexadecimal;
``serial_key`` is the one spelling every lookup uses. A downloaded certificate is
trusted because it opens with the APIv3 key (AES-256-GCM authenticates it: only
the platform and the merchant hold that key) and because it says what its entry
says: its serial, and a validity that holds now.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from paycore import crypto

__all__ = ["PlatformCertificate", "certificate_of", "load_certificates", "read_downloaded", "serial_key"]

_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")
#: what ``encrypt_certificate.associated_data`` says for a platform certificate
_CERTIFICATE_AAD = "certificate"


@dataclass(frozen=True)
class PlatformCertificate:
    """One platform certificate: its serial (as looked up), its key and when it is valid."""

    serial: str
    public_key: rsa.RSAPublicKey
    not_before: datetime
    not_after: datetime


def serial_key(serial: str) -> str:
    """The spelling a serial is looked up by: upper case, no leading zeros (the platform writes 40 digits)."""
    return serial.strip().upper().lstrip("0") or "0"


def certificate_of(pem: bytes, what: str) -> PlatformCertificate:
    """A platform certificate from its PEM: RSA, 2048 bits at least; ValueError naming ``what`` otherwise."""
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ValueError(f"{what} holds something that is not an X.509 certificate") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < crypto.MIN_RSA_BITS:
        raise ValueError(f"{what} holds a certificate without an RSA key of {crypto.MIN_RSA_BITS} bits or more")
    return PlatformCertificate(
        serial=serial_key(f"{certificate.serial_number:X}"),
        public_key=key,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def load_certificates(value: str, what: str) -> tuple[PlatformCertificate, ...]:
    """The certificates of a setting: PEM text (one certificate or several), or a file holding it."""
    text = crypto.key_text(value, what)
    blocks = _PEM_CERTIFICATE.findall(text)
    if not blocks or _PEM_CERTIFICATE.sub("", text).strip():
        raise ValueError(f"{what} must be PEM certificates and nothing else")
    return tuple(certificate_of(block.encode("ascii"), what) for block in blocks)


def read_downloaded(data: Mapping[str, object], apiv3_key: bytes, now: datetime) -> tuple[PlatformCertificate, ...]:
    """The certificates of a ``/v3/certificates`` answer, each decrypted and checked; ValueError if any is wrong.

    All or nothing: one entry that does not open, or names another serial than its
    certificate, refuses the whole answer. Certificates not valid at ``now`` are left out.
    """
    entries = data.get("data")
    if not isinstance(entries, list) or not entries:
        raise ValueError("the certificates answer holds no data list")
    found: list[PlatformCertificate] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError("a certificates entry is not an object")
        sealed = entry.get("encrypt_certificate")
        serial = entry.get("serial_no")
        if not isinstance(sealed, dict) or not isinstance(serial, str):
            raise ValueError("a certificates entry lacks serial_no or encrypt_certificate")
        fields = [sealed.get(name) for name in ("algorithm", "nonce", "associated_data", "ciphertext")]
        if not all(isinstance(field, str) for field in fields) or fields[0] != "AEAD_AES_256_GCM":
            raise ValueError("a certificate is not sealed with AEAD_AES_256_GCM")
        nonce, associated_data, ciphertext = (str(field) for field in fields[1:])
        if associated_data != _CERTIFICATE_AAD:
            raise ValueError("a sealed certificate's associated_data is not 'certificate'")
        pem = crypto.aead_aes_256_gcm_decrypt(apiv3_key, nonce, associated_data, ciphertext)
        certificate = certificate_of(pem, "a downloaded platform certificate")
        if certificate.serial != serial_key(serial):
            raise ValueError("a downloaded certificate's serial is not the serial_no of its entry")
        # One not valid now is left out, not trusted later: its time is the certificate's own, not the entry's.
        if certificate.not_before <= now <= certificate.not_after:
            found.append(certificate)
    return tuple(found)
