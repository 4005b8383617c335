"""Run the shop on a provider's embedded sandbox, for a person to click through: ``python -m examples.shop``.

    python3 .ci/dev.py shop                       # juhe
    python3 .ci/dev.py shop --provider wechatpay

It starts the provider's sandbox, writes the ``paycore.toml`` a merchant would (one
account named after the provider, ``default`` pointing at it) in a temporary
folder with the shop's database and store, serves the shop, prints its URL, and
stops everything on Ctrl-C.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from examples.shop.app import create_app
from examples.shop.sandbox_config import paycore_toml
from examples.shop.settings import ShopSettings
from paycore.sandbox import SandboxOptions, make_sandbox
from paycore.testing import LoopbackServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.shop", description=__doc__.split("\n")[0])
    parser.add_argument("--provider", default="juhe", help="the provider whose sandbox the shop pays through")
    parser.add_argument("--port", type=int, default=8080, help="the shop's port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--profile", default="fast", help="the sandbox's notification schedule")
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="paycore-shop-") as folder,
        make_sandbox(options.provider, SandboxOptions(profile=options.profile)) as sandbox,
    ):
        config = Path(folder) / "paycore.toml"
        account = {"provider": options.provider, **sandbox.account_settings()}
        config.write_text(paycore_toml(options.provider, {options.provider: account}), encoding="utf-8")
        settings = ShopSettings(
            database=Path(folder) / "shop.db",
            store=str(Path(folder) / "shop-payments.db"),
            allow_public_test_keys=True,
            paycore_config=config,
        )
        app = create_app(settings)
        server = LoopbackServer.asgi(app, port=options.port)
        print(f"the shop: {server.url}  (paying through the {options.provider!r} sandbox at {sandbox.url})")
        print(f"its orders: {server.url}/admin; its paycore.toml: {config}; Ctrl-C to stop", flush=True)
        try:
            server.serve_forever()
        finally:
            app.state.shop.close()


if __name__ == "__main__":
    main()
