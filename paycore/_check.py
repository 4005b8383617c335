"""``paycore check``: what is wrong, or risky, with the configured accounts before production finds out.

For each account: the settings load (else an error); URLs in the settings use
https unless they point at this machine; no secret looks like a placeholder (or is
the public sandbox key); the notify URL, when given, is public https; the gateway
answers at all. Nothing here prints a secret's value.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx
import pydantic

from paycore._accounts import Accounts
from paycore._gateway import Gateway
from paycore._sandbox_key import PUBLIC_SANDBOX_KEY
from paycore.config import PaycoreConfig
from paycore.errors import PaycoreError

__all__ = ["Finding", "check_account", "secret_placeholder_reason"]

Level = Literal["ok", "warning", "error"]

_PLACEHOLDERS = re.compile(
    r"(change[-_ ]?me|replace[-_ ]?me|your[-_ ]?(key|secret)|placeholder|example|dummy|todo|fixme|xxx+|"
    r"^secret$|^password$|^test$|^key$|^12345+6?7?8?9?0?$|^(.)\2*$)",
    re.IGNORECASE,
)
_SHORT_SECRET = 16
_LOCAL_SUFFIXES = (".local", ".internal", ".lan", ".localhost", ".test", ".example", ".invalid", ".home.arpa")


@dataclass(frozen=True)
class Finding:
    """One thing ``paycore check`` says about an account."""

    account: str
    level: Level
    message: str


def _is_this_machine(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_public_host(host: str) -> bool:
    if not host or _is_this_machine(host) or "." not in host or host.endswith(_LOCAL_SUFFIXES):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return address.is_global


def secret_placeholder_reason(value: str, public: frozenset[str] = frozenset()) -> str | None:
    """Why a secret looks unusable for production, or None (the value itself is never part of the reason).

    ``public`` holds the provider's own public test credentials, beside paycore's public sandbox key.
    """
    if value == PUBLIC_SANDBOX_KEY or value in public:
        return "is the public sandbox test key"
    if _PLACEHOLDERS.search(value.strip()):
        return "looks like a placeholder"
    if len(value) < _SHORT_SECRET:
        return f"is shorter than {_SHORT_SECRET} characters"
    return None


def _settings_findings(account: str, settings: pydantic.BaseModel, public: frozenset[str]) -> Iterator[Finding]:
    for name, value in settings.__dict__.items():
        if isinstance(value, pydantic.SecretStr):
            reason = secret_placeholder_reason(value.get_secret_value(), public)
            if reason:
                yield Finding(account, "warning", f"secret {name} {reason}")
        elif isinstance(value, str) and name.endswith("url") and value.startswith("http://"):
            host = urlsplit(value).hostname or ""
            if not _is_this_machine(host):
                yield Finding(account, "warning", f"{name} {value} is plain http: requests and answers can be read")


def _notify_findings(account: str, notify_url: str) -> Iterator[Finding]:
    parts = urlsplit(notify_url)
    if parts.scheme != "https":
        yield Finding(
            account, "warning", f"notify URL {notify_url} is not https: the gateway's notifications travel in clear"
        )
    if not _is_public_host(parts.hostname or ""):
        yield Finding(
            account, "warning", f"notify URL {notify_url} is not on a public host: the gateway cannot reach it"
        )


def _reach(account: str, base_url: str, timeout: float) -> Finding:
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(base_url)
    except httpx.HTTPError as exc:
        return Finding(account, "warning", f"gateway {base_url} unreachable: {type(exc).__name__}")
    elapsed = (time.perf_counter() - started) * 1000
    return Finding(account, "ok", f"gateway {base_url} answered HTTP {response.status_code} in {elapsed:.0f} ms")


def check_account(
    config: PaycoreConfig, name: str, *, notify_base: str | None = None, reach: bool = True, timeout: float = 5.0
) -> list[Finding]:
    """Everything ``paycore check`` says about account ``name``."""

    try:
        account = config.account(name)
        gateway = Gateway(account.provider, account.settings, account=name)
    except PaycoreError as exc:
        return [Finding(name, "error", str(exc))]
    with gateway:
        findings = [Finding(name, "ok", f"settings load ({account.provider})")]
        settings = gateway.provider.settings
        findings += _settings_findings(name, settings, type(gateway.provider).public_test_credentials)
        if notify_base is not None:
            try:
                notify_url = Accounts({name: gateway}).notify_url(notify_base, name)
            except PaycoreError as exc:
                findings.append(Finding(name, "error", str(exc)))
            else:
                findings += _notify_findings(name, notify_url)
        base_url = getattr(settings, "base_url", None)
        if reach and isinstance(base_url, str):
            findings.append(_reach(name, base_url, timeout))
    return findings
