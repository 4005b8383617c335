"""Keeping gateway URLs' query strings and declared secret parameters out of every log.

Some protocols must send the merchant's key in a query string. paycore's own log
lines name method, host and path only; httpx logs every request's full URL at
INFO, and an application may switch that on. A filter on the ``httpx`` logger
therefore rewrites the URL of each logged request: for an origin paycore has sent
a gateway request to, the query string is dropped; for any other URL, the values
of parameters a provider declared secret (`paycore.Provider.secret_parameters`)
are masked. httpcore's DEBUG lines carry no URL, only hosts and ports.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode

import httpx

__all__ = ["declare_secret_parameters", "install", "remember_origin", "safe_target"]

_origins: set[tuple[str, str, int | None]] = set()
_secret_parameters: set[str] = set()
_installed = False
_lock = threading.Lock()
_MASK = "***"


def safe_target(url: httpx.URL) -> str:
    """``scheme://host[:port]/path``: what a log line may say of a gateway URL."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def remember_origin(url: httpx.URL) -> None:
    """Note that paycore sends gateway requests to ``url``'s origin: their query strings are never logged."""
    _origins.add((url.scheme, url.host, url.port))


def declare_secret_parameters(names: Iterable[str]) -> None:
    """Mask these query parameters' values in any URL httpx logs."""
    _secret_parameters.update(names)


def _redacted(url: httpx.URL) -> str:
    if (url.scheme, url.host, url.port) in _origins:
        return safe_target(url) + ("?[query redacted by paycore]" if url.query else "")
    if not url.query or not _secret_parameters:
        return str(url.copy_with(username=None, password=None)) if url.userinfo else str(url)
    pairs = parse_qsl(url.query.decode("ascii", "replace"), keep_blank_values=True)
    masked = [(name, _MASK if name in _secret_parameters else value) for name, value in pairs]
    return safe_target(url) + "?" + urlencode(masked, safe="*")


class _RedactGatewayUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(arg, httpx.URL) for arg in args):
            record.args = tuple(_redacted(arg) if isinstance(arg, httpx.URL) else arg for arg in args)
        return True


def install() -> None:
    """Attach the filter to the ``httpx`` logger, once per process."""
    global _installed
    if _installed:
        return
    with _lock:
        if not _installed:
            logging.getLogger("httpx").addFilter(_RedactGatewayUrls())
            _installed = True
