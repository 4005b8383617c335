"""How the ``paycore`` commands print: JSON with ``--json``, else aligned readable lines."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

__all__ = ["emit", "emit_model", "readable_fields", "toml_value"]


def emit(args: argparse.Namespace, data: Any, readable: Callable[[], str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(readable())


def readable_fields(data: dict[str, Any]) -> str:
    width = max(len(key) for key in data)
    lines = []
    for key, value in data.items():
        if value is None or value == {}:
            continue
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)


def emit_model(args: argparse.Namespace, model: Any) -> None:
    data = model.model_dump(mode="json")
    shown = dict(data)
    action = getattr(model, "next_action", None)
    if action is not None:
        # What the buyer must do, in words: a QR code's content, a link, a form, SDK parameters.
        shown["next_action"] = action.describe()
        shown.pop("form", None)
    ack = getattr(model, "ack", None)
    if ack is not None:
        shown["ack"] = f"HTTP {ack.status} {ack.content_type}: {ack.body}"
    emit(args, data, lambda: readable_fields(shown))


def toml_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string, array or number
