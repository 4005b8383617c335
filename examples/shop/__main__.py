"""Run the shop on the embedded sandboxes, for a person to click through: ``python -m examples.shop``.

    python3 .ci/dev.py shop                                 # pays through juhe's sandbox
    python3 .ci/dev.py shop --provider wechatpay            # ... or another provider's
    python3 .ci/dev.py shop --data shop-data                # keep orders and paycore.toml between runs

It starts a sandbox for every provider paycore ships, writes the ``paycore.toml``
a merchant would (an account per provider, ``default`` naming one), serves the
shop, prints its URL and its admin password, and stops everything on Ctrl-C (or
SIGTERM). With ``--data DIR`` the orders, the store and ``paycore.toml`` stay in
DIR: edit ``default`` there, start again, and new orders go through that provider
(the sandboxes are new each run, so their accounts' settings are rewritten).
"""

from __future__ import annotations

import argparse
import re
import secrets
import signal
import tempfile
from pathlib import Path
from types import FrameType

from examples.shop.local import PROVIDERS, serve, start_sandboxes, write_config
from examples.shop.settings import ShopSettings

_DEFAULT_LINE = re.compile(r'^default = "([a-z0-9_]+)"$', re.MULTILINE)


def _stop(signal_number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C: sandboxes stopped, their key folders removed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.shop", description=__doc__.split("\n")[0])
    parser.add_argument("--provider", default="juhe", help="the default account's provider (a new paycore.toml)")
    parser.add_argument("--data", type=Path, help="keep orders, store and paycore.toml in this folder")
    parser.add_argument("--port", type=int, default=8080, help="the shop's port on 127.0.0.1 (0: any free one)")
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop)
    with tempfile.TemporaryDirectory(prefix="paycore-shop-") as scratch:
        folder = options.data or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "paycore.toml"
        kept = _DEFAULT_LINE.search(config.read_text(encoding="utf-8")) if config.exists() else None
        default = kept.group(1) if kept else options.provider
        sandboxes = start_sandboxes(sorted(set(PROVIDERS) | {default}))
        try:
            write_config(config, default, sandboxes)
            admin_token = secrets.token_urlsafe(12)
            server, app = serve(
                lambda url: ShopSettings(
                    database=folder / "shop.db",
                    store=str(folder / "shop-payments.db"),
                    base_url=url,
                    admin_token=admin_token,
                    allow_public_test_keys=True,
                    paycore_config=config,
                ),
                port=options.port,
            )
            print(f"the shop: {server.url}  (new orders go through {default!r}; every sandbox on its own port)")
            print(f"its admin pages: {server.url}/admin  (user admin, password {admin_token})")
            print(f"its paycore.toml: {config}; Ctrl-C to stop", flush=True)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                print("stopped")
            finally:
                app.state.shop.close()
        finally:
            for sandbox in sandboxes.values():
                sandbox.stop()


if __name__ == "__main__":
    main()
