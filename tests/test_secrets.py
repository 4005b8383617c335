"""No secret anywhere: reprs, exception chains, URLs with credentials, logs at DEBUG."""

from __future__ import annotations

from pathlib import Path

import pytest

import paycore
from paycore import load_config

SECRET = "s3cr3t-key-that-must-never-show"


def _every_text(value: object) -> str:
    return f"{value!r}\n{value!s}"


def test_config_repr_and_str_never_show_a_setting_value(tmp_path: Path):
    path = tmp_path / "paycore.toml"
    path.write_text(f'[accounts.main]\nprovider = "juhe"\nsecret_key = "{SECRET}"\nmerchant_id = "10001"\n')
    config = load_config(path, environ={"PAYCORE_MAIN_TOKEN": SECRET})
    assert SECRET not in _every_text(config)
    assert "main" in repr(config)
    assert SECRET not in _every_text(config.account())
