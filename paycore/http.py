"""What a gateway sends the merchant, and what the merchant answers: framework-neutral.

A gateway notifies by POSTing a form (juhe, Alipay), by GET with a query string
(epay), or by POSTing JSON signed in HTTP headers (WeChat Pay v3, Stripe-style
webhooks). `NotificationRequest` holds all of it, exactly as received, so every
provider verifies from the same object::

    request = paycore.NotificationRequest(
        method="POST", path="/notify/main", query="", headers={"content-type": "..."}, body=raw
    )
    notification = gateway.verify_notification(request)
    return notification.ack            # a Reply: status, content type, body

`paycore.web` builds one from a Starlette/FastAPI request, a WSGI environ (Flask)
or a Django ``HttpRequest``, and turns a `Reply` into each framework's response.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paycore._text import clip
from paycore.errors import InvalidRequest, MalformedNotification
from paycore.toolkit import form_pairs

__all__ = ["MAX_NOTIFICATION_BYTES", "NotificationRequest", "Reply", "as_notification_request"]

#: The largest notification body read: gateways send a few kilobytes at most.
MAX_NOTIFICATION_BYTES = 1024 * 1024
_METHOD = re.compile(r"[A-Z]{1,16}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
# Headers of the connection, not of the message (RFC 9110): servers refuse them from applications.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding"}
    | {"upgrade"}
)
#: Statuses that carry no body, nor a Content-Length (RFC 9110).
_NO_BODY = frozenset({*range(100, 200), 204, 304})
_HEADER_TEXT = re.compile(r"[\x20-\x7e\t]*")


def _header_items(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased; a repeated header joined with ``", "`` as HTTP allows."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    merged: dict[str, str] = {}
    try:
        for name, value in pairs:
            if not isinstance(name, str) or not isinstance(value, str):
                raise InvalidRequest("header names and values must be text")
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidRequest):
            raise
        raise InvalidRequest("headers must be a mapping or pairs of text") from None
    return merged


class NotificationRequest:
    """An HTTP request from a gateway, as received: the input of ``verify_notification``.

    ``query`` is the raw query string (no ``?``), ``body`` the raw body, ``headers``
    a dict with lower-cased names. ``form`` is set instead of ``body`` when the
    application passed fields its framework had parsed already (a shortcut for
    POST-form protocols; raw bytes are better).
    """

    __slots__ = ("body", "form", "headers", "method", "path", "query")

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    form: Mapping[str, str] | None

    def __init__(
        self,
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | bytearray | memoryview | str = b"",
        form: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(method, str) or not _METHOD.fullmatch(method.upper()):
            raise InvalidRequest("method must be an HTTP method such as 'POST' or 'GET'")
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidRequest("path must be text starting with '/'")
        if not isinstance(query, str):
            raise InvalidRequest("query must be the raw query string, as text")
        if isinstance(query, str) and query.startswith("?"):
            query = query[1:]
        if isinstance(body, str):
            try:
                body = body.encode("utf-8")
            except UnicodeEncodeError:
                raise MalformedNotification("the notification body is not valid Unicode text") from None
        elif isinstance(body, bytearray | memoryview):
            body = bytes(body)
        elif not isinstance(body, bytes):
            raise InvalidRequest(f"body must be bytes, not {type(body).__name__}")
        if len(body) > MAX_NOTIFICATION_BYTES:
            raise MalformedNotification(f"the notification body is larger than {MAX_NOTIFICATION_BYTES} bytes")
        for text in (path, query):
            if _text_is_broken(text):
                raise MalformedNotification("the notification's path or query is not valid Unicode text")
        if form is not None:
            form = _checked_form(form)
        self.method = method.upper()
        self.path = path
        self.query = query
        self.headers = _header_items(headers)
        self.body = body
        self.form = form

    @classmethod
    def of_body(cls, body: bytes) -> NotificationRequest:
        """A POST of ``body`` (the shortcut for POST-form protocols), built without copying it."""
        if type(body) is not bytes:
            return cls(body=body)  # checked and converted, or refused with a paycore error
        if len(body) > MAX_NOTIFICATION_BYTES:
            raise MalformedNotification(f"the notification body is larger than {MAX_NOTIFICATION_BYTES} bytes")
        request = cls.__new__(cls)
        request.method, request.path, request.query, request.headers = "POST", "/", "", {}
        request.body, request.form = body, None
        return request

    @classmethod
    def of_form(cls, form: Mapping[str, str]) -> NotificationRequest:
        """A POST whose form fields the application's framework parsed already."""
        return cls(form=form)

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        return self.headers.get(name.lower())

    def query_fields(self) -> dict[str, str]:
        """The query string's fields, decoded (UTF-8); see `form_fields` for what is refused."""
        return _fields(self.query, "query string")

    def form_fields(self) -> dict[str, str]:
        """The body's form fields (or ``form``), decoded as UTF-8.

        A field given twice is refused with `paycore.MalformedNotification`: one
        parser reads the first, another the last, and a verifier must accept one
        reading only. So is text that is not UTF-8 or not ``name=value`` pairs.
        """
        if self.form is not None:
            return dict(self.form)
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNotification("the notification body is not UTF-8 form data") from None
        return _fields(text, "body")

    def __repr__(self) -> str:
        size = "form" if self.form is not None else f"{len(self.body)} bytes"
        return f"<NotificationRequest {self.method} {clip(self.path)} ({size})>"


