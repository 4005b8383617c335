"""examples/notify_endpoint.py, served for real, receives the sandbox's notification."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from paycore_juhe.sandbox._server import ThreadedServer

import paycore

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "notify_endpoint.py"


def _load_example(tmp_path: Path, monkeypatch: Any, sandbox: Any) -> Any:
    config = tmp_path / "paycore.toml"
    settings = sandbox.account_settings()
    config.write_text(
        f'[accounts.shop]\nprovider = "juhe"\nbase_url = "{settings["base_url"]}"\n'
        f'merchant_id = "{settings["merchant_id"]}"\nsecret_key = "{settings["secret_key"]}"\n'
    )
    monkeypatch.setenv("PAYCORE_CONFIG", str(config))
    spec = importlib.util.spec_from_file_location("notify_endpoint_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


@contextlib.contextmanager
def _served_example(tmp_path: Path, monkeypatch: Any, sandbox: Any) -> Iterator[tuple[Any, ThreadedServer]]:
    """The example app loaded on the sandbox's account and served on a socket; stopped after."""
    example = _load_example(tmp_path, monkeypatch, sandbox)
    server = ThreadedServer(example.app, "127.0.0.1", 0)
    server.start()
    try:
        yield example, server
    finally:
        server.stop()
        example.accounts.close()


def _paid_order(example: Any, server: ThreadedServer, sandbox: Any, fault: str) -> paycore.Order:
    """An order created through the example's accounts, recorded by it, and paid at the sandbox with ``fault``."""
    order = paycore.Order(
        amount=Decimal("42.00"),
        channel="wechat_qr",
        subject="tea",
        notify_url=example.accounts.notify_url(f"{server.url}/pay/notify"),
        return_url=f"{server.url}/pay/done",
    )
    example.record(order, example.accounts.gateway().create(order))
    sandbox.set_faults([fault], order_id=order.order_id)
    sandbox.pay(order.order_id)
    return order


def test_example_endpoint_verifies_and_acknowledges(tmp_path, monkeypatch, sandbox, wait_attempts):
    with _served_example(tmp_path, monkeypatch, sandbox) as (example, server):
        order = _paid_order(example, server, sandbox, "duplicate")
        attempts = wait_attempts(sandbox, order.order_id, 2)
        assert [a.response for a in attempts] == ["OK", "OK"]
        assert example.paid[order.order_id] == attempts[0].body.split("transaction_id=")[1].split("&")[0]

        # Every error answer stays clear of "ok": the reference software would take it as received.
        genuine = attempts[0].body
        errors = {
            "forged": genuine.replace("amount=42.0000", "amount=1.0000"),
            "unknown order": genuine,
            "garbage": "hello",
        }
        del example.orders[order.order_id]
        for case, body in errors.items():
            answer = httpx.post(f"{server.url}/pay/notify/shop", content=body)
            assert answer.status_code >= 400, case
            assert "ok" not in answer.text.lower(), case
        # A path naming no configured account is refused the same way, no key consulted.
        answer = httpx.post(f"{server.url}/pay/notify/elsewhere", content=genuine)
        assert answer.status_code >= 400
        assert "ok" not in answer.text.lower()


def test_example_endpoint_refuses_an_underpaid_notification(tmp_path, monkeypatch, sandbox, wait_attempts):
    # The sandbox's true_amount fault: the buyer paid 0.01 less than the order. Never fulfilled.
    with _served_example(tmp_path, monkeypatch, sandbox) as (example, server):
        order = _paid_order(example, server, sandbox, "true_amount")
        [attempt] = wait_attempts(sandbox, order.order_id, 1)
        assert "ok" not in attempt.response.lower()
        assert order.order_id not in example.paid
