"""juhe passes paycore's conformance suite, on its own sandbox over loopback HTTP."""

from __future__ import annotations

from paycore.testing.conformance import ProviderConformance


class TestJuheConformance(ProviderConformance):
    provider = "juhe"
    # The reference software appends attach after the sign, unsigned (see the provider's docs).
    unsigned_notification_fields = frozenset({"attach"})
