"""Conformance, hostile answers: malformed answers, secrets in errors and logs, no network but the gateway."""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from paycore._gateway import Gateway
from paycore._plugins import _secrets_of
from paycore.errors import (
    NotSupported,
    PaycoreError,
    ProviderError,
    VerificationError,
)
from paycore.models import CreateFlow
from paycore.testing._conformance_base import ConformanceBase, ConformanceWorld

__all__ = ["HostileAnswerChecks"]


class HostileAnswerChecks(ConformanceBase):
    """Malformed gateway answers, secrets in errors and logs, no network beyond the gateway."""

    @pytest.mark.parametrize(
        ("status", "content", "content_type"),
        [
            (502, b"<html><body>502 Bad Gateway</body></html>", "text/html"),
            (200, b"<html><body>maintenance</body></html>", "text/html"),
            (200, b"", "application/json"),
            (200, b"[]", "application/json"),
            (200, b"{}", "application/json"),
            (200, b"\xff" * 100, "application/json"),
            (200, b"{" * 5000, "application/json"),
            (200, b"x" * 5_000_000, "text/plain"),
        ],
        ids=["error-page", "html", "empty", "json-list", "json-empty", "binary", "deep", "huge"],
    )
    def test_malformed_answers_are_typed_errors(
        self,
        conformance_world: ConformanceWorld,
        paycore_gateway_kind: str,
        status: int,
        content: bytes,
        content_type: str,
    ) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(status, content=content, headers={"content-type": content_type})

        under_test = self._under_test(paycore_gateway_kind, conformance_world, transport=answer)
        calls: list[Callable[[], object]] = [lambda: under_test.query("A1234567890")]
        if CreateFlow.SERVER in self._provider_class().create_flows:
            calls.append(lambda: under_test.create(self.order(), flow=CreateFlow.SERVER))
        for call in calls:
            try:
                call()
            except ProviderError as exc:
                raise AssertionError(f"an unexpected exception escaped the provider: {exc}") from exc
            except NotSupported as exc:
                raise AssertionError(str(exc)) from exc
            except PaycoreError:
                continue
            raise AssertionError(f"an unusable answer (HTTP {status}, {content[:40]!r}) was accepted")

    def test_secrets_never_reach_errors_or_logs(
        self, conformance_world: ConformanceWorld, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        with Gateway(self.provider, conformance_world.settings, account="conformance") as gateway:
            secrets = _secrets_of(gateway.provider.settings)
        assert secrets, "the settings hold no secret of six characters or more: is the key a SecretStr?"
        seen: list[str] = []

        def refuse(request: httpx.Request) -> httpx.Response:
            seen.append(str(request.url))
            raise httpx.ConnectError("refused", request=request)

        errors: list[PaycoreError] = []
        for transport in (conformance_world.transport, refuse, lambda request: httpx.Response(500, text="error")):
            under_test = self._under_test("sync", conformance_world, transport=transport)
            order = self.order()
            calls: list[Callable[[], object]] = [
                functools.partial(under_test.create, order),
                functools.partial(under_test.query, order.order_id),
            ]
            for call in calls:
                try:
                    call()
                except PaycoreError as exc:
                    errors.append(exc)
        leaking = [
            type(exc).__name__
            for exc in errors
            if any(secret in text for secret in secrets for text in _chain_texts(exc))
        ]
        assert not leaking, f"a secret setting appears in the message or cause chain of {leaking}"
        with pytest.raises(VerificationError) as caught:
            self._under_test("sync", conformance_world).verify_notification(b"sign=0&order_id=x")
        assert not any(secret in text for secret in secrets for text in _chain_texts(caught.value))
        logged = "\n".join(record.getMessage() for record in caplog.records)
        leaked = [secret for secret in secrets if secret in logged]
        assert not leaked, "a secret setting reached a log record at DEBUG: list it in secret_parameters or mask it"

    def test_no_network_beyond_the_configured_gateway(
        self, conformance_world: ConformanceWorld, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        allowed = conformance_world.hosts | {urlsplit(str(conformance_world.settings.get("base_url", ""))).hostname}
        real_getaddrinfo = socket.getaddrinfo
        contacted: list[str] = []

        def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host)
            contacted.append(name)
            if name not in allowed:
                raise OSError(f"conformance: {name} is not the configured gateway")
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", guarded)
        under_test = self._under_test("sync", conformance_world)
        order = self.order()
        under_test.create(order)
        under_test.query(order.order_id)
        strangers = sorted(set(contacted) - allowed)
        assert not strangers, f"the provider contacted {strangers}: only the configured gateway may be reached"


def _chain_texts(exc: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        current = current.__cause__ or current.__context__
