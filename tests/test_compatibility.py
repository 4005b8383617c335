"""One version for the set; a provider built for another paycore is refused at load, naming both versions."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import paycore
from paycore._compatibility import check_compatible
from paycore._discovery import PROVIDER_GROUP

ROOT = Path(__file__).resolve().parents[1]


def _installed_distribution(site: Path, name: str, requires: str, module_body: str) -> None:
    """A distribution as pip leaves it: a dist-info folder (metadata, entry points) beside its module."""
    info = site / f"{name}-9.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 9.0.0\nRequires-Dist: {requires}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(f"[{PROVIDER_GROUP}]\n{name} = {name}_module:Provider\n", encoding="utf-8")
    (site / f"{name}_module.py").write_text(module_body, encoding="utf-8")


def test_a_provider_for_another_paycore_is_refused_before_it_is_imported(tmp_path, monkeypatch):
    # Importing it would raise: the refusal must come first, and name both versions.
    _installed_distribution(tmp_path, "oldpay", "paycore<0.1", "raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(paycore.ConfigError) as refused:
        paycore.Gateway("oldpay", {})
    message = str(refused.value)
    assert "oldpay 9.0.0" in message
    assert "paycore <0.1" in message
    assert f"paycore {paycore.__version__} is installed" in message


def test_a_requirement_of_an_extra_or_of_another_name_is_not_ours(tmp_path, monkeypatch):
    _installed_distribution(tmp_path, "extrapay", 'paycore<0.1; extra == "legacy"', "raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    check_compatible("extrapay", PROVIDER_GROUP)  # the base install asks nothing of paycore's version
    check_compatible("extrapay", PROVIDER_GROUP, installed="0.0.1")


def test_the_range_is_checked_against_the_installed_version(tmp_path, monkeypatch):
    _installed_distribution(tmp_path, "rangepay", "paycore[crypto]>=0.1,<0.2", "")
    monkeypatch.syspath_prepend(str(tmp_path))
    check_compatible("rangepay", PROVIDER_GROUP, installed="0.1.7")
    with pytest.raises(paycore.ConfigError, match=r"built for paycore <0.2,>=0.1, but paycore 0.2.0 is installed"):
        check_compatible("rangepay", PROVIDER_GROUP, installed="0.2.0")


def test_version_and_providers_show_each_distribution_and_what_is_refused(tmp_path):
    _installed_distribution(tmp_path, "oldpay", "paycore<0.1", "")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [sys.executable, "-m", "paycore.cli", "--version"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert shown.splitlines()[0] == f"paycore {paycore.__version__}"
    assert "paycore-juhe 0.1.0 (provider juhe)" in shown
    assert "oldpay 9.0.0 (provider oldpay) (built for paycore <0.1: refused)" in shown
    listed = subprocess.run(
        [sys.executable, "-m", "paycore.cli", "providers"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "oldpay       oldpay 9.0.0 (built for paycore <0.1: refused)" in listed


def _project(path: Path) -> dict[str, object]:
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    assert isinstance(project, dict)
    return project


def test_one_version_for_the_set_and_each_provider_declares_this_minor_series():
    version = Version(paycore.__version__)
    assert _project(ROOT / "pyproject.toml")["version"] == paycore.__version__
    next_minor = f"{version.major}.{version.minor + 1}.0"
    for pyproject in sorted((ROOT / "providers").glob("*/pyproject.toml")):
        project = _project(pyproject)
        assert project["version"] == paycore.__version__, pyproject
        dependencies = project["dependencies"]
        assert isinstance(dependencies, list)
        (requirement,) = [Requirement(line) for line in dependencies if Requirement(line).name == "paycore"]
        assert requirement.specifier.contains(paycore.__version__), pyproject
        assert not requirement.specifier.contains(next_minor), f"{pyproject} admits paycore {next_minor}"
