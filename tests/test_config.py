"""Configuration: file, environment overrides, account switching."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from paycore import AsyncGateway, ConfigError, Gateway, load_config
from paycore.testing import FakeGateway

CONFIG = """
default = "main"

[accounts.main]
provider = "fake"
merchant_id = "m-main"
secret_key = "main-secret"

[accounts.backup]
provider = "fake"
merchant_id = "m-backup"
secret_key = "backup-secret"
timeout = 2.5

[accounts.main_eu]
provider = "fake"
merchant_id = "m-eu"
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAYCORE_TESTING", "1")
    for name in ("PAYCORE_CONFIG", "PAYCORE_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "paycore.toml"
    path.write_text(CONFIG)
    return path


def test_default_account(config_file):
    account = load_config(config_file, environ={}).account()
    assert (account.name, account.provider) == ("main", "fake")
    assert account.settings == {"merchant_id": "m-main", "secret_key": "main-secret"}
    assert account.timeout is None


def test_named_account_and_timeout(config_file):
    account = load_config(config_file, environ={}).account("backup")
    assert account.settings["merchant_id"] == "m-backup"
    assert account.timeout == 2.5


def test_paycore_account_env_switches_account(config_file):
    assert load_config(config_file, environ={"PAYCORE_ACCOUNT": "backup"}).account().name == "backup"


def test_environment_overrides_a_setting(config_file):
    env = {"PAYCORE_MAIN_SECRET_KEY": "from-env", "PAYCORE_MAIN_EU_MERCHANT_ID": "eu-env"}
    config = load_config(config_file, environ=env)
    assert config.account("main").settings["secret_key"] == "from-env"
    # PAYCORE_MAIN_EU_* belongs to main_eu, never to main as a setting "eu_merchant_id"
    assert "eu_merchant_id" not in config.account("main").settings
    assert config.account("main_eu").settings["merchant_id"] == "eu-env"


def test_environment_json_values(config_file):
    env = {"PAYCORE_MAIN_CHANNELS": '{"alipay_qr": "903"}'}
    assert load_config(config_file, environ=env).account().settings["channels"] == {"alipay_qr": "903"}
    with pytest.raises(ConfigError, match="JSON"):
        load_config(config_file, environ={"PAYCORE_MAIN_CHANNELS": "{broken"}).account()


def test_account_from_environment_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./paycore.toml here
    env = {"PAYCORE_SHOP_PROVIDER": "fake", "PAYCORE_SHOP_MERCHANT_ID": "m-env"}
    config = load_config(environ=env)
    assert config.path is None
    assert config.account_names() == ["shop"]
    account = config.account()
    assert (account.name, account.provider, dict(account.settings)) == ("shop", "fake", {"merchant_id": "m-env"})


def test_config_path_from_environment(config_file):
    config = load_config(environ={"PAYCORE_CONFIG": str(config_file)})
    assert config.path == config_file


def test_unknown_account_lists_the_configured_ones(config_file):
    with pytest.raises(ConfigError, match=r"no account named 'nope' \(configured: backup, main, main_eu\)"):
        load_config(config_file, environ={}).account("nope")


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", environ={})


def test_invalid_toml_is_an_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("default = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('default = "x"\n[accounts.main]\nprovider = "fake"\n', "default account 'x'"),
        ("colour = 1\n", "unknown top-level keys: colour"),
        ("accounts = 3\n", "must be tables"),
        ('[accounts.main]\nmerchant_id = "1"\n', "names no provider"),
        ('[accounts.main]\nprovider = "fake"\ntimeout = "soon"\n', "timeout must be a number"),
        ('[accounts.main]\nprovider = "fake"\ntimeout = -1\n', "timeout must be more than 0"),
        ('[accounts.main]\nprovider = "fake"\ntimeout = nan\n', "timeout must be more than 0"),
        ('[accounts.main]\nprovider = "fake"\ntimeout = inf\n', "timeout must be more than 0"),
        ('[accounts.main]\nprovider = "fake"\ntimeout = 1e300\n', "at most 600 seconds"),
        ('[accounts.main]\nprovider = "fake"\ntimeout = true\n', "timeout must be a number"),
        ('[accounts.main]\nprovider = "fake"\ndeadline = 0\n', "deadline must be more than 0"),
        ('[accounts.main]\nprovider = "fake"\ndeadline = "x"\n', "deadline must be a number"),
        ('[accounts.a]\nprovider = "fake"\n[accounts.b]\nprovider = "fake"\n', "several accounts"),
    ],
)
def test_invalid_configurations(tmp_path, text, message):
    path = tmp_path / "paycore.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={}).account()


