"""The paycore plugin's gateway fixtures (paycore_gateway, paycore_any_gateway, ...) pointed at wechatpay."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.fixture
def paycore_provider() -> str:
    return "wechatpay"


@pytest.fixture
def paycore_transport() -> httpx.MockTransport:
    """Where paycore_gateway and paycore_any_gateway() send requests: replace it with a mock of your gateway."""

    def no_gateway(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no mock gateway for {request.method} {request.url.path}: override paycore_transport")

    return httpx.MockTransport(no_gateway)


@pytest.fixture
def paycore_settings() -> dict[str, Any]:
    return {"base_url": "https://gateway.example", "merchant_id": "10001", "secret_key": "a-test-key-of-the-tests"}
