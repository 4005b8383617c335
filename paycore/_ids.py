"""Merchant order ids: 20 characters, time-ordered, collision-resistant."""

from __future__ import annotations

import secrets
import threading
import time

__all__ = ["new_order_id"]

# Crockford's base32: no I, L, O or U, so ids survive being read aloud or retyped,
# and its ASCII order matches numeric order, so ids sort by time as strings.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TIME_CHARS = 10  # 50 bits: milliseconds until the year 37 000
_RANDOM_CHARS = 10  # 50 random bits per millisecond
_RANDOM_BITS = 5 * _RANDOM_CHARS

_lock = threading.Lock()
_last_ms = 0
_last_random = 0


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_order_id() -> str:
    """Return a new 20-character order id, e.g. ``'01JDQ3Z5N8X4K2M7PQRS'``.

    Ten characters of millisecond time followed by ten of randomness (50 bits),
    upper-case letters and digits only. Ids made by one process are strictly
    increasing, even within a millisecond or if the clock steps back; ids made by
    different processes in the same millisecond collide with probability 2**-50.
    Twenty characters is the longest order id the juhe gateways accept.
    """
    global _last_ms, _last_random
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms, _last_random = now_ms, secrets.randbits(_RANDOM_BITS)
        else:
            # Same millisecond (or a clock step back): keep the order by counting up.
            _last_random += 1
            if _last_random >> _RANDOM_BITS:
                _last_ms, _last_random = _last_ms + 1, secrets.randbits(_RANDOM_BITS)
        return _encode(_last_ms, _TIME_CHARS) + _encode(_last_random, _RANDOM_CHARS)