def test_the_only_account_needs_no_default(tmp_path):
    path = tmp_path / "paycore.toml"
    path.write_text('[accounts.solo]\nprovider = "fake"\n')
    assert load_config(path, environ={}).account().name == "solo"


def test_repr_never_shows_setting_values(config_file):
    account = load_config(config_file, environ={}).account()
    assert "main-secret" not in repr(account)
    assert "secret_key" in repr(account)


def _script(gateway: Gateway) -> tuple[str, str]:
    """The merchant's code: identical for every account."""
    return gateway.account, gateway.provider.settings.merchant_id


def test_switching_accounts_changes_no_code(config_file, monkeypatch):
    fake = FakeGateway()
    monkeypatch.setenv("PAYCORE_CONFIG", str(config_file))
    with Gateway.from_config(transport=httpx.MockTransport(fake)) as gateway:
        assert _script(gateway) == ("main", "m-main")
    config_file.write_text(CONFIG.replace('default = "main"', 'default = "backup"'))
    with Gateway.from_config(transport=httpx.MockTransport(fake)) as gateway:
        assert _script(gateway) == ("backup", "m-backup")
        assert gateway.http_client.timeout.read == 2.5


@pytest.mark.anyio
async def test_async_from_config(config_file):
    async with AsyncGateway.from_config("backup", str(config_file)) as gateway:
        assert gateway.account == "backup"


def test_account_name_must_be_a_string(config_file):
    with pytest.raises(ConfigError, match="string"):
        load_config(config_file, environ={}).account(42)  # type: ignore[arg-type]


def test_from_config_takes_a_path_object(config_file):
    with Gateway.from_config("main", config_file) as gateway:
        assert gateway.account == "main"


def test_environment_only_accounts_sharing_a_prefix_stay_apart(tmp_path):
    environ = {
        "PAYCORE_TESTING": "1",
        "PAYCORE_MAIN_PROVIDER": "fake",
        "PAYCORE_MAIN_MERCHANT_ID": "m-main",
        "PAYCORE_MAIN_EU_PROVIDER": "fake",
        "PAYCORE_MAIN_EU_MERCHANT_ID": "m-eu",
    }
    config = load_config(environ=environ)
    assert config.account_names() == ["main", "main_eu"]
    main = config.account("main")
    assert main.settings == {"merchant_id": "m-main"}
    eu = config.account("main_eu")
    assert eu.settings == {"merchant_id": "m-eu"}


def test_a_number_too_long_to_read_is_a_config_error(tmp_path):
    # Python refuses to turn 4,300 digits or more into an int (a ValueError that is no TOMLDecodeError).
    path = tmp_path / "paycore.toml"
    path.write_text(f'[accounts.main]\nprovider = "fake"\ntimeout = {"9" * 4400}\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_a_path_that_is_not_text_the_system_takes_is_a_config_error():
    with pytest.raises(ConfigError, match="configuration path"):
        load_config("\ud800")
    # An undecodable byte from the environment (os.fsdecode's \udcff) names a file like any other.
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(environ={"PAYCORE_CONFIG": "paycore-\udcff.toml"})


def test_a_configuration_path_naming_no_regular_file_is_refused_without_reading_it(tmp_path):
    for path in ("/dev/zero", str(tmp_path)):
        with pytest.raises(ConfigError, match="not a regular file"):
            load_config(path)
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"# " + b"x" * 2_000_000 + b"\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(huge)
