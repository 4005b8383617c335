"""RSA2 (SHA256withRSA, PKCS#1 v1.5, base64; `paycore.crypto`) over Alipay's sorted ``k=v`` string."""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import rsa

from paycore import crypto

__all__ = ["sign", "sign_content", "verify"]


def sign_content(fields: Mapping[str, str], unsigned: frozenset[str] = frozenset({"sign"})) -> str:
    """Every parameter but ``unsigned`` with a non-empty value, sorted by name, joined ``k=v&k=v``, raw values."""
    return "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name not in unsigned and fields[name] != "")


def sign(text: str, key: rsa.RSAPrivateKey) -> str:
    """Alipay's RSA2 signature of ``text`` (UTF-8)."""
    return crypto.rsa_sha256_sign(text.encode("utf-8"), key)


def verify(text: str | bytes, signature: str, key: rsa.RSAPublicKey) -> bool:
    """Whether ``signature`` (base64) is Alipay's RSA2 signature of ``text`` (UTF-8 when text)."""
    return crypto.rsa_sha256_verify(text.encode("utf-8") if isinstance(text, str) else text, signature, key)
