"""``paycore accounts``: what is configured, each account's settings with its secrets masked."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pydantic

from paycore import errors
from paycore._cli_output import emit
from paycore._plugins import load_provider_class
from paycore._validation import describe_validation_error
from paycore.config import load_config

__all__ = ["accounts"]


def _masked_settings(provider: str, settings: dict[str, Any]) -> dict[str, Any]:
    model = load_provider_class(provider).settings_model
    try:
        # SecretStr fields dump as '**********': the model knows what is secret.
        return model.model_validate(settings).model_dump(mode="json")
    except pydantic.ValidationError as exc:
        problem = describe_validation_error(exc)
    # Raised outside the except block: its hidden __context__ would keep the settings, secrets included.
    raise errors.ConfigError(problem)


def accounts(args: argparse.Namespace) -> int:
    config = load_config(getattr(args, "config", None))
    try:
        default: str | None = config.resolve_name(None)
    except errors.ConfigError:
        default = None
    listing = []
    for name in config.account_names():
        entry: dict[str, Any] = {"name": name, "default": name == default}
        try:
            account = config.account(name)
            entry["provider"] = account.provider
            entry["settings"] = _masked_settings(account.provider, dict(account.settings))
        except errors.PaycoreError as exc:
            entry["error"] = str(exc)
        listing.append(entry)

    def readable() -> str:
        if not listing:
            return "no accounts configured"
        lines = []
        for entry in listing:
            marker = " (default)" if entry["default"] else ""
            lines.append(f"{entry['name']}{marker}: {entry.get('provider', '?')}")
            if "error" in entry:
                lines.append(f"  error: {entry['error']}")
            for key, value in entry.get("settings", {}).items():
                lines.append(f"  {key} = {json.dumps(value, ensure_ascii=False)}")
        return "\n".join(lines)

    emit(args, listing, readable)
    # A configuration check: any account that would not load fails the command.
    return 2 if any("error" in entry for entry in listing) else 0
