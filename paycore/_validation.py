"""Turning pydantic validation errors into paycore messages that echo no input.

pydantic's own messages repeat the offending input, which may be a secret key;
these helpers keep the location and the reason only.
"""

from __future__ import annotations

import pydantic

__all__ = ["describe_validation_error"]


def describe_validation_error(exc: pydantic.ValidationError) -> str:
    """Return ``field: reason; ...`` for every error, never the input value."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "value"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)
