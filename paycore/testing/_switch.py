"""Switch configured accounts to the fake provider, leaving the application's code and other accounts alone.

What the ``paycore_fake_account`` fixture does: each switched account's table in a
copy of the configuration file becomes ``provider = "fake"``, its
``PAYCORE_<ACCOUNT>_*`` variables are replaced by the fake's (its base URL: a
`FakeGateway` served on a loopback socket), and ``PAYCORE_TESTING=1`` lets the
configuration name the fake. The application then loads its configuration as it
always does. Switching every account at once needs no provider's secret at all.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from paycore._discovery import TESTING_ENV
from paycore.config import CONFIG_ENV, env_variable, load_config
from paycore.errors import ConfigError

__all__ = ["fake_account_environment", "toml_text"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(str(key))} = {_value(item)}" for key, item in value.items()) + "}"
    raise ConfigError(f"cannot copy a {type(value).__name__} setting into a test configuration")


def toml_text(data: Mapping[str, Any]) -> str:
    """TOML for a configuration: top-level scalars, then each table (nested tables inline)."""
    lines = [f"{_key(key)} = {_value(value)}" for key, value in data.items() if not isinstance(value, Mapping)]
    for key, value in data.items():
        if isinstance(value, Mapping):
            for name, table in value.items():
                lines.append(f"\n[{_key(key)}.{_key(str(name))}]")
                lines += [f"{_key(str(setting))} = {_value(item)}" for setting, item in table.items()]
    return "\n".join(lines) + "\n"


def fake_account_environment(
    account: str | None,
    fake_url: str,
    folder: Path,
    environ: MutableMapping[str, str] | None = None,
    *,
    every: bool = False,
) -> tuple[list[str], dict[str, str | None]]:
    """The accounts switched, and the environment changes that do it (None: unset the variable).

    ``account`` (None: the default one), or with ``every`` every configured account. A
    configuration file (``PAYCORE_CONFIG`` or ``./paycore.toml``) is copied into
    ``folder`` with the switched accounts' tables replaced.
    """
    env = os.environ if environ is None else environ
    config = load_config(environ={**env, TESTING_ENV: "1"})
    configured = config.account_names()
    if every:
        if not configured:
            raise ConfigError("no account is configured to switch to the fake")
        names = list(configured)
    else:
        name = config.resolve_name(account)
        if name not in configured:
            known = ", ".join(configured) or "none"
            raise ConfigError(f"no account named {name!r} to switch to the fake (configured: {known})")
        names = [name]
    changes: dict[str, str | None] = {TESTING_ENV: "1"}
    for name in names:
        changes.update(_account_changes(name, configured, env, fake_url))
    if config.path is not None and config.path.exists():
        data = tomllib.loads(config.path.read_text(encoding="utf-8"))
        accounts = dict(data.get("accounts", {}))
        accounts.update({name: {"provider": "fake"} for name in names})
        data["accounts"] = accounts
        copy = folder / "paycore.toml"
        copy.write_text(toml_text(data), encoding="utf-8")
        changes[CONFIG_ENV] = str(copy)
    return names, changes


def _account_changes(
    name: str, configured: tuple[str, ...] | list[str], env: Mapping[str, str], fake_url: str
) -> dict[str, str | None]:
    """Unset the account's ``PAYCORE_<ACCOUNT>_*`` variables; point it at the fake."""
    prefix = env_variable(name, "")
    # Another account whose name extends this one owns its own variables (PAYCORE_MAIN_B_* for "main_b").
    others = [env_variable(other, "") for other in configured if other != name]
    longer = [other for other in others if other != prefix and other.startswith(prefix)]
    changes: dict[str, str | None] = {
        variable: None
        for variable in env
        if variable.startswith(prefix) and not any(variable.startswith(other) for other in longer)
    }
    changes.update({env_variable(name, "provider"): "fake", env_variable(name, "base_url"): fake_url})
    return changes
