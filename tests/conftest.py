from __future__ import annotations

import socket
import threading
from collections.abc import Iterable

import hypothesis
import pytest

from tests.browser import browser_page
from tests.servers import missing_binaries
from tests.store_fixtures import local_servers, postgres, redis_url, shared_stores, store_factory, stores

# Examples are not timed: a deadline fails a test on a busy machine, and tests here are never timed.
hypothesis.settings.register_profile("paycore", deadline=None)
hypothesis.settings.load_profile("paycore")

# Fixtures for every test module: one per store, on servers of the run's own.
__all__ = ["browser_page", "local_servers", "postgres", "redis_url", "shared_stores", "store_factory", "stores"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop before any test when a server the stores' tests start is not installed: a failure, never a skip."""
    missing = missing_binaries()
    if missing:
        pytest.exit(
            "the tests start their own Redis and PostgreSQL, and this machine lacks: " + "; ".join(missing),
            returncode=1,
        )


class OneAnswerServer:
    """A raw HTTP server on a real socket: reads one request, writes ``parts`` in turn, counts the bytes sent.

    ``parts`` may be a generator: one that sleeps between parts drips an answer.
    Writing stops when the client hangs up.
    """

    def __init__(self, parts: Iterable[bytes]) -> None:
        self.sent = 0
        self._parts = parts
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            try:
                for part in self._parts:
                    connection.sendall(part)
                    self.sent += len(part)
            except OSError:
                return  # the client hung up

    def __enter__(self) -> OneAnswerServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join(timeout=30)
        self._listener.close()


@pytest.fixture
def one_answer() -> type[OneAnswerServer]:
    """The class of a one-answer raw socket server (see `OneAnswerServer`)."""
    return OneAnswerServer
