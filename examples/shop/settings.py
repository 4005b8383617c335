"""The shop's own settings, from the environment; paycore's accounts come from ``paycore.toml``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ShopSettings"]


@dataclass(frozen=True)
class ShopSettings:
    """Where the shop keeps its orders, where the handler keeps its claims, and how it is reached.

    ``store`` is a path (SQLite, the default) or a URL: ``redis://...`` or
    ``postgresql://...``. ``base_url`` is the shop's public origin, for the notify and
    return URLs it gives the gateway; empty, the origin each request came to.
    ``allow_public_test_keys`` (``SHOP_ALLOW_PUBLIC_TEST_KEYS=1``) lets sandbox accounts
    keyed with paycore's public test key stand beside others: for a sandbox only,
    never in production.
    """

    database: Path
    store: str
    base_url: str = ""
    allow_public_test_keys: bool = False
    #: paycore's configuration file; None: paycore's own lookup (``PAYCORE_CONFIG``, else ./paycore.toml)
    paycore_config: Path | None = None

    @classmethod
    def from_environment(cls) -> ShopSettings:
        folder = Path(os.environ.get("SHOP_DATA", "."))
        return cls(
            database=Path(os.environ.get("SHOP_DATABASE", folder / "shop.db")),
            store=os.environ.get("SHOP_STORE", str(folder / "shop-payments.db")),
            base_url=os.environ.get("SHOP_BASE_URL", "").rstrip("/"),
            allow_public_test_keys=os.environ.get("SHOP_ALLOW_PUBLIC_TEST_KEYS") == "1",
        )
