"""The example shop against each provider's sandbox: one suite, run once per provider, unchanged.

``shop`` starts the provider's sandbox (and a second provider's, for the switch of
``default``), writes the ``paycore.toml`` a merchant would, and serves
``examples.shop`` over a loopback socket with its own SQLite orders and store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.shop.local import serve, start_sandboxes, write_config
from examples.shop.orders import ShopOrder
from examples.shop.settings import ShopSettings
from paycore.provider import Operation
from paycore.sandbox import Sandbox
from paycore.testing import LoopbackServer

PROVIDERS = ("juhe", "epay", "alipay", "wechatpay")
ROOT = Path(__file__).resolve().parents[2]
#: the shop's handler, as an operator names it to ``paycore reconcile``
_HANDLER = "examples.shop.wiring:make_handler"
ADMIN_TOKEN = "admin-password-of-the-tests"


class ShopWorld:
    """A provider's sandbox, another provider's (for switching), and the shop configured to pay through them."""

    def __init__(self, provider: str, folder: Path, *, store: str | None = None) -> None:
        self.provider = provider
        self.other = "epay" if provider != "epay" else "juhe"
        self.folder = folder
        self.store = store or str(folder / "shop-payments.db")
        self.sandboxes: dict[str, Sandbox] = start_sandboxes((provider, self.other))
        self.config = folder / "paycore.toml"
        self._server: LoopbackServer | None = None
        self._app: Any = None
        write_config(self.config, self.provider, self.sandboxes)

    @property
    def sandbox(self) -> Sandbox:
        return self.sandboxes[self.provider]

    def settings(self, url: str) -> ShopSettings:
        return ShopSettings(
            database=self.folder / "shop.db",
            store=self.store,
            base_url=url,
            admin_token=ADMIN_TOKEN,
            allow_public_test_keys=True,
            paycore_config=self.config,
        )

    def start(self, port: int = 0) -> str:
        self._server, self._app = serve(self.settings, port=port)
        self._server.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._app.state.shop.close()
            self._server = None

    def restart(self, *, default: str) -> str:
        """The merchant edits ``default`` and restarts the shop: same address, database and store."""
        port = int(self.url.rsplit(":", 1)[1])
        self.stop()
        write_config(self.config, default, self.sandboxes)
        return self.start(port)

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def operations(self) -> frozenset[Operation]:
        """What the provider under test can do, as the shop sees it."""
        return frozenset(self._app.state.shop.accounts[self.provider].capabilities.operations)

    def order(self, order_id: str) -> ShopOrder:
        found = self._app.state.shop.orders.get(order_id)
        assert found is not None, f"the shop has no order {order_id}"
        return found

    def checkout(self, sku: str = "oolong") -> ShopOrder:
        """A checkout as the product page's form posts it (no browser): the new order."""
        channels = self._app.state.shop.channels()
        answer = httpx.post(f"{self.url}/checkout", data={"sku": sku, "channel": channels[0].value})
        assert answer.status_code == 303, answer.text
        return self.order(answer.headers["location"].split("/")[2])

    def admin(self) -> httpx.Client:
        """A client logged in to the admin pages."""
        return httpx.Client(base_url=self.url, auth=("admin", ADMIN_TOKEN), follow_redirects=True)

    def reconcile(self, *order_ids: str) -> subprocess.CompletedProcess[str]:
        """``paycore reconcile`` pointed at the shop's handler, in a process of its own, as an operator runs it."""
        env = {
            **{name: value for name, value in os.environ.items() if not name.startswith(("PAYCORE_", "SHOP_"))},
            "PAYCORE_CONFIG": str(self.config),
            "SHOP_BASE_URL": self.url,
            "SHOP_DATABASE": str(self.folder / "shop.db"),
            "SHOP_STORE": self.store,
            "SHOP_ALLOW_PUBLIC_TEST_KEYS": "1",
        }
        return subprocess.run(
            [sys.executable, "-m", "paycore.cli", "reconcile", "--handler", _HANDLER, *order_ids],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def close(self) -> None:
        self.stop()
        for sandbox in self.sandboxes.values():
            sandbox.stop()


@pytest.fixture(params=PROVIDERS)
def shop(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShopWorld]:
    monkeypatch.delenv("PAYCORE_ACCOUNT", raising=False)  # the file's default, not the environment's
    world = ShopWorld(str(request.param), tmp_path)
    try:
        world.start()
        yield world
    finally:
        world.close()
