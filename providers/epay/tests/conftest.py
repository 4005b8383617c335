"""The paycore plugin's gateway fixtures (paycore_gateway, paycore_any_gateway, ...) pointed at epay."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def paycore_provider() -> str:
    return "epay"


@pytest.fixture
def paycore_settings() -> dict[str, Any]:
    return {"base_url": "https://gateway.example", "merchant_id": "10001", "secret_key": "a-test-key-of-the-tests"}