def _text_is_broken(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _checked_form(form: object) -> dict[str, str]:
    """A snapshot of ``form`` as one text value per field.

    A framework's multi-value mapping (Django's ``QueryDict``, Werkzeug's
    ``MultiDict``) holding a field twice is refused, as a raw body would be: one
    reader takes the first value, another the last, and a verifier accepts one
    reading only. ``dict(QueryDict)`` would hand providers lists; this never does.
    """
    if not isinstance(form, Mapping):
        raise InvalidRequest(f"form must be a mapping, not {type(form).__name__}")
    lists = getattr(form, "lists", None)
    if callable(lists):
        try:
            for name, values in lists():
                if len(values) > 1:
                    raise MalformedNotification(f"field {clip(str(name))!r} is given more than once")
        except (TypeError, ValueError):
            raise InvalidRequest("form's lists() must give (name, values) pairs") from None
    snapshot: dict[str, str] = {}
    for name, value in form.items():
        if type(name) is not str or type(value) is not str:
            raise MalformedNotification("a notification mapping must hold strings only")
        if _text_is_broken(name) or _text_is_broken(value):
            raise MalformedNotification("a notification mapping holds text that is not valid Unicode")
        snapshot[name] = value
    return snapshot


def _fields(text: str, where: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        pairs = form_pairs(text, strict=True)
    except (ValueError, UnicodeDecodeError):  # UnicodeDecodeError is a ValueError; named for the reader
        raise MalformedNotification(f"the notification's {where} is not UTF-8 name=value pairs") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise MalformedNotification(f"field {clip(name)!r} is given more than once in the {where}")
        fields[name] = value
    return fields


def _header_value(name: str, value: str) -> None:
    if not _HEADER_NAME.fullmatch(name):
        raise InvalidRequest(f"{clip(name)!r} is not a header name")
    if not _HEADER_TEXT.fullmatch(value):
        raise InvalidRequest(f"header {name!r} must be printable ASCII (no control characters)")


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a gateway's notification: HTTP status, content type, body, extra headers.

    The provider makes it: `paycore.Notification.ack` on success, and
    ``gateway.failure_reply()`` when the notification is not accepted (the gateway
    then sends it again). ``str(reply)`` is the body, for frameworks that take text.
    """

    body: str = ""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        # Exact types: a str subclass could answer lower() or encode() with something else
        # than it sends, and slip "ok" past the failure reply's check.
        if type(self.body) is not str or _text_is_broken(self.body):
            raise InvalidRequest("a reply's body must be valid Unicode text (a plain str)")
        if type(self.status) is not int or not 100 <= self.status <= 599:
            raise InvalidRequest("a reply's status must be an HTTP status code from 100 to 599")
        if type(self.content_type) is not str or not self.content_type:
            raise InvalidRequest("a reply's content type must be text")
        _header_value("content-type", self.content_type)
        if not isinstance(self.headers, tuple) or not all(
            isinstance(pair, tuple) and len(pair) == 2 and all(type(part) is str for part in pair)
            for pair in self.headers
        ):
            raise InvalidRequest("a reply's headers must be a tuple of (name, value) text pairs")
        if self.status in _NO_BODY and self.body:
            raise InvalidRequest(f"a reply with status {self.status} has no body")
        for name, value in self.headers:
            if name.lower() in ("content-type", "content-length"):
                raise InvalidRequest(f"set a reply's {name} through its fields, not its headers")
            if name.lower() in _HOP_BY_HOP:
                raise InvalidRequest(f"{name} is the server's to send, not a reply's")
            _header_value(name, value)

    def __str__(self) -> str:
        return self.body

    @property
    def content(self) -> bytes:
        """The body as sent: UTF-8."""
        return self.body.encode("utf-8")

    @property
    def has_body(self) -> bool:
        """False for statuses that carry no body (1xx, 204, 304): send no Content-Type or Content-Length."""
        return self.status not in _NO_BODY

    def header_list(self) -> list[tuple[str, str]]:
        """Every header to send, ``Content-Type`` first (``Content-Length`` is the framework's)."""
        if not self.has_body:
            return list(self.headers)
        return [("Content-Type", self.content_type), *self.headers]

    @classmethod
    def coerce(cls, value: Any) -> Reply:
        """``value`` as a Reply: a Reply as is, a str as a 200 ``text/plain`` body."""
        if isinstance(value, Reply):
            return value
        if isinstance(value, str):
            return cls(body=value)
        raise InvalidRequest(f"an acknowledgement is a paycore.Reply or text, not {type(value).__name__}")


def as_notification_request(request: object) -> NotificationRequest:
    """``request`` as a `NotificationRequest`: itself, or the POST a shortcut stands for; typed errors otherwise.

    The shortcuts the gateways take: a raw body (bytes or str), or the fields a
    framework parsed (a mapping).
    """
    if isinstance(request, NotificationRequest):
        return request
    if isinstance(request, bytes | bytearray | memoryview | str):
        return NotificationRequest(body=request)
    if isinstance(request, Mapping):
        return NotificationRequest.of_form(request)
    raise InvalidRequest(
        f"a notification is a paycore.NotificationRequest, bytes, str or a mapping, not {type(request).__name__}"
    )
