"""Test doubles for applications and for paycore itself.

`FakeProvider` talks to `FakeGateway`, an in-memory gateway used
as an ``httpx.MockTransport`` handler. Tests select the fake by passing the class
to a gateway; a configuration can name it (``provider = "fake"``) only when the
environment sets ``PAYCORE_TESTING=1``, so production cannot reach it by accident.

`LoopbackServer` serves any such handler over a real socket on 127.0.0.1,
for tests that cross a process boundary.
"""

from paycore.testing._fake import FakeGateway, FakeProvider, FakeSettings, fake_sign
from paycore.testing._server import LoopbackServer

__all__ = ["FakeGateway", "FakeProvider", "FakeSettings", "LoopbackServer", "fake_sign"]
