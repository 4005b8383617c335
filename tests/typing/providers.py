"""Every provider's public names, type-checked by CI against the installed wheels (not this tree).

Without each distribution's py.typed marker, mypy --strict stops at the import or
lets the names be Any; assert_type makes sure it does neither.
"""

from __future__ import annotations

from typing import assert_type

from paycore_alipay import GATEWAYS, AlipayProvider, AlipaySettings
from paycore_alipay.sandbox import AlipaySandbox
from paycore_epay import EpayProvider, EpaySettings
from paycore_epay.sandbox import EpaySandbox
from paycore_juhe import JuheProvider, JuheSettings
from paycore_wechatpay import BASE_URLS, WechatpayProvider, WechatpaySettings
from paycore_wechatpay.sandbox import WechatpaySandbox

import paycore
from paycore.sandbox import SandboxOptions


def settings_models() -> list[type[paycore.ProviderSettings]]:
    return [JuheSettings, EpaySettings, AlipaySettings, WechatpaySettings]


def providers() -> list[type[paycore.Provider[JuheSettings]] | type[paycore.Provider[WechatpaySettings]]]:
    return [JuheProvider, WechatpayProvider]


def others() -> tuple[type[EpayProvider], type[AlipayProvider]]:
    return EpayProvider, AlipayProvider


def wechatpay_account(sandbox: WechatpaySandbox) -> WechatpaySettings:
    settings = WechatpaySettings.model_validate(sandbox.account_settings())
    assert_type(settings.mchid, str)
    assert_type(settings.certificate_mode, bool)
    return settings


def sandboxes(options: SandboxOptions) -> tuple[AlipaySandbox, EpaySandbox, WechatpaySandbox]:
    return AlipaySandbox(options), EpaySandbox(options), WechatpaySandbox(options, certificates=True)


def presets() -> tuple[str, str]:
    return GATEWAYS["production"], BASE_URLS["production"]
