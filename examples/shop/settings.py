"""The shop's own settings, from the environment; paycore's accounts come from ``paycore.toml``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import paycore

__all__ = ["ShopSettings"]


@dataclass(frozen=True)
class ShopSettings:
    """Where the shop keeps its orders and the handler its claims, how it is reached, who may administer it.

    ``store`` is a path (SQLite, the default) or a URL: ``redis://...`` or
    ``postgresql://...``. ``base_url`` is the shop's public origin, for the notify
    and return URLs it gives gateways: configured, never read off a request's Host
    header, which the client chooses. ``admin_token`` is the password of the admin
    pages (user ``admin``); without one they are off. ``allow_public_test_keys`` lets
    sandbox accounts keyed with paycore's public test key stand beside others: for a
    sandbox only, never in production.
    """

    database: Path
    store: str
    base_url: str
    admin_token: str | None = field(default=None, repr=False)
    allow_public_test_keys: bool = False
    #: paycore's configuration file; None: paycore's own lookup (``PAYCORE_CONFIG``, else ./paycore.toml)
    paycore_config: Path | None = None

    @classmethod
    def from_environment(cls) -> ShopSettings:
        """``SHOP_BASE_URL`` (required), ``SHOP_DATA`` (the folder of the two files below, default ``.``),
        ``SHOP_DATABASE``, ``SHOP_STORE``, ``SHOP_ADMIN_TOKEN``, ``SHOP_ALLOW_PUBLIC_TEST_KEYS=1``."""
        base_url = os.environ.get("SHOP_BASE_URL", "").rstrip("/")
        if not base_url.startswith(("https://", "http://")):
            raise paycore.ConfigError("set SHOP_BASE_URL to the shop's public origin, e.g. https://shop.example")
        folder = Path(os.environ.get("SHOP_DATA", "."))
        return cls(
            database=Path(os.environ.get("SHOP_DATABASE", folder / "shop.db")),
            store=os.environ.get("SHOP_STORE", str(folder / "shop-payments.db")),
            base_url=base_url,
            admin_token=os.environ.get("SHOP_ADMIN_TOKEN") or None,
            allow_public_test_keys=os.environ.get("SHOP_ALLOW_PUBLIC_TEST_KEYS") == "1",
        )
