"""From a web framework's request to a `paycore.NotificationRequest`, and a `paycore.Reply` back.

No framework is imported until its helper is called: paycore depends on none.

FastAPI / Starlette::

    @app.post("/notify/{account}")
    async def notify(account: str, request: Request) -> Response:
        received = await paycore.web.from_starlette(request)
        gateway = accounts[account]
        try:
            notification = gateway.verify_notification(received)
        except paycore.VerificationError as exc:
            return paycore.web.to_starlette(gateway.failure_reply(exc))
        ...
        return paycore.web.to_starlette(notification.ack)

Flask (WSGI): ``from_wsgi(flask.request.environ)`` before anything reads the body,
and a view returns ``to_wsgi(reply)``. Django:
``from_django(request)`` and ``to_django(reply)``, in a view that is
``csrf_exempt`` (a gateway sends no CSRF token).

Every reader refuses a body over `paycore.http.MAX_NOTIFICATION_BYTES` with
`paycore.MalformedNotification`, without reading the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import httpx

from paycore.errors import InvalidRequest, MalformedNotification, PaycoreError
from paycore.handler import AsyncNotificationHandler, NotificationHandler
from paycore.http import MAX_NOTIFICATION_BYTES, NotificationRequest, Reply

if TYPE_CHECKING:  # for the types only: paycore does not depend on Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import Response as StarletteResponse

__all__ = [
    "asgi_app",
    "django_view",
    "from_asgi",
    "from_django",
    "from_httpx",
    "from_starlette",
    "from_wsgi",
    "send_asgi",
    "to_django",
    "to_httpx",
    "to_starlette",
    "to_wsgi",
    "wsgi_app",
]

_TOO_LARGE = f"the notification body is larger than {MAX_NOTIFICATION_BYTES} bytes"


def _latin1_to_text(raw: str) -> str:
    # WSGI and ASGI hand paths over as bytes read as Latin-1; a URL path is UTF-8.
    try:
        return raw.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # already text (Django under ASGI): as it is
        return raw


def _content_length(raw: object) -> int:
    """The declared body length: refused when it is not a small whole number, before any byte is read."""
    if raw in (None, ""):
        return 0
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise MalformedNotification("the notification's Content-Length is not a number")
    length = int(raw)
    if length > MAX_NOTIFICATION_BYTES:
        raise MalformedNotification(_TOO_LARGE)
    return length


def from_httpx(request: httpx.Request) -> NotificationRequest:
    """A notification request from an `httpx.Request` (tests, `paycore.testing.LoopbackServer` handlers)."""
    if not isinstance(request, httpx.Request):
        raise InvalidRequest(f"from_httpx() takes an httpx.Request, not {type(request).__name__}")
    return NotificationRequest(
        method=request.method,
        path=request.url.path,
        query=request.url.query.decode("ascii", "replace"),
        headers=list(request.headers.multi_items()),
        body=request.read(),
    )


def from_wsgi(environ: Mapping[str, Any]) -> NotificationRequest:
    """A notification request from a WSGI environ (Flask's ``request.environ``, Django's ``request.META``).

    The body is read from ``wsgi.input``: call this before anything else reads it.
    """
    if not isinstance(environ, Mapping):
        raise InvalidRequest(f"from_wsgi() takes a WSGI environ, not {type(environ).__name__}")
    headers = [
        (key[5:].replace("_", "-").lower(), str(value)) for key, value in environ.items() if key.startswith("HTTP_")
    ]
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        if environ.get(key):
            headers.append((name, str(environ[key])))
    length = _content_length(environ.get("CONTENT_LENGTH"))
    # Chunked: no Content-Length, and a server that marks the stream's end (wsgi.input_terminated).
    chunked = not environ.get("CONTENT_LENGTH") and bool(environ.get("wsgi.input_terminated"))
    body = b""
    if length > 0 or chunked:
        read = getattr(environ.get("wsgi.input"), "read", None)
        if not callable(read):
            raise InvalidRequest("the environ's wsgi.input is not a readable byte stream")
        try:
            read_bytes = read(length if length > 0 else MAX_NOTIFICATION_BYTES + 1)
        except OSError:  # the client went away mid-body
            raise MalformedNotification("the notification's body could not be read to its end") from None
        if not isinstance(read_bytes, bytes):
            raise InvalidRequest("the environ's wsgi.input is not a readable byte stream")
        if len(read_bytes) > MAX_NOTIFICATION_BYTES:
            raise MalformedNotification(_TOO_LARGE)
        body = read_bytes
    return NotificationRequest(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=_latin1_to_text(str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))) or "/",
        query=_latin1_to_text(str(environ.get("QUERY_STRING", ""))),
        headers=headers,
        body=body,
    )


async def from_starlette(request: StarletteRequest) -> NotificationRequest:
    """A notification request from a Starlette (or FastAPI) ``Request``; reads the body, bounded."""
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_NOTIFICATION_BYTES:
                raise MalformedNotification(_TOO_LARGE)
    except RuntimeError:  # Starlette's "Stream consumed": something read the body, uncached, first
        raise InvalidRequest(
            "the request's body was read before from_starlette (a form dependency or middleware): call it first"
        ) from None
    return NotificationRequest(
        method=request.method,
        path=request.url.path,
        query=request.url.query,
        headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw],
        body=bytes(body),
    )


async def from_asgi(
    scope: Mapping[str, Any], receive: Callable[[], Awaitable[MutableMapping[str, Any]]]
) -> NotificationRequest:
    """A notification request from a raw ASGI HTTP ``scope`` and its ``receive``; reads the body, bounded."""
    if not isinstance(scope, Mapping) or scope.get("type") != "http":
        raise InvalidRequest("from_asgi() takes the scope of an ASGI http request")
    body = bytearray()
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            break
        body += message.get("body") or b""
        if len(body) > MAX_NOTIFICATION_BYTES:
            raise MalformedNotification(_TOO_LARGE)
        if not message.get("more_body", False):
            break
    raw_path = scope.get("path", "/")
    return NotificationRequest(
        method=scope.get("method", "GET"),
        path=(scope.get("root_path", "") + raw_path) or "/",
        query=bytes(scope.get("query_string", b"")).decode("utf-8", "replace"),  # as the WSGI adapter reads it
        headers=[
            (bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in scope.get("headers", ())
        ],
        body=bytes(body),
    )


def from_django(request: Any) -> NotificationRequest:
    """A notification request from a Django ``HttpRequest`` (make the view ``csrf_exempt``)."""
    meta = getattr(request, "META", None)
    if not isinstance(meta, Mapping):
        raise InvalidRequest(f"from_django() takes a Django HttpRequest, not {type(request).__name__}")
    _content_length(meta.get("CONTENT_LENGTH"))
    try:
        body = request.body
    except Exception as exc:  # noqa: BLE001  # Django's RequestDataTooBig, RawPostDataException, a broken stream
        too_big = type(exc).__name__ == "RequestDataTooBig"
        if too_big:
            raise MalformedNotification(_TOO_LARGE) from None
        raise InvalidRequest(f"the request's body could not be read ({type(exc).__name__})") from None
    return NotificationRequest(
        method=request.method,
        path=request.path,
        query=_latin1_to_text(str(meta.get("QUERY_STRING", ""))),
        headers=[(name, str(value)) for name, value in request.headers.items()],
        body=body,
    )


def to_httpx(reply: Reply) -> httpx.Response:
    """``reply`` as an `httpx.Response`: for `paycore.testing.LoopbackServer` handlers and mock transports."""
    return httpx.Response(reply.status, headers=reply.header_list(), content=reply.content)


def to_starlette(reply: Reply) -> StarletteResponse:
    """``reply`` as a Starlette ``Response`` (FastAPI returns it as is)."""
    from starlette.responses import Response

    if not reply.has_body:
        return Response(status_code=reply.status, headers=dict(reply.headers))
    response = Response(content=reply.content, status_code=reply.status, headers=dict(reply.headers))
    response.headers["content-type"] = reply.content_type
    return response


def to_django(reply: Reply) -> Any:
    """``reply`` as a Django ``HttpResponse``."""
    from django.http import HttpResponse  # type: ignore[import-untyped]  # Django ships no types

    response = HttpResponse(reply.content, status=reply.status, content_type=reply.content_type)
    if not reply.has_body:
        del response["Content-Type"]
    for name, value in reply.headers:
        response[name] = value
    return response


def to_wsgi(reply: Reply) -> Callable[[Mapping[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """``reply`` as a WSGI application.

    A Flask view returns it as is; a bare WSGI app returns
    ``to_wsgi(reply)(environ, start_response)``.
    """
    content = reply.content
    status = f"{reply.status} {_reason(reply.status)}"
    headers = reply.header_list()
    if reply.has_body:
        headers.append(("Content-Length", str(len(content))))

    def application(environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(status, headers)
        return [content]

    return application


async def send_asgi(reply: Reply, send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
    """Send ``reply`` from a raw ASGI app."""
    content = reply.content
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in reply.header_list()]
    if reply.has_body:
        headers.append((b"content-length", str(len(content)).encode("ascii")))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# Whole notify endpoints around a paycore.NotificationHandler: route /notify/{account}.


def asgi_app(handler: NotificationHandler | AsyncNotificationHandler) -> Callable[..., Awaitable[None]]:
    """An ASGI app answering notifications with ``handler``; mount it in FastAPI or Starlette.

    ``app.mount("/notify", paycore.web.asgi_app(handler))``: the last segment of the
    path names the account (``Accounts.notify_url("https://shop.example/notify")``).
    A synchronous handler runs in a worker thread.
    """

    async def application(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope.get("type") == "lifespan":
            message = await receive()
            while message.get("type") != "lifespan.shutdown":
                if message.get("type") == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope.get("type") != "http":  # a websocket: gateways notify over HTTP only
            await send({"type": "websocket.close", "code": 1008})
            return
        try:
            request = await from_asgi(scope, receive)
        except PaycoreError as exc:
            await send_asgi(handler.accounts.failure_reply(exc, account=_last_segment(scope.get("path", ""))), send)
            return
        if isinstance(handler, AsyncNotificationHandler):
            reply = await handler.handle(request)
        else:
            reply = await asyncio.to_thread(handler.handle, request)
        await send_asgi(reply, send)

    return application


def _last_segment(path: object) -> str | None:
    return path.rstrip("/").rpartition("/")[2] if isinstance(path, str) else None


def wsgi_app(handler: NotificationHandler) -> Callable[[Mapping[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """A WSGI app answering notifications with ``handler`` (mount it under ``/notify`` in Flask or any WSGI server)."""

    def application(environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            request = from_wsgi(environ)
        except PaycoreError as exc:
            account = _last_segment(environ.get("PATH_INFO")) if isinstance(environ, Mapping) else None
            return to_wsgi(handler.accounts.failure_reply(exc, account=account))(environ, start_response)
        return to_wsgi(handler.handle(request))(environ, start_response)

    return application


def django_view(handler: NotificationHandler) -> Callable[..., Any]:
    """A Django view answering notifications with ``handler``; CSRF-exempt (a gateway sends no token).

    ``path("notify/<str:account>", paycore.web.django_view(handler))``.
    """
    from django.views.decorators.csrf import csrf_exempt  # type: ignore[import-untyped]  # Django ships no types

    def view(request: Any, account: str | None = None) -> Any:
        try:
            received = from_django(request)
        except PaycoreError as exc:
            return to_django(handler.accounts.failure_reply(exc, account=account))
        return to_django(handler.handle(received))

    exempt: Callable[..., Any] = csrf_exempt(view)
    return exempt
