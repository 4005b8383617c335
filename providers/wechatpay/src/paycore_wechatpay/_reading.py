"""Reading WeChat Pay's JSON: text, amounts in fen, RFC 3339 times; each refusal a paycore error of its context.

``problem`` is the error class for the context: `paycore.ProtocolError` in an
answer, `paycore.MalformedNotification` in a notification.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from paycore import PaycoreError, toolkit

__all__ = ["object_at", "optional_yuan", "text", "time_of", "yuan"]

#: ``success_time`` and its kin: RFC 3339 with an offset (``2018-06-08T10:34:56+08:00``), at most microseconds
_LONGEST_TIME = len("2018-06-08T10:34:56.123456+08:00")


def text(data: Mapping[str, Any], name: str, problem: type[PaycoreError], *, required: bool = True) -> str:
    """A string field ("" when absent and not ``required``)."""
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise problem(f"WeChat Pay sent no text {name!r}")
    return value


def object_at(data: Mapping[str, Any], name: str, problem: type[PaycoreError]) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise problem(f"WeChat Pay sent no object {name!r}")
    return value


def yuan(data: Mapping[str, Any], name: str, problem: type[PaycoreError]) -> Decimal:
    """An amount in fen (a JSON integer) as exact yuan."""
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise problem(f"WeChat Pay sent {name!r} that is not a whole number of fen")
    try:
        return toolkit.from_minor_units(value, "CNY")
    except ValueError:
        raise problem(f"WeChat Pay sent a negative {name!r}") from None


def optional_yuan(data: Mapping[str, Any], name: str, problem: type[PaycoreError]) -> Decimal | None:
    """`yuan`, or None when the field is absent."""
    return None if data.get(name) is None else yuan(data, name, problem)


def time_of(data: Mapping[str, Any], name: str, problem: type[PaycoreError]) -> datetime | None:
    """An RFC 3339 time with its offset, or None when absent."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not 20 <= len(value) <= _LONGEST_TIME or value[10] != "T":
        raise problem(f"WeChat Pay sent {name!r} that is not an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise problem(f"WeChat Pay sent {name!r} that is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise problem(f"WeChat Pay sent {name!r} without its offset")
    return parsed
