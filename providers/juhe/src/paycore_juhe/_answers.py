"""Reading the gateway's answers to create and query, whatever shape they come in."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from paycore import GatewayError, ProtocolError
from paycore_juhe._messages import plain_amount

__all__ = ["answer_amount", "gateway_refusal", "json_object", "page_text", "redirect_url", "scalar_text"]

_REDIRECT_PATTERNS = (
    re.compile(r"""<meta[^>]+http-equiv=["']?refresh["']?[^>]+content=["']?\s*\d+\s*;\s*url=([^"'>\s]+)""", re.I),
    re.compile(r"""(?:window\.|document\.|top\.)?location(?:\.href)?\s*=\s*["']([^"']+)["']""", re.I),
    re.compile(r"""location\.(?:replace|assign)\(\s*["']([^"']+)["']\s*\)""", re.I),
)
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.I | re.S)


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, whatever the content type claims; None if it is not JSON."""
    try:
        # parse_float=Decimal keeps "100.00" as written: amounts stay exact, signs verify.
        data = json.loads(response.content.decode("utf-8-sig"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        raise ProtocolError(f"gateway answered JSON that is not an object ({type(data).__name__})")
    return data


def gateway_refusal(data: dict[str, Any], what: str) -> GatewayError:
    message = str(data.get("msg") or data.get("message") or "no reason given")
    return GatewayError(f"gateway refused the {what}: {message}", gateway_message=message)


def redirect_url(response: httpx.Response, base_url: str) -> str | None:
    """A payment page the answer sends the buyer to: a Location header or a redirect in HTML."""
    candidates = []
    if response.is_redirect and "location" in response.headers:
        candidates.append(response.headers["location"])
    text = response.text
    candidates += [match.group(1) for pattern in _REDIRECT_PATTERNS for match in pattern.finditer(text)]
    for candidate in candidates:
        url = urljoin(base_url + "/", html.unescape(candidate.strip()))
        if urlsplit(url).scheme in ("http", "https"):
            return url
    return None


def page_text(response: httpx.Response, limit: int = 160) -> str:
    """The visible text of an HTML answer, shortened, for an error message."""
    text = " ".join(html.unescape(_TAGS.sub(" ", response.text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scalar_text(name: str, value: object) -> str:
    """A JSON value as the PHP gateway printed it into the signed string."""
    if isinstance(value, str):
        return value
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, int | Decimal):
        return str(value)
    raise ProtocolError(f"gateway answered a nested value for {name!r}")


def answer_amount(data: dict[str, Any], name: str) -> Decimal | None:
    """An amount field of an answer: None when absent or empty, ProtocolError when malformed."""
    raw = scalar_text(name, data.get(name))
    if not raw:
        return None
    amount = plain_amount(raw)
    if amount is None:
        raise ProtocolError(f"gateway answered a malformed {name}: {raw[:32]!r}")
    return amount
