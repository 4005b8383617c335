"""``paycore new-provider``: what it generates installs, type-checks, and its tests run at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paycore import InvalidRequest
from paycore._scaffold import default_target, new_provider
from paycore.cli import main

PYTHON = sys.executable


def _run(*command: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_a_new_provider_installs_and_its_conformance_tests_say_what_to_write(tmp_path, capsys):
    """Its own repository: structural checks pass at once, protocol checks fail naming the hook to write."""
    assert main(["new-provider", "acme_pay", "--path", str(tmp_path / "acme")]) == 0
    assert "created the 'acme_pay' provider" in capsys.readouterr().out
    site = tmp_path / "site"
    # Installed as a user would (the entry point must be found); hatchling comes from the test environment.
    installed = _run(
        PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(site),
        str(tmp_path / "acme"), cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    tests = _run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", "tests", cwd=tmp_path / "acme", env=env)
    output = tests.stdout
    assert tests.returncode == 1, output
    for structural in (
        "test_hooks_match_the_specs",
        "test_settings_model_refuses_unknown_settings_and_keeps_secrets_secret",
        "test_capabilities_are_declared",
        "test_repr_holds_no_secret",
        "test_bad_settings_are_config_errors",
        "test_empty_secrets_are_refused",
        "test_required_order_fields_and_channels_refused_before_sending",
    ):
        assert f"PASSED tests/test_conformance.py::TestAcmePayConformance::{structural}" in output
    assert "FAILED tests/test_conformance.py::TestAcmePayConformance::test_create_pay_verify_query[Gateway]" in output
    assert "acme_pay: create_payment is not written yet" in output
    assert "acme_pay: verify_notification is not written yet" in output
    assert "acme_pay: query_payment is not written yet" in output
    typed = _run(PYTHON, "-m", "mypy", "--strict", "src", cwd=tmp_path / "acme", env=env)
    assert typed.returncode == 0, typed.stdout


def test_in_a_paycore_checkout_it_joins_providers_and_the_docs(tmp_path, monkeypatch, capsys):
    (tmp_path / "providers").mkdir()
    (tmp_path / "docs" / "providers").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert default_target("acme", tmp_path) == tmp_path / "providers" / "acme"
    assert main(["new-provider", "acme"]) == 0
    assert (tmp_path / "providers" / "acme" / "src" / "paycore_acme" / "provider.py").is_file()
    assert (tmp_path / "docs" / "providers" / "acme.md").read_text().startswith("# acme")
    pyproject = (tmp_path / "providers" / "acme" / "pyproject.toml").read_text()
    assert 'acme = "paycore_acme:AcmeProvider"' in pyproject
    assert default_target("acme", tmp_path / "providers") == tmp_path / "providers" / "paycore-acme"
    capsys.readouterr()


@pytest.mark.parametrize("name", ["", "A", "acme-pay", "1pay", "a", "x" * 40, "acme/../x", "\uff41cme", "acme\n"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(InvalidRequest, match="provider name"):
        new_provider(name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "keep.txt").write_text("mine")
    assert main(["new-provider", "acme", "--path", str(tmp_path / "acme")]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert sorted(path.name for path in (tmp_path / "acme").iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("name", ["juhe", "epay", "fake"])
def test_a_name_in_use_is_refused(tmp_path, name):
    with pytest.raises(InvalidRequest, match="exists already"):
        new_provider(name, tmp_path / name)
    assert not (tmp_path / name).exists()


def test_in_a_checkout_the_page_joins_the_nav(tmp_path, monkeypatch, capsys):
    (tmp_path / "providers").mkdir()
    (tmp_path / "docs" / "providers").mkdir(parents=True)
    site = tmp_path / "docs" / "mkdocs.yml"
    site.write_text(
        "nav:\n  - Home: index.md\n  - Providers:\n      - juhe (聚合支付): providers/juhe.md\n  - API: api.md\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["new-provider", "acme"]) == 0
    assert site.read_text() == (
        "nav:\n  - Home: index.md\n  - Providers:\n      - juhe (聚合支付): providers/juhe.md\n"
        "      - acme: providers/acme.md\n  - API: api.md\n"
    )
    assert str(site) in capsys.readouterr().out
