"""``paycore create/query/verify`` with a juhe account, over a real loopback socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from paycore.testing import LoopbackServer

KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
FIELDS = {
    "memberid": "10002",
    "orderid": "CLI2026112600000001",
    "transaction_id": "20261126182000000001",
    "amount": "9.9000",
    "datetime": "2026-11-26 18:20:00",
    "returncode": "00",
}


@pytest.fixture
def config(tmp_path, peer):
    with LoopbackServer(peer) as server:
        path = tmp_path / "paycore.toml"
        path.write_text(
            f'default = "shop"\n[accounts.shop]\nprovider = "juhe"\nbase_url = "{server.url}"\nmerchant_id = "10002"\n'
        )
        yield path


def cli(config, *args, stdin=""):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}
    env.update(PAYCORE_CONFIG=str(config), PAYCORE_SHOP_SECRET_KEY=KEY)
    return subprocess.run(
        [sys.executable, "-m", "paycore.cli", *args, "--json"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_create_query_verify(config, peer, helpers):
    created = cli(
        config,
        "create",
        "--amount",
        "9.90",
        "--channel",
        "alipay_qr",
        "--subject",
        "Tea",
        "--notify-url",
        "http://shop.example/notify",
        "--return-url",
        "http://shop.example/done",
        "--order-id",
        FIELDS["orderid"],
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["pay_url"].endswith(f"osn={FIELDS['orderid']}")

    peer.paid.add(FIELDS["orderid"])
    queried = cli(config, "query", FIELDS["orderid"])
    assert queried.returncode == 0, queried.stderr
    assert json.loads(queried.stdout)["status"] == "paid"

    verified = cli(config, "verify", stdin=helpers.notification_body(FIELDS).decode())
    assert verified.returncode == 0, verified.stderr
    notification = json.loads(verified.stdout)
    assert (notification["status"], notification["amount"], notification["ack"]["body"]) == ("paid", "9.90", "OK")

    tampered = cli(config, "verify", stdin=helpers.notification_body(FIELDS).decode().replace("9.9000", "0.0100"))
    assert tampered.returncode == 3
    assert KEY not in created.stdout + queried.stdout + verified.stdout + tampered.stderr


def test_accounts_masks_the_key_from_the_environment(config):
    result = cli(config, "accounts")
    assert result.returncode == 0, result.stderr
    shop = json.loads(result.stdout)[0]
    assert shop["settings"]["secret_key"] == "**********"
    assert shop["settings"]["channels"]["alipay_qr"] == "903"
    assert KEY not in result.stdout


def test_gateway_refusal_exits_4(config):
    result = cli(config, "query", "NOSUCHORDER")
    assert result.returncode == 4
    assert "不存在的交易订单" in result.stderr
