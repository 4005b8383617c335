"""epay against paycore's conformance suite, on its own sandbox over loopback HTTP."""

from __future__ import annotations

from paycore.testing.conformance import ProviderConformance


class TestEpayConformance(ProviderConformance):
    provider = "epay"
    # The protocol signs every parameter but sign and sign_type; sign_type is only read to refuse non-MD5.
    unsigned_notification_fields = frozenset({"sign_type"})
