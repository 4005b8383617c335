"""Alipay's answer envelope: ``{"<method>_response": {...}, "sign": "..."}``, read with exact spans.

The signature covers the response object's JSON text *as sent*: a re-serialization
would change spacing, key order or escapes and never verify. So the top level is
scanned here with the spans of each value; the values themselves are parsed by
`paycore.toolkit.load_json` (Decimal numbers, strict).
"""

from __future__ import annotations

import json
from typing import Any

from paycore import toolkit

__all__ = ["Envelope", "read_envelope"]

_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder()


class Envelope:
    """The response object (parsed, and its exact text) and the signature beside it."""

    def __init__(
        self, response: dict[str, Any], response_text: str, sign: str | None, *, error: bool, cert_sn: str | None
    ) -> None:
        self.response = response
        self.response_text = response_text
        self.sign = sign
        #: certificate mode: the SN of the certificate Alipay signed with (``alipay_cert_sn``)
        self.cert_sn = cert_sn
        #: the answer is Alipay's ``error_response``, not the method's: a refusal whatever it says
        self.error = error


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def _top_level(text: str) -> dict[str, tuple[int, int]]:
    """Each top-level key of a JSON object and the span of its value; ValueError for anything else."""
    index = _skip(text, 0)
    if index >= len(text) or text[index] != "{":
        raise ValueError("the answer is not a JSON object")
    spans: dict[str, tuple[int, int]] = {}
    index = _skip(text, index + 1)
    if index < len(text) and text[index] == "}":
        return spans
    while True:
        if index >= len(text) or text[index] != '"':
            raise ValueError("a key of the answer is not a string")
        key, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if index >= len(text) or text[index] != ":":
            raise ValueError("the answer is not JSON")
        start = _skip(text, index + 1)
        _, end = _DECODER.raw_decode(text, start)
        if key in spans:
            raise ValueError(f"the answer gives {toolkit.clip(key)!r} twice")
        spans[key] = (start, end)
        index = _skip(text, end)
        if index < len(text) and text[index] == ",":
            index = _skip(text, index + 1)
            continue
        if index < len(text) and text[index] == "}" and _skip(text, index + 1) == len(text):
            return spans
        raise ValueError("the answer is not JSON")


def read_envelope(body: bytes, method: str) -> Envelope:
    """The envelope of ``method``'s answer; ValueError when it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the answer is not UTF-8") from None
    try:
        spans = _top_level(text)
    except (json.JSONDecodeError, RecursionError):
        raise ValueError("the answer is not JSON") from None
    name = method.replace(".", "_") + "_response"
    if name in spans and "error_response" in spans:
        raise ValueError(f"the answer gives both {name} and error_response")
    error = name not in spans
    span = spans.get("error_response") if error else spans[name]
    if span is None:
        raise ValueError(f"the answer has no {name}")
    response_text = text[span[0] : span[1]]
    response = toolkit.load_json(response_text)
    if not isinstance(response, dict):
        raise ValueError(f"{name} is not an object")
    sign, cert_sn = (_text_at(text, spans, name) for name in ("sign", "alipay_cert_sn"))
    return Envelope(response, response_text, sign, error=error, cert_sn=cert_sn)


def _text_at(text: str, spans: dict[str, tuple[int, int]], name: str) -> str | None:
    if name not in spans:
        return None
    value = toolkit.load_json(text[spans[name][0] : spans[name][1]])
    if not isinstance(value, str):
        raise ValueError(f"the answer's {name} is not a string")
    return value
