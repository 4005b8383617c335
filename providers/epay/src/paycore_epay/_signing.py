"""The epay v1 signature: MD5 over the sorted, non-empty parameters with the key appended directly.

Every parameter except ``sign`` and ``sign_type`` whose value is not empty, sorted
by name (byte order), joined ``name=value&name=value`` with the raw values, then
the merchant key appended with no separator; MD5, lower-case hex.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

__all__ = ["UNSIGNED", "sign", "signed_string"]

#: parameters the signature never covers
UNSIGNED = frozenset({"sign", "sign_type"})


def signed_string(fields: Mapping[str, str]) -> str:
    """The text that is signed, without the key."""
    return "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name not in UNSIGNED and fields[name] != "")


def sign(fields: Mapping[str, str], key: str) -> str:
    # MD5 is the protocol's, not a choice: the platforms accept nothing else in v1.
    return hashlib.md5((signed_string(fields) + key).encode("utf-8"), usedforsecurity=False).hexdigest()
