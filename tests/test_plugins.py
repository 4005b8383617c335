"""Discovery and loading: unknown names, duplicates, bad hooks, bad settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

import paycore
from paycore import ConfigError, Gateway, ProviderError, ProviderNotFound
from paycore._discovery import installed_providers
from paycore._plugins import load_provider_class
from paycore.testing import FakeProvider


def test_unknown_provider_lists_the_installed_ones(monkeypatch):
    monkeypatch.delenv("PAYCORE_TESTING", raising=False)
    with pytest.raises(ProviderNotFound, match="no payment provider named 'nope'") as excinfo:
        Gateway("nope")
    assert excinfo.value.installed == sorted(info.name for info in installed_providers())


def test_fake_is_not_found_without_the_testing_switch(monkeypatch):
    monkeypatch.delenv("PAYCORE_TESTING", raising=False)
    with pytest.raises(ProviderNotFound, match="PAYCORE_TESTING=1"):
        load_provider_class("fake")
    assert "fake" not in [info.name for info in installed_providers()]


def test_fake_is_found_with_the_testing_switch(monkeypatch):
    monkeypatch.setenv("PAYCORE_TESTING", "1")
    assert load_provider_class("fake") is FakeProvider
    info = {i.name: i for i in installed_providers()}["fake"]
    assert (info.distribution, info.group) == ("paycore", "paycore.testing.providers")


def _fake_distribution(site: Path, dist: str, entry: str) -> None:
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[paycore.providers]\n{entry}\n")


def _run_in(site: Path, tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_duplicate_provider_names_are_a_config_error(tmp_path):
    site = tmp_path / "site"
    (site / "dupe_one.py").parent.mkdir(parents=True)
    (site / "dupe_one.py").write_text("from paycore.testing import FakeProvider as P\n")
    (site / "dupe_two.py").write_text("from paycore.testing import FakeProvider as P\n")
    _fake_distribution(site, "dupe_one", "dupe = dupe_one:P")
    _fake_distribution(site, "dupe_two", "dupe = dupe_two:P")
    code = textwrap.dedent(
        """
        import paycore
        try:
            paycore.Gateway("dupe")
        except paycore.ConfigError as exc:
            print(type(exc).__name__, exc)
        """
    )
    result = _run_in(site, tmp_path, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ConfigError more than one installed distribution provides"), result.stdout


def test_provider_that_fails_to_import_is_provider_error(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "broken_provider.py").write_text("import a_module_that_does_not_exist\n")
    _fake_distribution(site, "broken", "broken = broken_provider:P")
    code = "import paycore\ntry:\n    paycore.Gateway('broken')\nexcept paycore.ProviderError as exc:\n    print(exc)\n"
    result = _run_in(site, tmp_path, code)
    assert "provider 'broken' (broken_provider:P) failed to import" in result.stdout, result.stderr


def test_entry_point_to_a_non_provider_is_provider_error(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "not_provider.py").write_text("class P:\n    pass\n")
    _fake_distribution(site, "notprov", "notprov = not_provider:P")
    code = (
        "import paycore\ntry:\n    paycore.Gateway('notprov')\nexcept paycore.ProviderError as exc:\n    print(exc)\n"
    )
    result = _run_in(site, tmp_path, code)
    assert "does not name a paycore.Provider subclass" in result.stdout, result.stderr


class _MissingQuery(paycore.Provider[paycore.testing.FakeSettings]):
    settings_model = paycore.testing.FakeSettings
    provider_name = "missing-query"

    @paycore.hookimpl
    def create_payment(self, order, flow):  # type: ignore[no-untyped-def]
        yield from ()

    @paycore.hookimpl
    def verify_notification(self, request):  # type: ignore[no-untyped-def]
        return None


def test_missing_required_hook_fails_at_load_time():
    with pytest.raises(ProviderError, match="lacks required hooks: query_payment"):
        Gateway(_MissingQuery)


class _MisspeltHook(FakeProvider):
    provider_name = "misspelt"

    @paycore.hookimpl
    def query_paymnet(self, order_id: str) -> None:
        return None


def test_misspelt_hook_fails_at_load_time():
    with pytest.raises(ProviderError, match="query_paymnet"):
        Gateway(_MisspeltHook)


class _WrongArgument(FakeProvider):
    provider_name = "wrong-arg"

    @paycore.hookimpl
    def verify_notification(self, payload: bytes | Mapping[str, str]) -> paycore.Notification:  # type: ignore[override]
        raise NotImplementedError


def test_hook_with_an_unknown_argument_fails_at_load_time():
    with pytest.raises(ProviderError, match="payload"):
        Gateway(_WrongArgument)


def test_non_provider_class_is_refused():
    with pytest.raises(ProviderError, match="Provider subclass"):
        Gateway(dict)  # type: ignore[arg-type]


def test_bad_settings_are_config_error_without_the_secret():
    secret = "do-not-echo-this-secret"
    with pytest.raises(ConfigError) as excinfo:
        Gateway(FakeProvider, {"secret_key": secret, "merchant_id": ["not", "a", "string"], "colour": secret})
    message = str(excinfo.value)
    assert "merchant_id" in message
    assert "colour" in message
    assert secret not in message
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__context__ is None  # not merely hidden: pydantic's error holds every setting


def test_capabilities_are_read_off_the_hooks():
    capabilities = FakeProvider.capabilities()
    assert {op.value for op in capabilities.operations} == {
        "create",
        "query",
        "verify",
        "explain",
        "refund",
        "refund_query",
        "close",
        "failure_reply",
        "return",
        "route",
    }
    assert capabilities.create_flows == frozenset(paycore.CreateFlow)
