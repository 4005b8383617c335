"""Accounts: which provider serves the application, with which settings.

``paycore.toml`` (or the file named by ``PAYCORE_CONFIG``)::

    default = "main"

    [accounts.main]
    provider = "juhe"
    base_url = "https://pay.example.com"
    merchant_id = "10001"
    # secret_key comes from PAYCORE_MAIN_SECRET_KEY

Every setting of account ``main`` can be given (or overridden) in the environment
as ``PAYCORE_MAIN_<SETTING>``; account names are upper-cased there, with ``-``
written as ``_``. A value that starts with ``{`` or ``[`` is read as JSON, for
settings that are tables. An account may live in the environment alone.

The account used is the one named by the caller, else ``PAYCORE_ACCOUNT``,
else ``default`` in the file, else the only account there is.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paycore.errors import ConfigError

__all__ = [
    "ACCOUNT_ENV",
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "MAX_SECONDS",
    "AccountConfig",
    "PaycoreConfig",
    "RawSettings",
    "env_variable",
    "load_config",
    "seconds_setting",
]

CONFIG_ENV = "PAYCORE_CONFIG"
ACCOUNT_ENV = "PAYCORE_ACCOUNT"
DEFAULT_CONFIG_PATH = Path("paycore.toml")
#: The most bytes of a configuration file read: a configuration is a few kilobytes.
MAX_CONFIG_BYTES = 1 << 20
_ENV_PREFIX = "PAYCORE_"
# Core keys of an account table; every other key is a provider setting.
_CORE_KEYS = frozenset({"provider", "timeout", "deadline", "create_flow"})
#: The longest a timeout or deadline may be: beyond it a payment call is a hang.
MAX_SECONDS = 600.0


def seconds_setting(name: str, value: object) -> float:
    """``value`` as a number of seconds for ``name``: finite, above 0, at most `MAX_SECONDS`; else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{name} must be a number of seconds")
    try:
        seconds = float(value)
    except (ValueError, OverflowError):  # OverflowError: an int of hundreds of digits
        raise ConfigError(f"{name} must be a number of seconds") from None
    if not 0 < seconds <= MAX_SECONDS:  # NaN fails too
        raise ConfigError(f"{name} must be more than 0 and at most {MAX_SECONDS:g} seconds")
    return seconds


class RawSettings(dict[str, Any]):
    """An account's settings as read, before the provider's model types them.

    A plain ``dict`` whose ``repr()`` and ``str()`` show the names only: any value
    may be a secret until the provider has declared it one.
    """

    def __repr__(self) -> str:
        return "RawSettings(<" + ", ".join(sorted(map(str, self))) + ">)"

    __str__ = __repr__


@dataclass(frozen=True)
class AccountConfig:
    """One account: a provider name plus that provider's raw settings."""

    name: str
    provider: str
    settings: Mapping[str, Any] = field(repr=False)
    timeout: float | None = None
    deadline: float | None = None
    #: how new orders are created when the caller does not say (``server`` or ``form``)
    create_flow: str | None = None

    def __repr__(self) -> str:
        # Values may be secrets before the provider's model has typed them.
        keys = ", ".join(sorted(self.settings))
        return f"AccountConfig(name={self.name!r}, provider={self.provider!r}, settings=<{keys}>)"


def _env_key(account: str) -> str:
    return _ENV_PREFIX + account.upper().replace("-", "_") + "_"


def env_variable(account: str, setting: str) -> str:
    """The environment variable that sets ``setting`` of ``account``, e.g. ``PAYCORE_MAIN_SECRET_KEY``."""
    return _env_key(account) + setting.upper()


def _env_value(raw: str) -> Any:
    if raw.lstrip().startswith(("{", "[")):
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            raise ConfigError("an environment setting starting with '{' or '[' is not valid JSON") from None
    return raw


