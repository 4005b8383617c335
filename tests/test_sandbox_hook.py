"""The optional make_sandbox hook: found, refused, or failing clearly."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import httpx
import pytest

import paycore
from paycore import ConfigError, NotSupported, ProviderError
from paycore.sandbox import (
    LoopbackSandbox,
    MerchantAnswer,
    Resender,
    Sandbox,
    SandboxOptions,
    admin_response,
    make_sandbox,
)
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
    assert "hunter2" not in repr(SandboxOptions(credentials={"apiv3_key": "hunter2"}))


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


# -- LoopbackSandbox: the parts of a sandbox that are not its protocol ---------------------------------------------


class _EchoFault(enum.StrEnum):
    LOUD = "loud"
    QUIET = "quiet"


class _EchoSandbox(LoopbackSandbox[_EchoFault]):
    """A sandbox whose protocol is: POST /pay/{order_id} notifies the URL in the body, resent until "ok"."""

    name = "echo"
    fault_type = _EchoFault
    profiles: ClassVar[Mapping[str, Sequence[float]]] = {"slow": (0, 30, 30), "fast": (0, 0.05, 0.05, 0.05)}
    default_profile = "slow"

    def __init__(self, options: SandboxOptions | None = None) -> None:
        super().__init__(options, acknowledged=lambda answer: answer == "ok")
        self.closings = 0
        self.notify_url = ""

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/admin/"):
            return admin_response(request, self)
        return httpx.Response(200, text="loud" if _EchoFault.LOUD in self.faults else "echo")

    def account_settings(self) -> dict[str, Any]:
        return {"base_url": self.url}

    def pay(self, order_id: str) -> None:
        if order_id == "crash":
            raise KeyError(order_id)
        if order_id == "unknown":
            raise paycore.InvalidRequest("the echo sandbox has no order 'unknown'")
        url = self.notify_url
        self.resender.deliver(order_id, url, lambda client: client.post(url, content=order_id))

    def fail(self, order_id: str) -> None:
        raise NotSupported("echo")

    def closed(self) -> None:
        self.closings += 1


def test_a_loopback_sandbox_serves_resends_and_closes(paycore_loopback):
    answers = iter(["no", "not yet", "ok", "ok"])
    merchant = paycore_loopback.handler(lambda request: httpx.Response(200, text=next(answers)))
    sandbox = _EchoSandbox(SandboxOptions(profile="fast", faults=("loud",)))
    assert isinstance(sandbox, Sandbox)
    assert sandbox.resender.schedule == (0, 0.05, 0.05, 0.05)
    sandbox.notify_url = f"{merchant.url}/notify"
    with sandbox:
        assert httpx.get(sandbox.url).text == "loud"
        sandbox.set_faults([])
        assert httpx.get(sandbox.url).text == "echo"
        sandbox.pay("A1")
        attempts = sandbox.wait_for_notifications("A1")
    assert [(attempt.response, attempt.acknowledged) for attempt in attempts] == [
        ("no", False),
        ("not yet", False),
        ("ok", True),
    ]
    assert sandbox.attempts() == attempts
    assert sandbox.closings == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SandboxOptions(profile="document"), "echo sandbox profiles are slow, fast, not 'document'"),
        (SandboxOptions(faults=("loud", "deaf")), "unknown echo sandbox fault; known: loud, quiet"),
        (SandboxOptions(state_path="s.db", strict=True), "the echo sandbox takes no --state, --strict"),
        (SandboxOptions(notify_interval=-1), "--notify-interval must be between 0 and 3600 seconds"),
        (SandboxOptions(notify_interval=float("nan")), "--notify-interval must be between 0 and 3600 seconds"),
        (SandboxOptions(notify_interval=1e9), "--notify-interval must be between 0 and 3600 seconds"),
        # names only, never the values: they are secrets
        (
            SandboxOptions(credentials={"private_key": "hunter2", "apiv3_key": "x"}),
            "the echo sandbox takes no credential apiv3_key, private_key (it takes: none)",
        ),
    ],
)
def test_a_loopback_sandbox_refuses_what_it_does_not_do(options, message):
    with pytest.raises(paycore.InvalidRequest, match=re.escape(message)):
        _EchoSandbox(options)


def test_a_loopback_sandbox_profile_and_notify_interval():
    sandbox = _EchoSandbox(SandboxOptions(notify_interval=2.5, faults=("quiet",)))
    try:
        assert (sandbox.profile, sandbox.resender.schedule) == ("slow", (0, 2.5, 2.5))
        assert (sandbox.faults, sandbox.fault_names()) == (frozenset({_EchoFault.QUIET}), ["quiet"])
    finally:
        sandbox.stop()  # never started: it releases its socket at once


def test_the_admin_api_answers_every_failure_of_a_sandbox():
    # A dropped connection looks like a hung gateway: every failure gets an answer.
    with _EchoSandbox(SandboxOptions(profile="fast")) as sandbox:
        answers = {
            path: httpx.post(f"{sandbox.url}/admin/orders/{path}") for path in ("unknown/pay", "crash/pay", "x/fail")
        }
    assert {path: answer.status_code for path, answer in answers.items()} == {
        "unknown/pay": 400,
        "crash/pay": 500,
        "x/fail": 501,
    }
    assert answers["unknown/pay"].json() == {"error": "the echo sandbox has no order 'unknown'"}
    assert answers["crash/pay"].json() == {"error": "the sandbox failed: KeyError"}


def test_a_resender_can_acknowledge_by_status_and_headers(paycore_loopback):
    # As WeChat Pay v3 does: any 2xx acknowledges, whatever the text; a 5xx saying "success" does not.
    answers = iter([(500, "success"), (204, "")])

    def merchant_endpoint(request: httpx.Request) -> httpx.Response:
        status, text = next(answers)
        return httpx.Response(status, text=text, headers={"X-Trace": "t1"})

    merchant = paycore_loopback.handler(merchant_endpoint)
    seen: list[MerchantAnswer] = []

    def by_status(answer: MerchantAnswer) -> bool:
        seen.append(answer)
        return 200 <= answer.status_code < 300

    resender = Resender((0, 0.05, 0.05), acknowledged=by_status)
    url = f"{merchant.url}/notify"
    resender.deliver("W1", url, lambda client: client.post(url, content=b"{}"))
    attempts = resender.wait("W1")
    resender.stop()
    assert [(attempt.status_code, attempt.acknowledged) for attempt in attempts] == [(500, False), (204, True)]
    assert [(answer, answer.status_code, answer.headers["x-trace"]) for answer in seen] == [
        ("success", 500, "t1"),
        ("", 204, "t1"),
    ]
    assert seen[0].strip() == "success"  # still the text, for rules that read it


def test_a_scripted_merchant_can_answer_with_a_status():
    from paycore_epay.sandbox import EpaySandbox

    from paycore.testing import Merchant

    with EpaySandbox(SandboxOptions(profile="fast")) as sandbox:
        settings = sandbox.account_settings()
        with Merchant(
            "epay",
            settings,
            answers=[(503, "busy")],
            amount=Decimal("1.00"),
            channel="alipay_qr",
            client_ip="127.0.0.1",
        ) as shop:
            order = shop.order(subject="tea")
            shop.gateway.create(order)
            sandbox.pay(order.order_id)
            attempts = sandbox.wait_for_notifications(order.order_id)
    assert [(attempt.status_code, attempt.response) for attempt in attempts] == [(503, "busy"), (200, "success")]
    assert [event.order_id for event in shop.paid] == [order.order_id]
