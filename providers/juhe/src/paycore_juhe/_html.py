"""Reading HTML answers in linear time: where a page redirects, and what it says.

Gateways answer with HTML pages that a hostile or broken server controls, so no
pattern here may backtrack: tags are found with ``str.find``, each character is
looked at a bounded number of times, and the regular expressions used are anchored
at literal starts with possessive quantifiers. A 1 MB hostile page costs
milliseconds, not minutes (see ``benchmarks/juhe_html.py``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

__all__ = ["redirect_targets", "visible_text"]

_META = re.compile(r"<meta\b", re.I)
# An attribute, matched only where a name starts (the lookbehind), so a failed
# match costs the name's length once, not once per character of it.
_ATTRIBUTE = re.compile(r"""(?<![\w-])([\w-]++)\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s"'>]++))""")
_REFRESH_URL = re.compile(r"\s*+\d++\s*+;\s*+url\s*+=\s*+['\"]?([^'\"\s]++)", re.I)
_SCRIPT_LOCATION = re.compile(
    r"""\blocation(?:\.href)?\s*+=\s*+["']([^"'<>\s]++)["']"""
    r"""|\blocation\.(?:replace|assign)\(\s*+["']([^"'<>\s]++)["']\s*+\)""",
    re.I,
)
_HIDDEN = {"script": re.compile(r"</script", re.I), "style": re.compile(r"</style", re.I)}
_TAG_NAME = re.compile(r"/?+([A-Za-z][\w-]*+)")


def _meta_refresh_targets(text: str) -> Iterator[str]:
    position = 0
    while (found := _META.search(text, position)) is not None:
        end = text.find(">", found.end())
        if end == -1:
            return  # an unterminated tag: nothing after it is a tag either
        attributes: dict[str, str] = {}
        for match in _ATTRIBUTE.finditer(text, found.end(), end):
            value = match.group(2) if match.group(2) is not None else match.group(3) or match.group(4) or ""
            attributes.setdefault(match.group(1).lower(), value)
        if attributes.get("http-equiv", "").lower() == "refresh":
            url = _REFRESH_URL.match(attributes.get("content", ""))
            if url is not None:
                yield url.group(1)
        position = end + 1


def redirect_targets(text: str) -> Iterator[str]:
    """Every URL the page sends the browser to, as written (HTML-escaped): meta refresh first, then scripts."""
    yield from _meta_refresh_targets(text)
    for match in _SCRIPT_LOCATION.finditer(text):
        yield match.group(1) or match.group(2)


def visible_text(text: str, limit: int = 160) -> str:
    """The page's visible text, whitespace folded, cut at ``limit`` characters; script and style left out."""
    pieces: list[str] = []
    gathered = 0
    position = 0
    length = len(text)
    # Enough raw text for ``limit`` folded characters: stop reading once gathered.
    while position < length and gathered <= 4 * limit:
        opening = text.find("<", position)
        piece = text[position:] if opening == -1 else text[position:opening]
        piece = " ".join(piece.split())
        if piece:
            pieces.append(piece)
            gathered += len(piece)
        if opening == -1:
            break
        closing = text.find(">", opening)
        if closing == -1:
            break
        name = _TAG_NAME.match(text, opening + 1, closing)
        hidden = _HIDDEN.get(name.group(1).lower()) if name is not None and text[opening + 1] != "/" else None
        if hidden is None:
            position = closing + 1
            continue
        end = hidden.search(text, closing)
        if end is None:
            break
        after = text.find(">", end.end())
        if after == -1:
            break
        position = after + 1
    folded = " ".join(" ".join(html.unescape(piece) for piece in pieces).split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"
