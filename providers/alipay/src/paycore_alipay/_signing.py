"""RSA2 (SHA256withRSA, PKCS#1 v1.5) over Alipay's sorted ``k=v`` string, base64; with ``cryptography``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["sign", "sign_content", "verify"]


def sign_content(fields: Mapping[str, str], unsigned: frozenset[str] = frozenset({"sign"})) -> str:
    """Every parameter but ``unsigned`` with a non-empty value, sorted by name, joined ``k=v&k=v``, raw values."""
    return "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name not in unsigned and fields[name] != "")


def sign(text: str, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def verify(text: str | bytes, signature: str, key: rsa.RSAPublicKey) -> bool:
    """Whether ``signature`` (base64) is Alipay's RSA2 signature of ``text``."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
