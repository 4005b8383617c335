"""RSA keys, SHA256withRSA, AES-256-GCM and timestamps: for providers whose gateways sign with keys and encrypt.

Needs the ``cryptography`` package: ``pip install 'paycore[crypto]'`` (a provider
that uses this module depends on that extra). Alipay's RSA2 and WeChat Pay v3 both
stand on it::

    key = crypto.load_private_key(settings.private_key.get_secret_value())
    signature = crypto.rsa_sha256_sign(message, key)                   # base64
    crypto.rsa_sha256_verify(message, received_signature, gateway_key)   # True or False
    plain = crypto.aead_aes_256_gcm_decrypt(api_key, nonce, associated_data, ciphertext_base64)

Key settings are the value itself (PEM, or bare base64 as gateways' consoles give
them) or a file holding it; messages name the setting and never quote the key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import time
from pathlib import Path

try:
    from cryptography.exceptions import InvalidSignature, InvalidTag
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError as missing:  # pragma: no cover - depends on what is installed
    raise ImportError("paycore.crypto needs the cryptography package: pip install 'paycore[crypto]'") from missing

__all__ = [
    "MAX_KEY_FILE_BYTES",
    "MIN_RSA_BITS",
    "aead_aes_256_gcm_decrypt",
    "is_fresh",
    "key_text",
    "load_private_key",
    "load_public_key",
    "rsa_sha256_sign",
    "rsa_sha256_verify",
]

#: SHA256withRSA keys of gateways are 2048 bits at least; shorter ones are refused
MIN_RSA_BITS = 2048
#: the most bytes of a key or certificate file read (a root bundle is a few kilobytes)
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


def _single_pem(text: str, what: str, labels: frozenset[str], owner: str = "the gateway") -> bytes:
    """The text as one PEM block of an expected label, and nothing else.

    Extra text is refused rather than ignored: a loader reading the first block
    would accept a private key pasted after the public one, and the public key
    setting is printed (``paycore accounts``). The messages never quote the text.
    """
    match = _PEM_BLOCK.fullmatch(text)
    if match is None:
        if labels is _PUBLIC_LABELS and "PRIVATE" in text:
            raise _KeyTextError(f"{what} holds a private key: give {owner}'s public key, not a private one")
        raise _KeyTextError(f"{what} must be exactly one PEM block and nothing else")
    label = match.group(1)
    if label not in labels:
        if "PRIVATE" in label and labels is _PUBLIC_LABELS:
            raise _KeyTextError(f"{what} holds a private key: give {owner}'s public key, not a private one")
        raise _KeyTextError(f"{what} is a PEM {label}, not one of {', '.join(sorted(labels))}")
    return text.encode("ascii")


def _der_of(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not PEM nor base64") from None


def load_private_key(value: str, what: str = "private_key") -> rsa.RSAPrivateKey:
    """An RSA private key setting (PKCS#8 or PKCS#1; PEM or bare base64; the value or a file holding it).

    ``what`` names the setting in messages, which never quote the key.
    """
    return _private_key_of(key_text(value, what), what)


@functools.lru_cache(maxsize=32)
def _private_key_of(text: str, what: str) -> rsa.RSAPrivateKey:
    # Cached: checking an RSA private key costs milliseconds, and every gateway of the account loads it.
    try:
        if _PEM_MARK in text:
            key = serialization.load_pem_private_key(_single_pem(text, what, _PRIVATE_LABELS), password=None)
        else:
            key = serialization.load_der_private_key(_der_of(text, what), password=None)
    except _KeyTextError:
        raise
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError(f"{what} is not an unencrypted RSA private key (PKCS#8 or PKCS#1)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{what} is not an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"{what} has {key.key_size} bits; SHA256withRSA needs {MIN_RSA_BITS}")
    return key


def load_public_key(value: str, what: str, *, owner: str = "the gateway") -> rsa.RSAPublicKey:
    """An RSA public key setting (SubjectPublicKeyInfo or PKCS#1; PEM or bare base64; the value or a file).

    ``what`` names the setting and ``owner`` whose key it is, in messages: a private
    key given instead is refused as such ("give Alipay's public key").
    """
    text = key_text(value, what)
    try:
        if _PEM_MARK in text:
            key = serialization.load_pem_public_key(_single_pem(text, what, _PUBLIC_LABELS, owner))
        else:
            key = _bare_public_key(_der_of(text, what), what, owner)
    except _KeyTextError:
        raise
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError(f"{what} is not an RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{what} is not an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"{what} has {key.key_size} bits; SHA256withRSA needs {MIN_RSA_BITS}")
    return key


def _bare_public_key(der: bytes, what: str, owner: str) -> PublicKeyTypes:
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
        raise ValueError(f"{what} is not an RSA public key") from None
    raise _KeyTextError(f"{what} holds a private key: give {owner}'s public key, not a private one")


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


# Stateless, so made once: building them on every verification costs as much as the checks around it.
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def rsa_sha256_sign(message: bytes, key: rsa.RSAPrivateKey) -> str:
    """SHA256withRSA (PKCS#1 v1.5) of ``message``, base64: Alipay's RSA2, WeChat Pay v3's request signature."""
    return base64.b64encode(key.sign(message, _PKCS1, _SHA256)).decode("ascii")


def rsa_sha256_verify(message: bytes, signature: str, key: rsa.RSAPublicKey) -> bool:
    """Whether ``signature`` (base64) is the SHA256withRSA signature of ``message`` by ``key``; never raises."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(raw, message, _PKCS1, _SHA256)
    except InvalidSignature:
        return False
    return True


def aead_aes_256_gcm_decrypt(key: bytes, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    """Decrypt AEAD_AES_256_GCM (WeChat Pay v3's notification ``resource``): ValueError when it does not open.

    ``key`` is the 32-byte key (the APIv3 key's bytes), ``nonce`` and
    ``associated_data`` the text sent beside the ``ciphertext`` (base64, the 16-byte
    tag at its end). A changed byte anywhere, or another key, fails the tag check.
    """
    if len(key) != 32:
        raise ValueError("an AES-256-GCM key is 32 bytes")
    try:
        sealed = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the ciphertext is not base64") from None
    try:
        return _aes_gcm(key).decrypt(nonce.encode("utf-8"), sealed, associated_data.encode("utf-8"))
    except (InvalidTag, ValueError):
        raise ValueError("the ciphertext does not open with this key, nonce and associated data") from None


@functools.lru_cache(maxsize=32)
def _aes_gcm(key: bytes) -> AESGCM:
    # Built once per key: an account decrypts every notification with the same APIv3 key.
    return AESGCM(key)


def is_fresh(timestamp: str, max_age: float, *, now: float | None = None) -> bool:
    """Whether ``timestamp`` (Unix seconds, as text) is within ``max_age`` seconds of now, either way.

    A replayed message keeps its old timestamp: a signed timestamp far from the
    clock is refused. Text that is not plain decimal digits is not fresh.
    """
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    clock = time.time() if now is None else now
    return abs(clock - int(timestamp)) <= max_age
