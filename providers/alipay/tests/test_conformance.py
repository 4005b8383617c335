"""alipay against paycore's conformance suite, on its own sandbox (generated RSA keys) over loopback HTTP."""

from __future__ import annotations

from paycore.testing.conformance import ProviderConformance


class TestAlipayConformance(ProviderConformance):
    provider = "alipay"
    # Alipay signs every notification parameter but sign and sign_type; sign_type is read only to refuse non-RSA2.
    unsigned_notification_fields = frozenset({"sign_type"})
