"""Settings: each refused with a ConfigError that names it and never shows a secret."""

from __future__ import annotations

import pytest

import paycore


def _load(settings):
    return paycore.Gateway("wechatpay", settings)


def test_the_production_preset_and_the_backup_domain(settings):
    with _load({**settings, "base_url": "production"}) as gateway:
        assert gateway.provider.settings.base_url == "https://api.mch.weixin.qq.com"
    with _load({**settings, "base_url": "backup"}) as gateway:
        assert gateway.provider.settings.base_url == "https://api2.mch.weixin.qq.com"
    del settings["base_url"]
    with _load(settings) as gateway:
        assert gateway.provider.settings.base_url == "https://api.mch.weixin.qq.com"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("mchid", "19000x", "mchid"),
        ("appid", "wx", "appid"),
        ("merchant_serial_no", "not-hex", "merchant_serial_no"),
        ("apiv3_key", "too-short", "32 printable ASCII"),
        ("apiv3_key", "密" * 32, "32 printable ASCII"),
        ("private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "private_key"),
        ("platform_public_key_id", "KEY_1", "platform_public_key_id"),
        ("platform_certificates", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "certificate"),
        ("base_url", "http://api.mch.weixin.qq.com", "https"),
        ("base_url", "https://api.mch.weixin.qq.com/v3", "no path"),
    ],
)
def test_bad_settings_are_config_errors_naming_them(settings, name, value, message):
    with pytest.raises(paycore.ConfigError, match=message) as refused:
        _load({**settings, name: value})
    assert settings["apiv3_key"] not in str(refused.value)
    assert "AAAA" not in str(refused.value)


def test_one_mode_at_a_time(settings, keys):
    without_id = {name: value for name, value in settings.items() if name != "platform_public_key_id"}
    with pytest.raises(paycore.ConfigError, match="needs both"):
        _load(without_id)
    with pytest.raises(paycore.ConfigError, match="not both"):
        _load({**settings, "platform_certificates": keys.openssl_certificate(keys.platform_private, "1A2B").decode()})


def test_a_local_sandbox_may_be_plain_http(settings):
    with _load({**settings, "base_url": "http://127.0.0.1:8123"}) as gateway:
        assert gateway.provider.settings.base_url == "http://127.0.0.1:8123"


def test_no_secret_in_reprs(settings, keys):
    with _load(settings) as gateway:
        shown = (
            repr(gateway) + repr(gateway.provider.settings) + str(gateway.provider.settings) + repr(gateway.provider)
        )
    assert settings["apiv3_key"] not in shown
    assert keys.merchant_private.read_text().splitlines()[1] not in shown
