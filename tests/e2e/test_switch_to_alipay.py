"""A merchant switches an account from juhe to alipay in paycore.toml; the same code pays, is notified once, queries."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

import paycore
from paycore import web
from paycore.handler import NotificationHandler, OrderRecord
from paycore.stores import MemoryStore


class Shop:
    """The merchant's code, written once: it knows accounts and orders, not gateways."""

    def __init__(self, config: Path) -> None:
        self.accounts = paycore.Accounts.from_config(config)
        self.orders: dict[str, OrderRecord] = {}
        self.fulfilled: list[str] = []
        self.handler = NotificationHandler(
            self.accounts,
            lookup=self.orders.get,
            on_paid=lambda paid: self.fulfilled.append(paid.order_id),
            store=MemoryStore(),
        )

    def endpoint(self, request: httpx.Request) -> httpx.Response:
        return web.to_httpx(self.handler.process(web.from_httpx(request)).reply)

    def checkout(self, base_url: str) -> tuple[paycore.Order, paycore.Payment]:
        order = paycore.Order(
            amount=Decimal("25.00"),
            channel="alipay_qr",
            subject="Pu-erh",
            notify_url=self.accounts.notify_url(f"{base_url}/pay/notify"),
            return_url=f"{base_url}/done",
        )
        payment = self.accounts.gateway().create(order)
        self.orders[order.order_id] = OrderRecord(order.order_id, order.amount, order.currency, payment.account)
        return order, payment

    def status(self, order_id: str) -> paycore.PaymentStatus:
        return self.accounts[self.orders[order_id].account].query(order_id).status


def _toml(settings: dict[str, str]) -> str:
    return "\n".join(f"{name} = {value!r}".replace("'", '"') for name, value in settings.items())


@pytest.mark.parametrize("provider", ["juhe", "alipay"])
def test_the_same_merchant_code_on_either_gateway(provider, tmp_path, paycore_sandbox, paycore_loopback):
    sandbox = paycore_sandbox(provider)
    config = tmp_path / "paycore.toml"
    config.write_text(
        f'default = "shop"\n[accounts.shop]\nprovider = "{provider}"\n{_toml(sandbox.account_settings())}\n'
    )
    shop = Shop(config)
    try:
        site = paycore_loopback.handler(shop.endpoint)
        order, payment = shop.checkout(site.url)
        assert payment.account == "shop"
        assert payment.provider == provider
        assert payment.status is paycore.PaymentStatus.PENDING
        sandbox.pay(order.order_id)
        sandbox.wait_for_notifications(order.order_id)
        assert shop.fulfilled == [order.order_id]  # applied once, whatever the resends
        assert shop.status(order.order_id) is paycore.PaymentStatus.PAID
    finally:
        shop.accounts.close()
