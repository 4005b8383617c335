"""``paycore demo`` and ``paycore sandbox`` as a user runs them: subprocesses, real sockets."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from paycore.sandbox import PUBLIC_SANDBOX_KEY


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}


def paycore(*args: str, **kwargs):
    env = _clean_env()
    return subprocess.run(
        [sys.executable, "-m", "paycore.cli", *args], capture_output=True, text=True, env=env, timeout=120, **kwargs
    )


@pytest.mark.parametrize("flags", [(), ("--async",)])
def test_demo_round_trip_exits_0(flags):
    result = paycore("demo", *flags)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("paycore demo: one payment through the 'juhe' provider")
    assert ("AsyncGateway" in lines[0]) is bool(flags)
    for step in (
        "1. sandbox gateway listening on http://127.0.0.1:",
        "3. created order",
        "5. notification verified, checked against the order and applied once",
        "answered HTTP 200 'OK'",
        "6. query confirms: paid",
    ):
        assert step in result.stdout, step
    assert re.search(r"^done: order \w{20} for 9\.90 CNY .* queried as paid", lines[-1])


@pytest.mark.parametrize("flags", [(), ("--async",)])
def test_demo_on_the_epay_sandbox(flags):
    """The second provider's round trip: a QR code, a GET notification answered ``success``, a query."""
    result = paycore("demo", "--provider", "epay", *flags)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "one payment through the 'epay' provider" in result.stdout
    assert "next: show the buyer a QR code of http://127.0.0.1:" in result.stdout
    assert "answered HTTP 200 'success'" in result.stdout
    assert "6. query confirms: paid" in result.stdout


def test_epay_sandbox_command_serves_its_protocol():
    with sandbox_cli("--fault", "refuse", provider="epay") as run:
        base = f"http://127.0.0.1:{run.port}"
        assert '[accounts.sandbox]\nprovider = "epay"\n' in run.header
        assert f'base_url = "{base}"' in run.header
        assert httpx.get(f"{base}/api.php", params={"act": "order"}).json() == {"code": -1, "msg": "系统繁忙"}


@pytest.mark.parametrize("flags", [(), ("--async",)])
def test_demo_on_the_alipay_sandbox(flags):
    """RSA2 end to end: a precreated QR code, a signed POST notification answered ``success``, a signed query."""
    result = paycore("demo", "--provider", "alipay", *flags)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "one payment through the 'alipay' provider" in result.stdout
    assert "next: show the buyer a QR code of http://127.0.0.1:" in result.stdout
    assert "answered HTTP 200 'success'" in result.stdout
    assert "6. query confirms: paid" in result.stdout


def test_alipay_sandbox_command_prints_its_generated_key_files():
    with sandbox_cli("--fault", "error_envelope", provider="alipay", header_lines=10) as run:
        assert '[accounts.sandbox]\nprovider = "alipay"\n' in run.header
        assert 'private_key = "/' in run.header  # a path to the generated PEM file, not the key
        assert "BEGIN" not in run.header
        assert f'gateway = "http://127.0.0.1:{run.port}/gateway.do"' in run.header
        answer = httpx.post(f"http://127.0.0.1:{run.port}/gateway.do", data={"method": "alipay.trade.query"})
        assert "alipay_trade_query_response" in answer.text


@pytest.mark.parametrize("flags", [(), ("--async",)])
def test_demo_on_the_wechatpay_sandbox(flags):
    """API v3 end to end: a signed Native create, a sealed notification answered 204, a signed query."""
    result = paycore("demo", "--provider", "wechatpay", *flags)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "one payment through the 'wechatpay' provider" in result.stdout
    assert "by wechat_qr, pending" in result.stdout
    assert "answered HTTP 204 ''" in result.stdout
    assert "6. query confirms: paid" in result.stdout


def test_wechatpay_sandbox_command_prints_its_generated_keys_as_files():
    with sandbox_cli("--certificates", provider="wechatpay", header_lines=11) as run:
        assert '[accounts.sandbox]\nprovider = "wechatpay"\n' in run.header
        assert 'private_key = "/' in run.header  # a path to the generated PEM file, not the key
        assert "BEGIN" not in run.header
        assert re.search(r'apiv3_key = "[0-9A-Za-z]{32}"', run.header)
        assert "platform_public_key" not in run.header  # certificate mode
        answer = httpx.get(f"http://127.0.0.1:{run.port}/v3/certificates")
        assert (answer.status_code, answer.json()["code"]) == (401, "SIGN_ERROR")


def test_demo_with_a_provider_without_sandbox_fails_clearly():
    result = paycore("demo", "--provider", "nope")
    assert result.returncode == 2
    assert "no payment provider named 'nope'" in result.stderr


@dataclass
class SandboxRun:
    port: int
    header: str  # the banner and account block printed before serving
    output: str = ""  # everything printed, once stopped


