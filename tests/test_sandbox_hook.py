"""The optional make_sandbox hook: found, refused, or failing clearly."""

from __future__ import annotations

from typing import Any

import pytest

import paycore
from paycore import ConfigError, NotSupported, ProviderError
from paycore.sandbox import Sandbox, SandboxOptions, make_sandbox
from paycore.testing import FakeProvider


class _NeedsAnExtra(FakeProvider):
    provider_name = "needs-extra"

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        raise ImportError("No module named 'starlette'", name="starlette")


class _ReturnsJunk(FakeProvider):
    provider_name = "junk"

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Any:
        return object()


def test_provider_without_a_sandbox_is_not_supported():
    with pytest.raises(NotSupported, match="ships no sandbox"):
        make_sandbox(FakeProvider)


def test_missing_extra_is_a_config_error_with_the_install_hint():
    with pytest.raises(ConfigError, match=r"pip install 'paycore-needs-extra\[sandbox\]' \(starlette is missing\)"):
        make_sandbox(_NeedsAnExtra)


def test_a_hook_returning_no_sandbox_is_a_provider_error():
    with pytest.raises(ProviderError, match="not a Sandbox"):
        make_sandbox(_ReturnsJunk)


def test_sandbox_shows_in_capabilities():
    assert paycore.Operation.SANDBOX in _ReturnsJunk.capabilities().operations
    assert paycore.Operation.SANDBOX not in FakeProvider.capabilities().operations


def test_options_never_show_the_key():
    assert "hunter2" not in repr(SandboxOptions(secret_key="hunter2"))


def test_a_loopback_server_never_started_stops_at_once():
    import threading

    import httpx

    from paycore.testing import LoopbackServer

    server = LoopbackServer(lambda request: httpx.Response(200))
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "stop() hung on a server that never started"


def test_the_sandbox_protocol_is_a_context_manager_with_the_usual_arguments():
    import inspect

    from paycore.sandbox import Sandbox

    assert list(inspect.signature(Sandbox.__exit__).parameters) == ["self", "exc_type", "exc", "tb"]
