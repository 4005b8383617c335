"""``attach`` on the wire: an encoding that every platform hands back unchanged (re-exported by `paycore.toolkit`).

The merchant's ``attach`` travels out in the create request (one layer of form
encoding, which the gateway decodes), may be stored escaped by the gateway
(``htmlspecialchars``, ``addslashes``), and comes back in the notification either
raw, form-encoded, or already decoded by the merchant's web framework; some
platforms sign it as they hold it. Percent-encoding does not survive that. So the
text is sent as ``b64.`` + base64url (no padding) of its UTF-8 bytes: only
``[A-Za-z0-9_.-]``, which no form encoding, form decoding, HTML escaping or
backslash escaping changes, and which holds no ``&`` or ``=`` to spill into
another field.

    >>> encode_attach("会员 7&x=1")
    'b64.5Lya5ZGYIDcmeD0x'
    >>> decode_attach("b64.5Lya5ZGYIDcmeD0x")
    '会员 7&x=1'
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["ATTACH_PREFIX", "PLATFORM_ALTERED", "decode_attach", "encode_attach", "encode_attach_if_altered"]

#: Marks an ``attach`` that paycore encoded; '.' is outside base64url, so the
#: prefix cannot be confused with the payload.
ATTACH_PREFIX = "b64."
#: What PHP platforms change in stored text (``addslashes``, then ``htmlspecialchars``), and the
#: separators of a raw ``k=v&k=v`` signed string.
PLATFORM_ALTERED = frozenset("'\"\\\x00<>&=")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def encode_attach(attach: str) -> str:
    """``attach`` as ``b64.`` + base64url of its UTF-8 bytes: every platform hands it back unchanged."""
    encoded = base64.urlsafe_b64encode(attach.encode("utf-8")).rstrip(b"=").decode("ascii")
    return ATTACH_PREFIX + encoded


def encode_attach_if_altered(attach: str) -> str:
    """``attach`` as it is when no platform would alter it, else `encode_attach` of it.

    Encoded when it holds a character of `PLATFORM_ALTERED`, or begins with
    `ATTACH_PREFIX` (so that `decode_attach` gives back exactly what was sent).
    """
    if attach.startswith(ATTACH_PREFIX) or not PLATFORM_ALTERED.isdisjoint(attach):
        return encode_attach(attach)
    return attach


def decode_attach(received: str | None) -> str | None:
    """The merchant's ``attach`` from what came back; a value paycore did not encode, as received.

    An empty value is None: some platforms send ``attach=`` whether or not one was sent.
    """
    if not received:
        return None
    if not received.startswith(ATTACH_PREFIX):
        return received
    payload = received[len(ATTACH_PREFIX) :]
    if not _BASE64URL.fullmatch(payload) or len(payload) % 4 == 1:
        return received
    try:
        return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return received
