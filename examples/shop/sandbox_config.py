"""The ``paycore.toml`` of a shop on sandboxes: what ``python -m examples.shop`` and the shop's tests write."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["paycore_toml"]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def paycore_toml(default: str, accounts: Mapping[str, Mapping[str, Any]]) -> str:
    """One ``[accounts.<name>]`` table per account (``provider`` first, then its settings), ``default`` above."""
    blocks = [f"default = {_value(default)}\n"]
    for name, settings in accounts.items():
        lines = [f"[accounts.{name}]", *(f"{key} = {_value(value)}" for key, value in settings.items())]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
