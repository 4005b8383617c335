"""Reading a gateway's answer with a size cap: stop at the limit, never buffer more.

A hostile or broken gateway can answer with hundreds of megabytes, or with a small
compressed body that inflates to that. The answer is streamed, decoded and counted
as it arrives; past the limit the connection is dropped and the caller gets a
`ProtocolError`. The provider then sees an ordinary, fully read `httpx.Response`.
"""

from __future__ import annotations

import httpx

from paycore._deadline import check_while_reading
from paycore.errors import ProtocolError

__all__ = ["DEFAULT_MAX_ANSWER_BYTES", "aread_capped", "read_capped"]

#: Larger than any genuine answer (a JSON object or a cashier page), small enough
#: that a hostile one costs nothing.
DEFAULT_MAX_ANSWER_BYTES = 256 * 1024

# The body handed on is decoded already: these headers would describe it wrongly.
_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _too_large(response: httpx.Response, limit: int) -> ProtocolError:
    return ProtocolError(
        f"gateway answered HTTP {response.status_code} with more than {limit} bytes; "
        "read no further (raise max_answer_bytes if this gateway is genuine)"
    )


def _buffered(response: httpx.Response, body: bytes) -> httpx.Response:
    # The raw bytes: a gateway may send header values that are not ASCII (UTF-8 text in
    # a custom header); decoded and re-encoded they would fail.
    headers = [(name, value) for name, value in response.headers.raw if name.lower().decode() not in _DROPPED_HEADERS]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
        default_encoding=response.encoding or "utf-8",
    )


def _declared_too_large(response: httpx.Response, limit: int) -> bool:
    declared = response.headers.get("content-length", "")
    return declared.isdigit() and "content-encoding" not in response.headers and int(declared) > limit


def read_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """The streamed ``response`` read whole, or ProtocolError past ``limit`` decoded bytes; closes it."""
    try:
        if _declared_too_large(response, limit):
            raise _too_large(response, limit)
        body = bytearray()
        for chunk in response.iter_bytes():
            check_while_reading()  # a transport paycore could not wrap is bounded here
            body += chunk
            if len(body) > limit:
                raise _too_large(response, limit)
        return _buffered(response, bytes(body))
    finally:
        response.close()


async def aread_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """The async twin of `read_capped`."""
    try:
        if _declared_too_large(response, limit):
            raise _too_large(response, limit)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            check_while_reading()
            body += chunk
            if len(body) > limit:
                raise _too_large(response, limit)
        return _buffered(response, bytes(body))
    finally:
        await response.aclose()
