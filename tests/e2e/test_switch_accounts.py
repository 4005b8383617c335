"""The merchant script in examples/ runs unchanged against two accounts: only ``default`` changes."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
from paycore_juhe import JuheProvider

import paycore
from paycore import web
from paycore.testing import LoopbackServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "merchant.py"


def test_same_script_two_accounts(tmp_path, make_sandbox):
    shanghai = make_sandbox(merchant_id="10001", secret_key="key-one")
    shenzhen = make_sandbox(merchant_id="88001", secret_key="key-two")
    config = tmp_path / "paycore.toml"

    def write(default: str) -> None:
        config.write_text(
            f'default = "{default}"\n'
            f'[accounts.main]\nprovider = "juhe"\nbase_url = "{shanghai.url}"\nmerchant_id = "10001"\n'
            f'[accounts.backup]\nprovider = "juhe"\nbase_url = "{shenzhen.url}"\nmerchant_id = "88001"\n'
        )

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}
    env.update(PAYCORE_CONFIG=str(config), PAYCORE_MAIN_SECRET_KEY="key-one", PAYCORE_BACKUP_SECRET_KEY="key-two")

    def run() -> str:
        result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    write("main")
    first = run()
    write("backup")
    second = run()

    assert first.startswith(f"main (juhe): 9.90, send the buyer's browser to {shanghai.url}/cashier/")
    assert second.startswith(f"backup (juhe): 9.90, send the buyer's browser to {shenzhen.url}/cashier/")
    assert "status: pending" in first
    assert "status: pending" in second
    assert [o.merchant_id for o in shanghai.orders()] == ["10001"]
    assert [o.merchant_id for o in shenzhen.orders()] == ["88001"]
    assert "key-one" not in first + second


def test_an_order_in_flight_survives_a_switch_of_default(tmp_path, make_sandbox, monkeypatch, wait_attempts):
    """Created under "main"; default switched to "backup"; main's notification is still verified by main."""
    shanghai = make_sandbox(merchant_id="10001", secret_key="key-one")
    shenzhen = make_sandbox(merchant_id="88001", secret_key="key-two")
    config = tmp_path / "paycore.toml"

    def write(default: str) -> paycore.Accounts:
        config.write_text(
            f'default = "{default}"\n'
            f'[accounts.main]\nprovider = "juhe"\nbase_url = "{shanghai.url}"\nmerchant_id = "10001"\n'
            f'secret_key = "key-one"\n'
            f'[accounts.backup]\nprovider = "juhe"\nbase_url = "{shenzhen.url}"\nmerchant_id = "88001"\n'
            f'secret_key = "key-two"\n'
        )
        return paycore.Accounts.from_config(config)

    # Which account's provider verified each notification: backup's must never be asked.
    consulted: list[str] = []
    verify = JuheProvider.verify_notification

    @paycore.hookimpl
    def spy(self: JuheProvider, request: paycore.NotificationRequest) -> paycore.Notification:
        consulted.append(self.account)
        return verify(self, request)

    monkeypatch.setattr(JuheProvider, "verify_notification", spy)
    serving = [write("main")]
    received: queue.Queue[paycore.Notification | paycore.PaycoreError] = queue.Queue()

    def endpoint(request: httpx.Request) -> httpx.Response:
        accounts = serving[0]  # whatever the configuration says now
        notified = web.from_httpx(request)
        try:
            notification = accounts.verify_notification(notified)
        except paycore.PaycoreError as exc:
            received.put(exc)
            return web.to_httpx(accounts.reply_for(notified, exc))
        received.put(notification)
        return web.to_httpx(notification.ack)

    with LoopbackServer(endpoint) as merchant, serving[0] as before:
        order = paycore.Order(
            amount=Decimal("30.00"),
            channel=paycore.Channel.ALIPAY_QR,
            subject="tea",
            notify_url=before.notify_url(f"{merchant.url}/notify"),
            return_url=f"{merchant.url}/done",
        )
        assert order.notify_url == f"{merchant.url}/notify/main"
        payment = before.gateway().create(order)
        assert payment.account == "main"

        serving[0] = after = write("backup")  # the shop switches gateways
        assert after.gateway().account == "backup"
        with after:
            shanghai.pay(order.order_id)
            notification = received.get(timeout=10)

            assert isinstance(notification, paycore.Notification), notification
            assert (notification.account, notification.status, notification.order_id) == (
                "main",
                paycore.PaymentStatus.PAID,
                order.order_id,
            )
            notification.check_against(order)
            assert consulted == ["main"]
            assert [attempt.response for attempt in wait_attempts(shanghai, order.order_id, 1)] == ["OK"]
            # Later calls about the order go to the account that made it.
            assert after[payment.account].query(order.order_id).status is paycore.PaymentStatus.PAID
            # New orders go to the new default.
            second = order.model_copy(update={"order_id": paycore.new_order_id()})
            assert after.gateway().create(second).account == "backup"
            assert [o.order_id for o in shenzhen.orders()] == [second.order_id]