@dataclass(frozen=True)
class PaycoreConfig:
    """The parsed configuration: accounts from the file, plus the environment."""

    path: Path | None
    default: str | None
    accounts: Mapping[str, Mapping[str, Any]] = field(repr=False)
    environ: Mapping[str, str] = field(repr=False)

    def __repr__(self) -> str:
        # Account tables hold raw settings, secrets among them: names only.
        names = ", ".join(self.account_names())
        path = str(self.path) if self.path else None
        return f"PaycoreConfig(path={path!r}, default={self.default!r}, accounts=<{names}>)"

    def account_names(self) -> list[str]:
        """Names of the accounts in the file and those defined only in the environment."""
        names = set(self.accounts)
        provider_suffix = "_PROVIDER"
        known_keys = {_env_key(name): name for name in names}
        for variable in self.environ:
            if variable.startswith(_ENV_PREFIX) and variable.endswith(provider_suffix):
                prefix = variable[: -len(provider_suffix) + 1]
                if prefix not in known_keys and len(prefix) > len(_ENV_PREFIX) + 1:
                    names.add(prefix[len(_ENV_PREFIX) : -1].lower())
        return sorted(names)

    def resolve_name(self, account: str | None = None) -> str:
        """Pick the account: explicit, else ``PAYCORE_ACCOUNT``, else default, else the only one."""
        if account is not None and not isinstance(account, str):
            raise ConfigError(f"an account name is a string, not {type(account).__name__}")
        name = account or self.environ.get(ACCOUNT_ENV) or self.default
        if name:
            return name
        names = self.account_names()
        if len(names) == 1:
            return names[0]
        where = str(self.path) if self.path else "no configuration file"
        if not names:
            raise ConfigError(f"no payment account is configured ({where}; see {CONFIG_ENV})")
        raise ConfigError(
            f"several accounts ({', '.join(names)}) and no default: set 'default' in {where} or {ACCOUNT_ENV}"
        )

    def account(self, account: str | None = None) -> AccountConfig:
        """Return the resolved account, with environment overrides applied."""
        name = self.resolve_name(account)
        table: dict[str, Any] = dict(self.accounts.get(name, {}))
        prefix = _env_key(name)
        # A longer account name sharing this prefix owns its own variables, whether it
        # is in the file or in the environment alone: the longest name wins.
        longer = [
            _env_key(other)
            for other in self.account_names()
            if other != name and _env_key(other) != prefix and _env_key(other).startswith(prefix)
        ]
        for variable, raw in self.environ.items():
            if variable.startswith(prefix) and not any(variable.startswith(other) for other in longer):
                setting = variable[len(prefix) :].lower()
                if setting:
                    table[setting] = _env_value(raw)
        if not table:
            known = ", ".join(self.account_names()) or "none"
            raise ConfigError(f"no account named {name!r} (configured: {known})")
        provider = table.pop("provider", None)
        if not isinstance(provider, str) or not provider:
            raise ConfigError(f'account {name!r} names no provider (set provider = "...")')
        seconds: dict[str, float | None] = {}
        for key in ("timeout", "deadline"):
            raw = table.pop(key, None)
            try:
                seconds[key] = None if raw is None else seconds_setting(key, raw)
            except ConfigError as exc:
                raise ConfigError(f"account {name!r}: {exc}") from None
        create_flow = table.pop("create_flow", None)
        if create_flow is not None and create_flow not in ("server", "form"):
            raise ConfigError(f"account {name!r}: create_flow must be 'server' or 'form'")
        return AccountConfig(
            name=name,
            provider=provider,
            settings=RawSettings(table),
            timeout=seconds["timeout"],
            deadline=seconds["deadline"],
            create_flow=create_flow,
        )


def load_config(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> PaycoreConfig:
    """Read the configuration from ``path``, else ``PAYCORE_CONFIG``, else ``./paycore.toml``.

    A missing ``./paycore.toml`` is an empty configuration (accounts may come from
    the environment); a missing file that was named explicitly is an error.
    """
    env = os.environ if environ is None else environ
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ConfigError("environ must be a mapping of strings to strings")
    explicit = path if path is not None else env.get(CONFIG_ENV)
    if explicit is not None and not isinstance(explicit, str | os.PathLike):
        raise ConfigError(f"a configuration path is a str or a path object, not {type(explicit).__name__}")
    try:
        file_path = Path(explicit) if explicit else DEFAULT_CONFIG_PATH
    except TypeError:  # a PathLike whose __fspath__ returns something else
        raise ConfigError("a configuration path must name a file") from None
    if "\0" in str(file_path):
        raise ConfigError("a configuration path must not contain a NUL character")
    try:
        if file_path.exists() and not file_path.is_file():
            # /dev/zero never ends, a pipe blocks: a configuration is a regular file.
            raise ConfigError(f"configuration file {str(file_path)!r} is not a regular file")
        with file_path.open("rb") as handle:
            content = handle.read(MAX_CONFIG_BYTES + 1)
        if len(content) > MAX_CONFIG_BYTES:
            raise ConfigError(f"configuration file {str(file_path)!r} is larger than {MAX_CONFIG_BYTES} bytes")
        data = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"configuration file {str(file_path)!r} is not UTF-8 text") from None
    except UnicodeEncodeError:  # a lone surrogate: no file system name is spelt so
        raise ConfigError(f"the configuration path {str(file_path)!r} is not text the system can name") from None
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"configuration file {str(file_path)!r} does not exist") from None
        return PaycoreConfig(path=None, default=None, accounts={}, environ=env)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {str(file_path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {str(file_path)!r} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"configuration file {str(file_path)!r} nests tables too deeply") from None
    except ValueError:  # not a TOMLDecodeError: an integer of 4,300 digits or more, which Python will not read
        raise ConfigError(f"configuration file {str(file_path)!r} is not valid TOML: a number is too long") from None
    return _parse(file_path, data, env)


def _parse(path: Path, data: Mapping[str, Any], environ: Mapping[str, str]) -> PaycoreConfig:
    unknown = sorted(set(data) - {"default", "accounts"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level keys: {', '.join(unknown)}")
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}: 'default' must be an account name")
    accounts = data.get("accounts", {})
    if not isinstance(accounts, dict) or not all(isinstance(table, dict) for table in accounts.values()):
        raise ConfigError(f"{path}: [accounts.NAME] must be tables")
    if default is not None and accounts and default not in accounts:
        raise ConfigError(
            f"{path}: default account {default!r} is not among the accounts ({', '.join(sorted(accounts))})"
        )
    return PaycoreConfig(path=path, default=default, accounts=accounts, environ=environ)
