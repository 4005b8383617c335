"""``attach`` on the wire: an encoding that every platform hands back unchanged.

The merchant's ``attach`` travels out in the create request (one layer of form
encoding, which the gateway decodes), is held HTML-escaped by the gateway, and
comes back in the notification either concatenated raw, form-encoded, or already
decoded by the merchant's web framework. Percent-encoding does not survive that:
whether the way back adds a layer or not cannot be told, and some platforms sign
``attach`` as they hold it. So paycore sends ``b64.`` + base64url (no padding) of
the UTF-8 text: only ``[A-Za-z0-9_.-]``, which neither form encoding, form
decoding nor HTML escaping changes, and which holds no ``&``/``=`` to spill.

    >>> encode_attach("会员 7&x=1")
    'b64.5Lya5ZGYIDcmeD0x'
    >>> decode_attach("b64.5Lya5ZGYIDcmeD0x")
    '会员 7&x=1'
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["ATTACH_PREFIX", "decode_attach", "encode_attach"]

#: Marks an ``attach`` that paycore encoded; '.' is outside base64url, so the
#: prefix cannot be confused with the payload.
ATTACH_PREFIX = "b64."
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def encode_attach(attach: str) -> str:
    encoded = base64.urlsafe_b64encode(attach.encode("utf-8")).rstrip(b"=").decode("ascii")
    return ATTACH_PREFIX + encoded


def decode_attach(received: str | None) -> str | None:
    """The merchant's ``attach`` from what came back; a value paycore did not encode, as received.

    An empty value is None: the reference software appends ``attach=`` whether or
    not one was sent.
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
