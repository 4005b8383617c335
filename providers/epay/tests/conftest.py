"""The paycore plugin's gateway fixtures (paycore_gateway, paycore_any_gateway, ...) pointed at epay."""

from __future__ import annotations

from typing import Any

import httpx
import hypothesis
import pytest

# Examples are not timed: a deadline fails a test on a busy machine, and tests here are never timed.
hypothesis.settings.register_profile("paycore", deadline=None)
hypothesis.settings.load_profile("paycore")


@pytest.fixture
def paycore_provider() -> str:
    return "epay"


@pytest.fixture
def paycore_settings() -> dict[str, Any]:
    return {"base_url": "https://gateway.example", "merchant_id": "10001", "secret_key": "a-test-key-of-the-tests"}


@pytest.fixture
def paycore_transport() -> httpx.MockTransport:
    """Tests that send requests pass their own mock platform to paycore_any_gateway(handler)."""

    def no_platform(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"this test has no mock platform for {request.method} {request.url.path}")

    return httpx.MockTransport(no_platform)
