"""Echoing received or caller-given text in messages and log lines, bounded."""

from __future__ import annotations

__all__ = ["clip"]

#: What an echoed value is cut to: enough to recognise it, never megabytes.
CLIP = 64


def clip(value: str, limit: int = CLIP) -> str:
    """``value`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    return value if len(value) <= limit else value[: limit - 1] + "…"
