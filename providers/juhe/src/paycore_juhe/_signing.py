"""The juhe signature: upper-case MD5 over sorted ``k=v`` pairs plus ``&key=``.

Known vector (from the protocol document)::

    >>> sign({"pay_amount": "0.01", "pay_applydate": "2016-12-26 18:18:18", ...}, key)
    'F47CE633CBE2B3CF2F9ECCD6D6167425'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

__all__ = ["HTML_UNSAFE", "digest", "sign", "signing_string"]

#: Characters the gateway's HTML escaping (strip_tags, htmlspecialchars) changes
#: before it recomputes the sign: a signed value holding one never verifies.
HTML_UNSAFE = frozenset("&<>\"'")


def signing_string(fields: Mapping[str, str], *, keep_zero: bool = False) -> str:
    """``k1=v1&k2=v2`` over the non-empty fields, sorted by name (ASCII), raw values.

    "Empty" is PHP's ``empty()`` on a string, as the reference gateway applies it:
    ``""`` and ``"0"``; ``keep_zero`` keeps ``"0"``, as some platforms do.
    """
    return "&".join(
        f"{name}={fields[name]}" for name in sorted(fields) if fields[name] != "" and (keep_zero or fields[name] != "0")
    )


def sign(fields: Mapping[str, str], key: str, *, keep_zero: bool = False) -> str:
    """Sign ``fields`` (exactly the signed ones) with ``key``: upper-case hex MD5."""
    return digest(signing_string(fields, keep_zero=keep_zero).encode("utf-8"), key)


def digest(signed: bytes, key: str) -> str:
    """The upper-case hex MD5 of an encoded signing string with ``&key=`` appended."""
    payload = signed + b"&key=" + key.encode("utf-8")
    return hashlib.md5(payload).hexdigest().upper()  # noqa: S324  # the protocol's MAC, not our choice
