"""The reference gateway's own rules, written independently of the client side.

The sandbox must not share signing code with paycore_juhe's client: a shared bug
would make both sides agree on a wrong signature. This module follows the PHP
software step by step: HTML-escape every input, drop PHP-``empty()`` values,
``ksort``, join, append the key, MD5, upper case.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal, InvalidOperation

__all__ = ["escape_like_php", "md5_sign", "php_empty", "to_decimal"]

_TAG = re.compile(r"<[^>]*>?")


def php_empty(value: str) -> bool:
    return value == "" or value == "0"


def escape_like_php(value: str) -> str:
    """``htmlspecialchars(strip_tags($value), ENT_QUOTES)``, as the gateway filters input."""
    value = _TAG.sub("", value)
    return (
        value.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("'", "&#039;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def md5_sign(params: dict[str, str], key: str) -> str:
    pieces = []
    for name in sorted(params):
        if not php_empty(params[name]):
            pieces.append(name + "=" + params[name])
    joined = "&".join(pieces) + "&key=" + key
    return hashlib.md5(joined.encode("utf-8")).hexdigest().upper()  # noqa: S324  # the protocol's MAC


def to_decimal(value: str) -> Decimal | None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None
