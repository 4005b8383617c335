"""Alipay's key settings, read by `paycore.crypto`: the merchant's private key and Alipay's public key."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from paycore import crypto

__all__ = ["load_private_key", "load_public_key"]


def load_private_key(value: str) -> rsa.RSAPrivateKey:
    """The merchant's RSA private key (PKCS#8 or PKCS#1; PEM or bare base64; value or file)."""
    return crypto.load_private_key(value, "private_key")


def load_public_key(value: str) -> rsa.RSAPublicKey:
    """Alipay's RSA public key (SubjectPublicKeyInfo or PKCS#1; PEM or bare base64; value or file)."""
    return crypto.load_public_key(value, "alipay_public_key", owner="Alipay")
