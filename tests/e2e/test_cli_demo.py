"""``paycore demo`` and ``paycore sandbox`` as a user runs them: subprocesses, real sockets."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from paycore.sandbox import PUBLIC_SANDBOX_KEY


def paycore(*args: str, **kwargs):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}
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
        "5. notification verified: paid",
        "answered 'OK'",
        "6. query confirms: paid",
    ):
        assert step in result.stdout, step
    assert re.search(r"^done: order \w{20} for 9\.90 CNY .* queried as paid", lines[-1])


def test_demo_with_a_provider_without_sandbox_fails_clearly():
    result = paycore("demo", "--provider", "nope")
    assert result.returncode == 2
    assert "no payment provider named 'nope'" in result.stderr


def test_sandbox_command_serves_and_prints_the_account_block():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paycore.cli",
            "sandbox",
            "--provider",
            "juhe",
            "--port",
            str(port),
            "--fault",
            "ststus",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        header = [process.stdout.readline() for _ in range(9)]
        text = "".join(header)
        assert f"on http://127.0.0.1:{port}" in text
        assert '[accounts.sandbox]\nprovider = "juhe"\n' in text
        assert f'base_url = "http://127.0.0.1:{port}"' in text
        assert f'secret_key = "{PUBLIC_SANDBOX_KEY}"  # the public sandbox test key' in text
        answer = httpx.post(f"http://127.0.0.1:{port}/Pay_Trade_query.html", data={"pay_memberid": "10002"})
        assert answer.json()["status"] == "error"
        assert httpx.get(f"http://127.0.0.1:{port}/admin/faults").json()["faults"] == ["ststus"]
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 0


def test_sandbox_command_never_prints_a_key_the_user_chose():
    port = free_port()
    secret = "my-own-secret-key-123"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paycore.cli",
            "sandbox",
            "--provider",
            "juhe",
            "--port",
            str(port),
            "--secret-key",
            secret,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        text = "".join(process.stdout.readline() for _ in range(9))
        assert "# secret_key: the value you passed with --secret-key" in text
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert secret not in text + out + err


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


def free_port() -> int:
    """A loopback port that is free now, for the subprocess to take."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sandbox_unknown_fault_exits_2():
    result = paycore("sandbox", "--provider", "juhe", "--port", "0", "--fault", "meteor")
    assert result.returncode == 2
    assert "unknown sandbox fault" in result.stderr
