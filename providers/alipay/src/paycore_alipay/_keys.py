"""RSA keys as Alipay's console gives them: PEM, or the bare base64 body; the value itself or a file holding it."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

__all__ = ["MAX_KEY_FILE_BYTES", "MIN_RSA_BITS", "key_text", "load_private_key", "load_public_key"]

#: RSA2 keys are 2048 bits; shorter ones are refused
MIN_RSA_BITS = 2048
#: the most bytes of a key or certificate file read (Alipay's root bundle is a few kilobytes)
MAX_KEY_FILE_BYTES = 1 << 20
_PEM_MARK = "-----BEGIN"
#: one PEM block and nothing around it (its label captured)
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----[ \t]*\r?\n([A-Za-z0-9+/=\s]+?)\s*-----END \1-----")
_PRIVATE_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY"})
_PUBLIC_LABELS = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
#: shorter than any 2048-bit key's base64 (a public key is about 390 characters): a file path, then
_SHORTEST_BARE_KEY = 256


class _KeyTextError(ValueError):
    """A key setting's text is refused for its shape: the message is already the one to give."""


def key_text(value: str, what: str) -> str:
    """A key's (or certificate's) text: ``value`` itself, or the content of the file it names."""
    stripped = value.strip()
    if _PEM_MARK in stripped or (len(stripped) >= _SHORTEST_BARE_KEY and _BASE64.fullmatch(stripped)):
        return stripped
    refusal = f"{what} is neither PEM text, bare base64, nor a readable file"
    try:
        path = Path(stripped).expanduser()
        # Only a regular file, read no further than any key or bundle goes: /dev/zero never ends, a pipe blocks.
        if not path.is_file():
            raise ValueError(refusal)
        with path.open("rb") as handle:
            content = handle.read(MAX_KEY_FILE_BYTES + 1)
        if len(content) > MAX_KEY_FILE_BYTES:
            raise ValueError(f"{what} names a file larger than {MAX_KEY_FILE_BYTES} bytes: no key or certificate is")
        return content.decode("ascii").strip()
    except (OSError, UnicodeDecodeError, ValueError, RuntimeError) as exc:
        # RuntimeError: "~someone/key.pem" for a user this machine does not have.
        # The message names neither the value nor the path's content: a key must not reach a log.
        message = str(exc) if str(exc).startswith(what) else refusal
    raise ValueError(message)


def _single_pem(text: str, what: str, labels: frozenset[str]) -> bytes:
    """The text as one PEM block of an expected label, and nothing else.

    Extra text is refused rather than ignored: a loader reading the first block
    would accept a private key pasted after the public one, and the public key
    setting is printed (``paycore accounts``). The messages never quote the text.
    """
    match = _PEM_BLOCK.fullmatch(text)
    if match is None:
        if what == "alipay_public_key" and "PRIVATE" in text:
            raise _KeyTextError(f"{what} holds a private key: give Alipay's public key, not a private one")
        raise _KeyTextError(f"{what} must be exactly one PEM block and nothing else")
    label = match.group(1)
    if label not in labels:
        if "PRIVATE" in label and what == "alipay_public_key":
            raise _KeyTextError(f"{what} holds a private key: give Alipay's public key, not a private one")
        raise _KeyTextError(f"{what} is a PEM {label}, not one of {', '.join(sorted(labels))}")
    return text.encode("ascii")


def _der_of(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not PEM nor base64") from None


def load_private_key(value: str) -> rsa.RSAPrivateKey:
    """The merchant's RSA private key (PKCS#8 or PKCS#1; PEM or bare base64; value or file)."""
    return _private_key_of(key_text(value, "private_key"))


@functools.lru_cache(maxsize=32)
def _private_key_of(text: str) -> rsa.RSAPrivateKey:
    # Cached: checking an RSA private key costs milliseconds, and every gateway of the account loads it.
    try:
        if _PEM_MARK in text:
            key = serialization.load_pem_private_key(_single_pem(text, "private_key", _PRIVATE_LABELS), password=None)
        else:
            key = serialization.load_der_private_key(_der_of(text, "private_key"), password=None)
    except _KeyTextError:
        raise
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError("private_key is not an unencrypted RSA private key (PKCS#8 or PKCS#1)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private_key is not an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"private_key has {key.key_size} bits; RSA2 needs {MIN_RSA_BITS}")
    return key


def load_public_key(value: str) -> rsa.RSAPublicKey:
    """Alipay's RSA public key (SubjectPublicKeyInfo or PKCS#1; PEM or bare base64; value or file)."""
    text = key_text(value, "alipay_public_key")
    try:
        if _PEM_MARK in text:
            key = serialization.load_pem_public_key(_single_pem(text, "alipay_public_key", _PUBLIC_LABELS))
        else:
            key = _bare_public_key(_der_of(text, "alipay_public_key"))
    except _KeyTextError:
        raise
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError("alipay_public_key is not an RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("alipay_public_key is not an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"alipay_public_key has {key.key_size} bits; RSA2 needs {MIN_RSA_BITS}")
    return key


def _bare_public_key(der: bytes) -> PublicKeyTypes:
    try:
        return serialization.load_der_public_key(der)
    except ValueError:
        pass
    try:
        return serialization.load_der_public_key(_pkcs1_as_spki(der))
    except ValueError:
        pass
    try:
        serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise ValueError("alipay_public_key is not an RSA public key") from None
    raise _KeyTextError("alipay_public_key holds a private key: give Alipay's public key, not a private one")


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