@contextlib.contextmanager
def sandbox_cli(*args: str, provider: str = "juhe", header_lines: int = 9) -> Iterator[SandboxRun]:
    """``paycore sandbox --provider juhe`` on a free port, stopped with Ctrl-C on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "paycore.cli", "sandbox", "--provider", provider, "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    assert process.stdout is not None
    run = SandboxRun(port=port, header="".join(process.stdout.readline() for _ in range(header_lines)))
    # The header is printed before serving starts: a Ctrl-C sent earlier would race uvicorn's start.
    _wait_until_serving(port)
    try:
        yield run
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        run.output = run.header + out + err
    assert process.returncode == 0


def test_sandbox_command_serves_and_prints_the_account_block():
    with sandbox_cli("--fault", "ststus") as run:
        base = f"http://127.0.0.1:{run.port}"
        assert f"on {base}" in run.header
        assert '[accounts.sandbox]\nprovider = "juhe"\n' in run.header
        assert f'base_url = "{base}"' in run.header
        assert f'secret_key = "{PUBLIC_SANDBOX_KEY}"  # the public sandbox test key' in run.header
        answer = httpx.post(f"{base}/Pay_Trade_query.html", data={"pay_memberid": "10002"})
        assert answer.json()["status"] == "error"
        assert httpx.get(f"{base}/admin/faults").json()["faults"] == ["ststus"]


def test_sandbox_command_never_prints_a_key_the_user_chose():
    secret = "my-own-secret-key-123"
    with sandbox_cli("--secret-key", secret) as run:
        assert "# secret_key: the value you passed with --secret-key" in run.header
    assert secret not in run.output


def test_sandbox_for_a_provider_without_one_is_refused():
    env_result = subprocess.run(
        [sys.executable, "-m", "paycore.cli", "sandbox", "--provider", "fake"],
        capture_output=True,
        text=True,
        env={**os.environ, "PAYCORE_TESTING": "1"},
        timeout=60,
    )
    assert env_result.returncode == 2
    assert "ships no sandbox" in env_result.stderr


def _wait_until_serving(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/admin/faults", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def free_port() -> int:
    """A loopback port that is free now, for the subprocess to take."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sandbox_unknown_fault_exits_2():
    result = paycore("sandbox", "--provider", "juhe", "--port", "0", "--fault", "meteor")
    assert result.returncode == 2
    assert "unknown sandbox fault" in result.stderr


def test_sandbox_options_for_channels_interval_and_strict_mode():
    with sandbox_cli("--channel", "950", "--channel", "ALIPAY2", "--notify-interval", "0.25", "--strict") as run:
        base = f"http://127.0.0.1:{run.port}"
        from paycore import Gateway, Order

        settings = {
            "base_url": base,
            "merchant_id": "10002",
            "secret_key": PUBLIC_SANDBOX_KEY,
            "channels": {"douyin": "950"},
        }
        with Gateway("juhe", settings) as gateway:
            order = Order(
                amount="1.00",
                channel="douyin",
                subject="tea",
                notify_url="http://127.0.0.1:9/notify",
                return_url="http://127.0.0.1:9/return",
            )
            assert gateway.create(order).pay_url.startswith(base)


@pytest.mark.parametrize("content", [b"not a database" * 10, b""])
def test_sandbox_state_that_is_not_sqlite_exits_2(tmp_path, content):
    state = tmp_path / "state.db"
    if content:
        state.write_bytes(content)
        result = paycore("sandbox", "--provider", "juhe", "--port", "0", "--state", str(state))
    else:
        result = paycore("sandbox", "--provider", "juhe", "--port", "0", "--state", str(tmp_path))  # a folder
    assert result.returncode == 2, result.stderr
    assert "sandbox state" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("option", "value"), [("--notify-interval", "nan"), ("--channel", "9&0")])
def test_sandbox_bad_options_exit_2(option, value):
    result = paycore("sandbox", "--provider", "juhe", "--port", "0", option, value)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def _ignoring_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts a background job


@pytest.mark.parametrize("provider", ["alipay", "epay", "juhe"])
@pytest.mark.parametrize(
    ("stop", "started"),
    [(signal.SIGTERM, None), (signal.SIGINT, _ignoring_sigint)],
    ids=["sigterm", "sigint-in-background"],
)
def test_a_sandbox_stopped_by_a_signal_cleans_up_after_itself(provider, tmp_path, stop, started):
    # What a process manager (systemd, docker stop, kill) sends: the alipay sandbox left its key folder behind.
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "paycore.cli", "sandbox", "--provider", provider, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_clean_env(), "TMPDIR": str(tmp_path)},
        preexec_fn=started,  # a signal disposition only, before exec
    )
    try:
        _wait_until_serving(port)
        assert provider != "alipay" or any(tmp_path.iterdir())  # its generated keys
        process.send_signal(stop)
        process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert list(tmp_path.iterdir()) == []
