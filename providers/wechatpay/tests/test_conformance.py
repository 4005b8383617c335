"""wechatpay against paycore's conformance suite, on its own sandbox over loopback HTTP.

Add your protocol's own tests beside it: known signing vectors cross-checked with
an independent computation, every answer branch under both gateways
(``paycore_any_gateway`` with an httpx handler), and the forgeries your signed
string allows.
"""

from __future__ import annotations

from paycore.testing.conformance import ProviderConformance


class TestWechatpayConformance(ProviderConformance):
    provider = "wechatpay"
