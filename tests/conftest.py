from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from paycore import Order
from paycore.testing import FakeGateway


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def make_order() -> Callable[..., Order]:
    def make(**overrides: Any) -> Order:
        fields: dict[str, Any] = {
            "amount": Decimal("12.50"),
            "channel": "alipay_qr",
            "subject": "Green tea",
            "notify_url": "https://shop.example/pay/notify",
            "return_url": "https://shop.example/pay/done",
        }
        fields.update(overrides)
        return Order(**fields)

    return make
