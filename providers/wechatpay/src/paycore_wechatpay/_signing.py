"""What the merchant signs: requests (the ``Authorization`` header) and the parameters handed to WeChat's SDKs.

Every message is lines joined by ``\\n`` with a ``\\n`` after the last, signed with
SHA256withRSA by the merchant's API private key (base64).
"""

from __future__ import annotations

import secrets
import time

from cryptography.hazmat.primitives.asymmetric import rsa

from paycore import crypto

__all__ = ["SCHEMA", "authorization", "message", "new_nonce", "now_text", "sign"]

#: the Authorization scheme, and the signature type every platform message must name
SCHEMA = "WECHATPAY2-SHA256-RSA2048"


def message(*lines: str | bytes) -> bytes:
    """The signed text: each line followed by ``\\n`` (a body is taken byte for byte)."""
    return b"".join((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n" for line in lines)


def new_nonce() -> str:
    """32 random upper-case hexadecimal characters (the platform takes up to 32)."""
    return secrets.token_hex(16).upper()


def now_text() -> str:
    """The current Unix time in seconds, as the protocol writes it."""
    return str(int(time.time()))


def sign(lines: tuple[str | bytes, ...], key: rsa.RSAPrivateKey) -> str:
    return crypto.rsa_sha256_sign(message(*lines), key)


def authorization(*, mchid: str, serial_no: str, key: rsa.RSAPrivateKey, method: str, path: str, body: bytes) -> str:
    """The ``Authorization`` header of a request: ``path`` with its query string, ``body`` exactly as sent."""
    nonce, timestamp = new_nonce(), now_text()
    signature = sign((method, path, timestamp, nonce, body), key)
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )
