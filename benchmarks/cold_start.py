"""Cold start: ``Gateway.from_config`` vs the hand-written equivalent, and ``paycore providers``.

    python benchmarks/cold_start.py [--runs 30]

Each command is a fresh interpreter; runs are interleaved so that machine noise
falls on all of them alike. Reported: the median wall time of each and its ratio
to its baseline.

- ``Gateway.from_config()`` against the hand-written equivalent: a script that
  imports httpx and pydantic, reads the same TOML, validates the same settings
  with a pydantic model of its own and builds an ``httpx.Client``. Target: at
  most 1.1x. paycore builds its client on first use; the line with
  ``.http_client`` does the same work as the hand-written script.
- ``paycore providers`` against ``import httpx, pydantic``. Target: at most 1.5x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import record  # the benchmarks folder is not a package

CONFIG = """
default = "main"
[accounts.main]
provider = "juhe"
base_url = "http://127.0.0.1:9"
merchant_id = "10002"
secret_key = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
"""


_HAND_WRITTEN = """
import os, tomllib, zoneinfo
import httpx, pydantic

class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")
    base_url: str
    merchant_id: str = pydantic.Field(min_length=1, max_length=64)
    secret_key: pydantic.SecretStr
    create_path: str = "/Pay_Index.html"
    query_path: str = "/Pay_Trade_query.html"
    channels: dict[str, str] = {}
    timezone: str = "Asia/Shanghai"
    ack: str = "OK"

    @pydantic.field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zoneinfo.ZoneInfo(value)
        return value

with open(os.environ["PAYCORE_CONFIG"], "rb") as handle:
    table = dict(tomllib.load(handle)["accounts"]["main"])
table.pop("provider")
settings = Settings.model_validate(table)
httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0)).close()
"""


def _time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    python = sys.executable
    paycore_cli = str(Path(python).with_name("paycore"))
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "paycore.toml"
        config.write_text(CONFIG)
        env = dict(os.environ, PAYCORE_CONFIG=str(config))
        # A deployed application runs from compiled bytecode (pip compiles a wheel as it installs it). With
        # PYTHONDONTWRITEBYTECODE set, every module edited since its .pyc was written would be compiled again
        # in each interpreter: paycore's own modules would pay for it, the baseline's never.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        commands = {
            "imports: import httpx, pydantic": [python, "-c", "import httpx, pydantic"],
            "hand-written: TOML + model + Client": [python, "-c", _HAND_WRITTEN],
            "paycore providers": [paycore_cli, "providers"],
            "Gateway.from_config()": [python, "-c", "import paycore; paycore.Gateway.from_config().close()"],
            "Gateway.from_config().http_client": [
                python,
                "-c",
                "import paycore; g = paycore.Gateway.from_config(); g.http_client; g.close()",
            ],
        }
        for command in commands.values():  # warm the OS caches and pyc files once
            _time(command, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(_time(command, env))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    imports = medians["imports: import httpx, pydantic"]
    hand = medians["hand-written: TOML + model + Client"]
    print(f"cold start, median of {args.runs} fresh interpreters")
    for name, median in medians.items():
        print(f"  {name:<38} {median * 1000:7.1f} ms")
    print(f"  paycore providers / imports                 {medians['paycore providers'] / imports:4.2f}x (target 1.5x)")
    record("cold start: paycore providers", medians["paycore providers"] / imports, 1.5, "import httpx, pydantic")
    for name in ("Gateway.from_config()", "Gateway.from_config().http_client"):
        print(f"  {name} / hand-written {' ' * (30 - len(name))}{medians[name] / hand:4.2f}x (target 1.1x)")
        record(f"cold start: {name}", medians[name] / hand, 1.1, "TOML + a pydantic model + httpx.Client")


if __name__ == "__main__":
    main()
