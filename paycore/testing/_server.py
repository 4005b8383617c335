"""Serve an httpx-style handler over a real loopback socket, in a thread.

::

    with LoopbackServer(FakeGateway()) as server:
        settings = {"base_url": server.url}
        ...  # a Gateway in this or another process talks real HTTP to the fake

The handler receives an `httpx.Request` and returns an
`httpx.Response`: the same handler works here and in
``httpx.MockTransport``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

import httpx

__all__ = ["LoopbackServer"]

Handler = Callable[[httpx.Request], httpx.Response]


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 and a free port, serving ``handler``."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self._server = ThreadingHTTPServer((host, port), self._request_handler_class())
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for the next poll, and tests stop servers often.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="paycore-loopback", daemon=True
        )

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _request_handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Adapter(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY the second
            # waits ~40 ms for a delayed ACK.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = httpx.Request(
                    self.command,
                    f"{server.url}{self.path}",
                    headers=list(self.headers.items()),
                    content=self.rfile.read(length) if length else b"",
                )
                response = server.handler(request)
                body = response.read()
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # http.server's naming

            def log_message(self, format: str, *args: object) -> None:  # http.server's signature
                pass  # quiet: test output is for test results

        return _Adapter

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; a server never started is only closed."""
        if self._thread.is_alive():
            # shutdown() waits for serve_forever() to notice: it would wait forever on
            # a server that never started serving.
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
