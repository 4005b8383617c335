"""Alipay's certificate mode: public key certificates, their serial-number digests ("SN"), the root bundle.

In certificate mode every request carries ``app_cert_sn`` (the SN of the
application's public key certificate) and ``alipay_root_cert_sn`` (the SNs of the
RSA certificates in Alipay's root bundle, joined with ``_``), and Alipay's answers
say which of its certificates signed them (``alipay_cert_sn``). A certificate's SN
is the MD5, in 32 lower-case hex digits, of its issuer's distinguished name as
RFC 2253 writes it (most specific first: ``CN=...,OU=...,O=...,C=CN``) followed by
its serial number in decimal.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa

from paycore.crypto import MIN_RSA_BITS, key_text

__all__ = ["AlipayCertificate", "cert_sn", "load_certificate", "load_roots", "root_cert_sn"]

_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")
#: the signature algorithms of the RSA family (PKCS#1): only these roots count in ``alipay_root_cert_sn``
_RSA_SIGNATURE_PREFIX = "1.2.840.113549.1.1."
_RSA_SIGNATURE_PREFIX_DER = bytes.fromhex("2a864886f70d0101")


def cert_sn(certificate: x509.Certificate) -> str:
    """The SN Alipay names a certificate by."""
    issuer = certificate.issuer.rfc4514_string()
    return hashlib.md5(f"{issuer}{certificate.serial_number}".encode(), usedforsecurity=False).hexdigest()


def _blocks(value: str, what: str) -> list[str]:
    """The PEM certificates of a setting (the value, or the file it names), and nothing else around them."""
    text = key_text(value, what)
    blocks = _CERTIFICATE.findall(text)
    if not blocks or _CERTIFICATE.sub("", text).strip():
        raise ValueError(f"{what} must hold PEM certificates (-----BEGIN CERTIFICATE-----) and nothing else")
    return blocks


def _signature_is_rsa(block: str) -> bool:
    """Whether a certificate cryptography cannot read is signed with an RSA algorithm, read off its DER.

    Alipay's root bundle holds roots ``cryptography`` refuses to parse (an ECDSA one
    with explicit NULL parameters, an SM2 one); only RSA ones count, so a
    certificate is looked at just enough to tell: ``Certificate ::= SEQUENCE {
    tbsCertificate, signatureAlgorithm SEQUENCE { OID, ... }, signature }``.
    """
    body = "".join(block.split("\n")[1:-1])
    data = base64.b64decode("".join(body.split()))
    index = _header_end(data, 0)  # into the outer SEQUENCE
    index = _skip(data, index)  # past tbsCertificate
    index = _header_end(data, index)  # into signatureAlgorithm
    if data[index] != 0x06:
        raise ValueError("not an algorithm identifier")
    length = data[index + 1]
    return data[index + 2 : index + 2 + length].startswith(_RSA_SIGNATURE_PREFIX_DER)


def _length(data: bytes, index: int) -> tuple[int, int]:
    """The length of the DER element whose length octets start at ``index``, and where its content starts."""
    first = data[index]
    if first < 0x80:
        return first, index + 1
    count = first & 0x7F
    if not 1 <= count <= 4:
        raise ValueError("an unusable DER length")
    return int.from_bytes(data[index + 1 : index + 1 + count], "big"), index + 1 + count


def _header_end(data: bytes, index: int) -> int:
    if data[index] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    return _length(data, index + 1)[1]


def _skip(data: bytes, index: int) -> int:
    length, start = _length(data, index + 1)
    return start + length


def root_cert_sn(value: str) -> str:
    """``alipay_root_cert_sn``: the SNs of the bundle's RSA-signed certificates, in order, joined with ``_``."""
    sns: list[str] = []
    for block in _blocks(value, "alipay_root_cert"):
        try:
            certificate = x509.load_pem_x509_certificate(block.encode("ascii"))
        except ValueError:
            try:
                rsa_signed = _signature_is_rsa(block)
            except (ValueError, IndexError):
                raise ValueError("alipay_root_cert holds a certificate that cannot be read") from None
            if rsa_signed:
                raise ValueError("alipay_root_cert holds an RSA certificate that cannot be read") from None
            continue
        if certificate.signature_algorithm_oid.dotted_string.startswith(_RSA_SIGNATURE_PREFIX):
            sns.append(cert_sn(certificate))
    if not sns:
        raise ValueError("alipay_root_cert holds no RSA certificate: it is not Alipay's root certificate bundle")
    return "_".join(sns)


class AlipayCertificate:
    """A public key certificate as Alipay issues it: its SN, its RSA public key, the chain that came with it."""

    def __init__(self, chain: list[x509.Certificate], what: str) -> None:
        self.chain = chain
        self.sn = cert_sn(chain[0])
        key = chain[0].public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError(f"{what}'s certificate does not hold an RSA key")
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"{what}'s key has {key.key_size} bits; RSA2 needs {MIN_RSA_BITS}")
        self.public_key = key

    def issued_by(self, roots: list[x509.Certificate], what: str, now: datetime.datetime) -> None:
        """ValueError unless each certificate of the chain is issued by the next, the last by one of ``roots``,
        and each is valid ``now``."""
        for certificate in self.chain:
            if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
                raise ValueError(
                    f"{what} holds a certificate valid from {certificate.not_valid_before_utc:%Y-%m-%d} "
                    f"to {certificate.not_valid_after_utc:%Y-%m-%d}, not now: download the current one"
                )
        for certificate, issuer in zip(self.chain, self.chain[1:], strict=False):
            if not _directly_issued(certificate, issuer):
                raise ValueError(f"{what}'s certificates are not a chain (each issued by the next)")
        if not any(_directly_issued(self.chain[-1], root) for root in roots):
            raise ValueError(f"{what} is not issued by a certificate of alipay_root_cert")


def _directly_issued(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):  # another issuer, an unsupported algorithm, a bad signature
        return False
    return True


def load_certificate(value: str, what: str) -> AlipayCertificate:
    """A public key certificate setting (PEM; the value or a file): the certificate first, its issuers after."""
    try:
        chain = [x509.load_pem_x509_certificate(block.encode("ascii")) for block in _blocks(value, what)]
    except ValueError as exc:
        if str(exc).startswith(what):
            raise
        raise ValueError(f"{what} holds a certificate that cannot be read") from None
    return AlipayCertificate(chain, what)


def load_roots(value: str) -> list[x509.Certificate]:
    """The certificates of the root bundle ``cryptography`` can read (to check a chain against)."""
    roots = []
    for block in _blocks(value, "alipay_root_cert"):
        try:
            roots.append(x509.load_pem_x509_certificate(block.encode("ascii")))
        except ValueError:
            continue
    return roots
