"""Serve an httpx-style handler, a WSGI app or an ASGI app over a real loopback socket, in a thread.

::

    with LoopbackServer(FakeGateway()) as server:
        settings = {"base_url": server.url}
        ...  # a Gateway in this or another process talks real HTTP to the fake

    with LoopbackServer.asgi(fastapi_app) as shop:    # the merchant's own notify endpoint
        ...                                            # the sandbox notifies f"{shop.url}/notify/main"

The handler receives an `httpx.Request` and returns an
`httpx.Response`: the same handler works here and in
``httpx.MockTransport``. `LoopbackServer.wsgi` and `LoopbackServer.asgi`
wrap a Flask/Django (WSGI) or Starlette/FastAPI (ASGI) application as such a handler.
"""

from __future__ import annotations

import asyncio
import io
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote_to_bytes

import httpx

__all__ = ["LoopbackServer"]

Handler = Callable[[httpx.Request], httpx.Response]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
AsgiApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[MutableMapping[str, Any]], Awaitable[None]]],
    Awaitable[None],
]
#: How long an application may take over one request before the server answers 504.
APP_TIMEOUT = 30.0


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 and a free port, serving ``handler``."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self._on_stop: list[Callable[[], None]] = []
        self._server = ThreadingHTTPServer((host, port), self._request_handler_class())
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for the next poll, and tests stop servers often.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="paycore-loopback", daemon=True
        )

    @classmethod
    def wsgi(cls, app: WsgiApp, *, host: str = "127.0.0.1", port: int = 0) -> LoopbackServer:
        """A server for a WSGI application (Flask, Django's ``get_wsgi_application()``)."""
        return cls(_WsgiHandler(app), host=host, port=port)

    @classmethod
    def asgi(cls, app: AsgiApp, *, host: str = "127.0.0.1", port: int = 0) -> LoopbackServer:
        """A server for an ASGI application (Starlette, FastAPI), run on its own event loop thread."""
        runner = _AsgiHandler(app)
        server = cls(runner, host=host, port=port)
        server._on_stop.append(runner.close)
        return server

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
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if length < 0:
                    self.send_error(400, "bad Content-Length")
                    return
                request = httpx.Request(
                    self.command,
                    f"{server.url}{self.path}",
                    headers=list(self.headers.items()),
                    content=self.rfile.read(length) if length else b"",
                )
                try:
                    response = server.handler(request)
                except httpx.TransportError:
                    # A fake's transport fault (unreachable, timeout): over a socket the nearest
                    # thing is a dropped connection, which clients read as "may have been received".
                    self.close_connection = True
                    return
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

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (Ctrl-C), then release the port."""
        try:
            self._server.serve_forever(poll_interval=0.05)
        finally:
            self._server.server_close()
            while self._on_stop:
                self._on_stop.pop()()

    def stop(self) -> None:
        """Stop serving and release the port; a server never started is only closed."""
        if self._thread.is_alive():
            # shutdown() waits for serve_forever() to notice: it would wait forever on
            # a server that never started serving.
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        while self._on_stop:
            self._on_stop.pop()()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _path_bytes(request: httpx.Request) -> bytes:
    return unquote_to_bytes(request.url.raw_path.split(b"?", 1)[0])


class _WsgiHandler:
    """An httpx-style handler calling a WSGI application (PEP 3333)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            # PEP 3333: the path's bytes, each read as one Latin-1 character.
            "PATH_INFO": _path_bytes(request).decode("latin-1"),
            "QUERY_STRING": request.url.query.decode("latin-1"),
            "SERVER_NAME": request.url.host,
            "SERVER_PORT": str(request.url.port or 80),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in request.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        started: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            started["status"], started["headers"] = status, headers
            return written.append

        chunks = self.app(environ, start_response)
        try:
            content = b"".join([*written, *chunks])
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return httpx.Response(int(started["status"].split(" ", 1)[0]), headers=started["headers"], content=content)


class _AsgiHandler:
    """An httpx-style handler calling an ASGI application on an event loop of its own thread."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop.run_forever, name="paycore-loopback-asgi", daemon=True)
        self._thread.start()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if self._closed:  # a request still in flight as the server stops
                return httpx.Response(503, text="the server is stopping")
            future = asyncio.run_coroutine_threadsafe(self._call(request), self._loop)
        try:
            return future.result(timeout=APP_TIMEOUT)
        except TimeoutError:
            future.cancel()
            return httpx.Response(504, text="the application did not answer in time")
        except asyncio.CancelledError:
            return httpx.Response(503, text="the server is stopping")

    async def _call(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": _path_bytes(request).decode("utf-8", "replace"),
            "raw_path": request.url.raw_path.split(b"?", 1)[0],
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "client": ("127.0.0.1", 0),
            "server": (request.url.host, request.url.port or 80),
        }
        sent_body = False
        disconnected = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        content = bytearray()

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                content.extend(message.get("body", b""))

        started = False

        async def tracked_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as exc:  # noqa: BLE001  # the app crashed: answer as a server would, not by hanging up
            if not started:
                return httpx.Response(500, text=f"the application raised {type(exc).__name__}")
            # Starlette sends its 500 page, then re-raises: what it sent is the answer.
        finally:
            disconnected.set()
        return httpx.Response(status, headers=headers, content=bytes(content))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # Requests still running are cancelled and awaited before the loop stops.
        asyncio.run_coroutine_threadsafe(self._cancel_running(), self._loop).result(timeout=APP_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _cancel_running(self) -> None:
        running = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
