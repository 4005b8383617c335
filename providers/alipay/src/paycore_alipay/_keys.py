"""RSA keys as Alipay's console gives them: PEM, or the bare base64 body; the value itself or a file holding it."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["MIN_RSA_BITS", "load_private_key", "load_public_key"]

#: RSA2 keys are 2048 bits; shorter ones are refused
MIN_RSA_BITS = 2048
_PEM_MARK = "-----BEGIN"
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
#: shorter than any 2048-bit key's base64 (a public key is about 390 characters): a file path, then
_SHORTEST_BARE_KEY = 256


def _text_of(value: str, what: str) -> str:
    """The key's text: ``value`` itself, or the content of the file it names."""
    stripped = value.strip()
    if _PEM_MARK in stripped or (len(stripped) >= _SHORTEST_BARE_KEY and _BASE64.fullmatch(stripped)):
        return stripped
    path = Path(stripped).expanduser()
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError, ValueError):
        # The message names neither the value nor the path's content: a key must not reach a log.
        raise ValueError(f"{what} is neither a PEM key, a bare base64 key, nor a readable key file") from None


def _der_of(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not PEM nor base64") from None


def load_private_key(value: str) -> rsa.RSAPrivateKey:
    """The merchant's RSA private key (PKCS#8 or PKCS#1; PEM or bare base64; value or file)."""
    return _private_key_of(_text_of(value, "private_key"))


@functools.lru_cache(maxsize=32)
def _private_key_of(text: str) -> rsa.RSAPrivateKey:
    # Cached: checking an RSA private key costs milliseconds, and every gateway of the account loads it.
    try:
        if _PEM_MARK in text:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            key = serialization.load_der_private_key(_der_of(text, "private_key"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError("private_key is not an unencrypted RSA private key (PKCS#8 or PKCS#1)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private_key is not an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"private_key has {key.key_size} bits; RSA2 needs {MIN_RSA_BITS}")
    return key


def load_public_key(value: str) -> rsa.RSAPublicKey:
    """Alipay's RSA public key (SubjectPublicKeyInfo or PKCS#1; PEM or bare base64; value or file)."""
    text = _text_of(value, "alipay_public_key")
    try:
        if "BEGIN RSA PUBLIC KEY" in text or _PEM_MARK in text:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            der = _der_of(text, "alipay_public_key")
            try:
                key = serialization.load_der_public_key(der)
            except ValueError:
                key = serialization.load_der_public_key(_pkcs1_as_spki(der))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError("alipay_public_key is not an RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("alipay_public_key is not an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"alipay_public_key has {key.key_size} bits; RSA2 needs {MIN_RSA_BITS}")
    return key


def _pkcs1_as_spki(der: bytes) -> bytes:
    """A bare PKCS#1 RSAPublicKey wrapped as SubjectPublicKeyInfo (rsaEncryption, NULL parameters)."""
    algorithm = bytes.fromhex("300d06092a864886f70d0101010500")
    bit_string = b"\x03" + _der_length(len(der) + 1) + b"\x00" + der
    body = algorithm + bit_string
    return b"\x30" + _der_length(len(body)) + body


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded
