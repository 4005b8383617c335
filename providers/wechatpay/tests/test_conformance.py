"""wechatpay against paycore's conformance suite, on its own sandbox over loopback HTTP, in both modes."""

from __future__ import annotations

from types import MappingProxyType

from paycore.testing.conformance import ProviderConformance

# Every header the platform signs or the provider checks: each is changed, dropped and given twice by the suite.
_SIGNED_HEADERS = frozenset(
    {"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Signature-Type"}
)


class TestWechatpayConformance(ProviderConformance):
    """Public-key mode: the platform signs with a public key named ``PUB_KEY_ID_...``."""

    provider = "wechatpay"
    signed_notification_headers = _SIGNED_HEADERS
    notification_max_age = 300


class TestWechatpayCertificateConformance(ProviderConformance):
    """Certificate mode: platform certificates fetched from ``GET /v3/certificates`` and opened with the APIv3 key."""

    provider = "wechatpay"
    signed_notification_headers = _SIGNED_HEADERS
    notification_max_age = 300
    sandbox_options = MappingProxyType({"certificates": True})
