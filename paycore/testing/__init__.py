"""Test doubles and test tools for applications, provider authors and paycore itself.

`FakeProvider` talks to `FakeGateway`, an in-memory gateway used as an
``httpx.MockTransport`` handler, which can fail in each way real gateways fail
(`FakeFault`). Tests select the fake by passing the class to a gateway; a
configuration can name it (``provider = "fake"``) only when the environment sets
``PAYCORE_TESTING=1``, so production cannot reach it by accident.

`LoopbackServer` serves such a handler, or a WSGI/ASGI application, over a
real socket on 127.0.0.1; `Merchant` is a shop in miniature on one (a gateway, its
orders, a notify endpoint applying each payment once, a return page). The pytest
plugin (``paycore.testing.pytest_plugin``, loaded automatically where paycore is
installed) offers all of it as
``paycore_*`` fixtures, and `paycore.testing.conformance` holds the suite a
provider's tests subclass.

Names are imported on first use, so that loading the pytest plugin costs nothing
until a test asks for a fixture.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paycore.testing._either import GatewayKind, GatewayUnderTest
    from paycore.testing._fake import FakeProvider, FakeSettings, fake_sign
    from paycore.testing._fake_gateway import Break, FakeFault, FakeGateway
    from paycore.testing._merchant import Merchant
    from paycore.testing._server import LoopbackServer

__all__ = [
    "Break",
    "FakeFault",
    "FakeGateway",
    "FakeProvider",
    "FakeSettings",
    "GatewayKind",
    "GatewayUnderTest",
    "LoopbackServer",
    "Merchant",
    "fake_sign",
]

_EXPORTS = {
    "Break": "paycore.testing._fake_gateway",
    "FakeFault": "paycore.testing._fake_gateway",
    "FakeGateway": "paycore.testing._fake_gateway",
    "FakeProvider": "paycore.testing._fake",
    "FakeSettings": "paycore.testing._fake",
    "GatewayKind": "paycore.testing._either",
    "GatewayUnderTest": "paycore.testing._either",
    "LoopbackServer": "paycore.testing._server",
    "Merchant": "paycore.testing._merchant",
    "fake_sign": "paycore.testing._fake",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'paycore.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
