"""Small, tested helpers that provider authors would otherwise copy: settings validators, currencies.

Use them as pydantic validators in a provider's settings model::

    from typing import Annotated
    from pydantic import AfterValidator
    from paycore.toolkit import base_url

    class AcmeSettings(paycore.ProviderSettings):
        base_url: Annotated[str, AfterValidator(base_url)]

Each raises ``ValueError`` with a message that names the rule, never the value (a
URL may carry credentials): paycore turns it into a `paycore.ConfigError` naming
the setting.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["base_url", "is_http_url", "minor_units"]

# ISO 4217 minor units where they are not 2.
_MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"), 0),
    **dict.fromkeys(("VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_units(currency: str) -> int:
    """How many decimal places amounts in ``currency`` have (ISO 4217): 2 unless listed otherwise."""
    return _MINOR_UNITS.get(currency, 2)


def is_http_url(value: str, *, allow_query: bool = True) -> str | None:
    """Why ``value`` is not a usable absolute http(s) URL, or None when it is.

    Refused: another scheme, no host, credentials (``user:password@``), a port
    outside 1-65535, whitespace or control characters (header injection), text
    that is not valid Unicode, and, unless ``allow_query``, a query or fragment.
    """
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return "must not contain whitespace or control characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "must be an absolute http:// or https:// URL with a port from 1 to 65535"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not carry credentials (user:password@): they would be logged and shown"
    if port is not None and not 1 <= port <= 65535:
        return "must have a port from 1 to 65535"
    if not allow_query and (parts.query or parts.fragment or "?" in value or "#" in value):
        return "must have no query or fragment"
    return None


def base_url(value: str) -> str:
    """A gateway's base URL setting: see `is_http_url` (no query or fragment); trailing ``/`` dropped."""
    problem = is_http_url(value, allow_query=False)
    if problem is not None:
        raise ValueError(problem)
    return value.rstrip("/")
