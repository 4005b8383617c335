"""The conformance suite a provider's tests subclass: what every paycore provider must do.

::

    # providers/acme/tests/test_conformance.py
    from paycore.testing.conformance import ProviderConformance

    class TestAcmeConformance(ProviderConformance):
        provider = "acme"                       # the entry-point name, or the class

That is all for a provider with a sandbox (the ``make_sandbox`` hook): the suite
starts it on a free port, serves a notification endpoint of its own on another,
and pays through it over real loopback HTTP. A provider without one overrides
`ProviderConformance.world` to say how to reach a gateway (an
``httpx.MockTransport``) and how to get a genuine notification.

Structural checks (hooks against the specs, settings, capabilities, secrets in
``repr``) pass before any protocol code exists; protocol checks (round trip under
`paycore.Gateway` and `paycore.AsyncGateway`, close, flows, required order fields,
tampered and malformed notifications, malformed gateway answers, secrets in errors,
their cause chains and DEBUG logs, no network beyond the configured gateway) fail
with messages saying what to fix. Each test name says what it checks; set
``unsigned_notification_fields`` to the fields your protocol leaves unsigned.
"""

from __future__ import annotations

from paycore.testing._conformance_base import ConformanceWorld
from paycore.testing._conformance_hostile import HostileAnswerChecks
from paycore.testing._conformance_round_trip import RoundTripChecks
from paycore.testing._conformance_structure import StructureChecks
from paycore.testing._conformance_tampering import TamperingChecks

__all__ = ["ConformanceWorld", "ProviderConformance"]


class ProviderConformance(StructureChecks, RoundTripChecks, TamperingChecks, HostileAnswerChecks):
    """Subclass it in a provider's tests (a ``Test*`` class) and name the provider."""
