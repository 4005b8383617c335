"""Reading a gateway's answer with a size cap: stop at the limit, never buffer more.

A hostile or broken gateway can answer with hundreds of megabytes, or with a small
compressed body that inflates to that. The answer is streamed, decoded and counted
as it arrives; past the limit the connection is dropped and the caller gets a
`ProtocolError`. The provider then sees an ordinary, fully read `httpx.Response`.
"""

from __future__ import annotations

import zlib

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


class _Body:
    """The answer's body as it arrives, inflated with a bound, counted against the limit.

    gzip and deflate are inflated here with ``max_length``, so a compressed chunk
    never inflates past what the limit allows (httpx's decoders inflate a whole
    chunk first: 64 KB of a bomb is 64 MB). Other encodings (br, zstd, a chain)
    go through httpx's decoders and are checked after each chunk.
    """

    def __init__(self, response: httpx.Response, limit: int) -> None:
        self.response = response
        self.limit = limit
        self.data = bytearray()
        encoding = response.headers.get("content-encoding", "").strip().lower()
        self.raw = encoding in ("", "identity", "gzip", "x-gzip", "deflate")
        self._inflater: zlib._Decompress | None = None
        self._deflate = encoding == "deflate"
        if encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._deflate:
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)

    def add(self, chunk: bytes, *, decoded: bool = False) -> None:
        check_while_reading()  # a transport paycore could not wrap is bounded here
        if self._inflater is None or decoded:
            self.data += chunk
        else:
            self.data += self._inflate(chunk)
        if len(self.data) > self.limit:
            raise _too_large(self.response, self.limit)

    def _inflate(self, chunk: bytes) -> bytes:
        assert self._inflater is not None  # only called when inflating
        room = self.limit + 1 - len(self.data)
        try:
            out = self._inflater.decompress(chunk, room)
        except zlib.error:
            if not (self._deflate and not self.data):
                raise httpx.DecodingError("the answer's compressed body is corrupt") from None
            # Some servers send raw deflate without the zlib header, as httpx accepts.
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            self._deflate = False
            return self._inflate(chunk)
        if self._inflater.unconsumed_tail:  # more output was waiting than the limit leaves room for
            raise _too_large(self.response, self.limit)
        return out

    def finish(self) -> httpx.Response:
        if self._inflater is not None:
            try:
                self.data += self._inflater.flush()
            except zlib.error:
                raise httpx.DecodingError("the answer's compressed body is corrupt") from None
            if len(self.data) > self.limit:
                raise _too_large(self.response, self.limit)
        return _buffered(self.response, bytes(self.data))


def read_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """The streamed ``response`` read whole, or ProtocolError past ``limit`` decoded bytes; closes it."""
    try:
        if _declared_too_large(response, limit):
            raise _too_large(response, limit)
        body = _Body(response, limit)
        # A response read already (a test transport's) holds its decoded content.
        if body.raw and not response.is_stream_consumed:
            for chunk in response.iter_raw():
                body.add(chunk)
        else:
            for chunk in response.iter_bytes():
                body.add(chunk, decoded=True)
        return body.finish()
    finally:
        response.close()


async def aread_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """The async twin of `read_capped`."""
    try:
        if _declared_too_large(response, limit):
            raise _too_large(response, limit)
        body = _Body(response, limit)
        if body.raw and not response.is_stream_consumed:
            async for chunk in response.aiter_raw():
                body.add(chunk)
        else:
            async for chunk in response.aiter_bytes():
                body.add(chunk, decoded=True)
        return body.finish()
    finally:
        await response.aclose()
