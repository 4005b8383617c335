"""The merchant script in examples/ runs unchanged against two accounts: only ``default`` changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "merchant.py"


def test_same_script_two_accounts(tmp_path, make_sandbox):
    shanghai = make_sandbox(merchant_id="10001", secret_key="key-one")
    shenzhen = make_sandbox(merchant_id="88001", secret_key="key-two")
    config = tmp_path / "paycore.toml"

    def write(default: str) -> None:
        config.write_text(
            f'default = "{default}"\n'
            f'[accounts.main]\nprovider = "juhe"\nbase_url = "{shanghai.url}"\nmerchant_id = "10001"\n'
            f'[accounts.backup]\nprovider = "juhe"\nbase_url = "{shenzhen.url}"\nmerchant_id = "88001"\n'
        )

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCORE_")}
    env.update(PAYCORE_CONFIG=str(config), PAYCORE_MAIN_SECRET_KEY="key-one", PAYCORE_BACKUP_SECRET_KEY="key-two")

    def run() -> str:
        result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    write("main")
    first = run()
    write("backup")
    second = run()

    assert first.startswith(f"main (juhe): pay 9.90 at {shanghai.url}/cashier/")
    assert second.startswith(f"backup (juhe): pay 9.90 at {shenzhen.url}/cashier/")
    assert "status: pending" in first
    assert "status: pending" in second
    assert [o.merchant_id for o in shanghai.orders()] == ["10001"]
    assert [o.merchant_id for o in shenzhen.orders()] == ["88001"]
    assert "key-one" not in first + second
