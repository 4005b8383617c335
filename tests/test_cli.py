"""The paycore CLI, run as a subprocess against a fake gateway on a real socket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from paycore.testing import FakeGateway, LoopbackServer

SECRET = "cli-secret-never-printed"


@pytest.fixture
def fake() -> FakeGateway:
    from paycore.testing import FakeSettings

    return FakeGateway(FakeSettings(secret_key=SECRET))


@pytest.fixture
def server(fake):
    with LoopbackServer(fake) as running:
        yield running


@pytest.fixture
def config(tmp_path: Path, server: LoopbackServer) -> Path:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    path = tmp_path / "paycore.toml"
    path.write_text(
        f"""
default = "main"
[accounts.main]
provider = "fake"
base_url = "{server.url}"
secret_key = "{SECRET}"

[accounts.down]
provider = "fake"
base_url = "http://127.0.0.1:{closed_port}"
secret_key = "{SECRET}"
timeout = 2
"""
    )
    return path


def paycore_cli(*args: str, config: Path | None = None, stdin: str = "", testing: bool = True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}
    if testing:
        env["PAYCORE_TESTING"] = "1"
    if config is not None:
        env["PAYCORE_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "paycore.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _create(config: Path, *extra: str):
    return paycore_cli(
        "create",
        "--amount",
        "9.90",
        "--channel",
        "alipay_qr",
        "--subject",
        "Tea",
        "--notify-url",
        "https://shop.example/n",
        "--return-url",
        "https://shop.example/r",
        *extra,
        config=config,
    )


def test_providers_lists_installed_with_distribution(config):
    result = paycore_cli("providers", "--json")
    assert result.returncode == 0, result.stderr
    listing = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert listing["fake"]["distribution"] == "paycore"
    capabilities = listing["fake"]["capabilities"]
    assert sorted(capabilities["operations"]) == [
        "close",
        "create",
        "explain",
        "failure_reply",
        "query",
        "refund",
        "refund_query",
        "return",
        "route",
        "verify",
    ]
    assert (capabilities["required_order_fields"], capabilities["channel_order_fields"]) == ([], {})
    readable = paycore_cli("providers")
    assert readable.returncode == 0
    assert "fake" in readable.stdout
    assert "paycore" in readable.stdout


def test_providers_without_testing_switch_hides_the_fake():
    result = paycore_cli("providers", "--json", testing=False)
    assert result.returncode == 0
    assert "fake" not in [entry["name"] for entry in json.loads(result.stdout)]


def test_accounts_masks_secrets(config):
    result = paycore_cli("accounts", "--json", config=config)
    assert result.returncode == 0, result.stderr
    accounts = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert accounts["main"]["default"] is True
    assert accounts["main"]["settings"]["secret_key"] == "**********"
    readable = paycore_cli("accounts", config=config)
    assert "main (default): fake" in readable.stdout
    assert SECRET not in result.stdout + readable.stdout + result.stderr + readable.stderr


def test_create_then_query_then_verify(config, fake):
    created = _create(config, "--order-id", "CLI0001", "--json")
    assert created.returncode == 0, created.stderr
    payment = json.loads(created.stdout)
    assert payment["amount"] == "9.90"
    assert payment["status"] == "pending"
    assert payment["order_id"] == "CLI0001"

    queried = paycore_cli("query", "CLI0001", "--json", config=config)
    assert json.loads(queried.stdout)["status"] == "pending"

    body = fake.pay("CLI0001").decode()
    verified = paycore_cli("verify", "--json", config=config, stdin=body)
    assert verified.returncode == 0, verified.stderr
    notification = json.loads(verified.stdout)
    assert (notification["status"], notification["amount"], notification["ack"]["body"]) == ("paid", "9.90", "ok")

    readable = paycore_cli("verify", "--body", body, config=config)
    assert readable.returncode == 0
    assert "status" in readable.stdout
    assert "paid" in readable.stdout
    assert "HTTP 200 text/plain; charset=utf-8: ok" in readable.stdout
    assert SECRET not in created.stdout + queried.stdout + verified.stdout + readable.stdout
    assert payment["next_action"] == {"kind": "redirect", "url": payment["pay_url"]}
    shown = _create(config, "--order-id", "CLI0009")
    assert "next_action     send the buyer's browser to https://fake-gateway.invalid/pay/CLI0009" in shown.stdout


def test_verify_takes_a_get_notification_with_headers(config, fake):
    assert _create(config, "--order-id", "CLI0010").returncode == 0
    body = fake.pay("CLI0010").decode()
    # The fake reads a POSTed form: a GET with the fields in the query is refused (exit 3), headers accepted.
    result = paycore_cli("verify", "--method", "get", "--query", body, "--header", "X-Trace: 1", config=config)
    assert result.returncode == 3, result.stdout + result.stderr
    malformed = paycore_cli("verify", "--header", "no colon", "--body", body, config=config)
    assert malformed.returncode == 2
    assert "NAME:VALUE" in malformed.stderr


def test_tampered_notification_exits_3(config, fake):
    assert _create(config, "--order-id", "CLI0002").returncode == 0
    body = fake.pay("CLI0002").decode().replace("amount=9.90", "amount=0.01")
    result = paycore_cli("verify", "--body", body, config=config)
    assert result.returncode == 3
    assert result.stderr.startswith("paycore: error: ")
    assert result.stderr.count("\n") == 1


def test_gateway_refusal_exits_4(config):
    result = paycore_cli("query", "NOPE", config=config)
    assert result.returncode == 4
    assert "no such order" in result.stderr


def test_transport_failure_exits_5(config):
    result = paycore_cli("query", "X", "--account", "down", config=config)
    assert result.returncode == 5
    assert "cannot have received" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("query",),  # missing ORDER_ID: argparse usage error
        ("query", "X", "--account", "nope"),
        (
            "create",
            "--amount",
            "1.001",
            "--channel",
            "x",
            "--subject",
            "s",
            "--notify-url",
            "http://a/b",
            "--return-url",
            "http://a/c",
        ),
    ],
)
def test_usage_and_configuration_errors_exit_2(config, args):
    result = paycore_cli(*args, config=config)
    assert result.returncode == 2, result.stderr


def test_fake_in_production_config_exits_2(config):
    result = paycore_cli("query", "X", config=config, testing=False)
    assert result.returncode == 2
    assert "PAYCORE_TESTING=1" in result.stderr


def test_form_flow_from_cli(config):
    result = _create(config, "--flow", "form", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["form"]["fields"]["sign"]


def test_verbose_logs_the_call_without_secrets(config):
    result = paycore_cli("query", "NOPE", "-v", config=config)
    assert "query account=main provider=fake order_id=NOPE outcome=OrderNotFound" in result.stderr
    # the request as paycore saw it: method, host, path, status; httpx's own line stays quiet
    assert "requests=POST http" in result.stderr
    assert "HTTP Request:" not in result.stderr
    assert SECRET not in result.stderr


def test_accounts_with_an_invalid_account_exits_2_naming_it(tmp_path):
    path = tmp_path / "paycore.toml"
    path.write_text(
        'default = "ok"\n[accounts.ok]\nprovider = "fake"\n[accounts.bad]\nprovider = "fake"\ncolour = "red"\n'
    )
    result = paycore_cli("accounts", "--json", config=path)
    assert result.returncode == 2
    accounts = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert "colour" in accounts["bad"]["error"]
    assert "error" not in accounts["ok"]


SHOP_MODULE = """
from decimal import Decimal
import sys

import httpx
import paycore
from paycore.handler import NotificationHandler, OrderRecord
from paycore.stores import MemoryStore
from paycore.testing import FakeGateway, FakeProvider

fake = FakeGateway()
gateway = paycore.Gateway(FakeProvider, account="main", transport=httpx.MockTransport(fake))
orders = {}
for order_id, paid in (("LOST1", True), ("WAITING1", False)):
    order = paycore.Order(order_id=order_id, amount=Decimal("9.90"), channel="alipay_qr", subject="tea",
                          notify_url="https://shop.example/notify/main", return_url="https://shop.example/done")
    gateway.create(order)
    orders[order_id] = OrderRecord(order_id, order.amount, account="main")
    if paid:
        fake.pay(order_id)  # its notification never arrived
orders["GONE1"] = OrderRecord("GONE1", Decimal("1.00"), account="main")  # the create never reached the gateway


def fulfil(event):
    print(f"fulfilled {event.order_id} from {event.source}", file=sys.stderr)


accounts = paycore.Accounts({"main": gateway})
handler = NotificationHandler(accounts, lookup=orders.get, on_paid=fulfil, store=MemoryStore())
"""


def test_reconcile_applies_what_the_gateway_says_through_the_applications_handler(tmp_path):
    (tmp_path / "shop_payments.py").write_text(SHOP_MODULE)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "paycore.cli",
            "reconcile",
            "--json",
            "--handler",
            "shop_payments:handler",
            "LOST1",
            "WAITING1",
            "GONE1",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr  # one order could not be reconciled
    listing = {entry["order_id"]: entry for entry in json.loads(result.stdout)}
    assert (listing["LOST1"]["status"], listing["LOST1"]["outcome"]) == ("paid", "applied")
    assert (listing["WAITING1"]["status"], listing["WAITING1"]["outcome"]) == ("pending", "nothing_to_apply")
    assert "not found at the gateway" in listing["GONE1"]["error"]
    assert result.stderr.count("fulfilled LOST1 from query") == 1
    bad = subprocess.run(
        [sys.executable, "-m", "paycore.cli", "reconcile", "--handler", "shop_payments:nothing", "X"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "cannot load the handler" in bad.stderr


@pytest.mark.parametrize(
    ("order_ids", "code"),
    [(["LOST1"], 0), (["NOT-OURS"], 1), (["LOST1", "NOT-OURS"], 1), (["WAITING1"], 0)],
    ids=["applied", "unknown order", "one unknown", "pending"],
)
def test_reconcile_exits_1_unless_every_order_was_reconciled(tmp_path, order_ids, code):
    # An order the shop does not know (a typo, another shop's) was reported and exited 0: a script saw success.
    (tmp_path / "shop_payments.py").write_text(SHOP_MODULE)
    result = subprocess.run(
        [sys.executable, "-m", "paycore.cli", "reconcile", "--handler", "shop_payments:handler", *order_ids],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == code, result.stdout + result.stderr
    if "NOT-OURS" in order_ids:
        assert "NOT-OURS: ?, unknown_order" in result.stdout


def test_the_cli_leaves_the_paycore_logger_as_it_found_it(tmp_path, monkeypatch):
    # main() in a process that goes on (a test, a management command): its quiet handler must not stay.
    import logging

    from paycore.cli import main

    monkeypatch.chdir(tmp_path)
    before = list(logging.getLogger("paycore").handlers)
    main(["providers"])
    main(["verify", "--body", "x=1"])
    assert logging.getLogger("paycore").handlers == before
