"""Cold start: ``paycore providers`` and ``Gateway.from_config`` vs importing httpx and pydantic.

    python benchmarks/cold_start.py [--runs 30]

Each command is a fresh interpreter; runs are interleaved so that machine noise
falls on all of them alike. Reported: the median wall time of each and its ratio
to the baseline ``python -c "import httpx, pydantic"``. Target: at most 1.5x.

A reference line shows what defining and validating one small pydantic model adds
to the baseline (``import pydantic`` alone loads almost nothing): a floor for any
code that validates settings with pydantic, as ``Gateway.from_config`` must.
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

CONFIG = """
default = "main"
[accounts.main]
provider = "juhe"
base_url = "http://127.0.0.1:9"
merchant_id = "10002"
secret_key = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
"""


_ONE_MODEL = """
import httpx, pydantic
class Settings(pydantic.BaseModel):
    merchant_id: str = pydantic.Field(min_length=1)
    secret_key: pydantic.SecretStr
Settings(merchant_id="10002", secret_key="k")
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
        commands = {
            "baseline: import httpx, pydantic": [python, "-c", "import httpx, pydantic"],
            # Context, not a target: the least any pydantic-validated settings model costs.
            "reference: + one pydantic model": [python, "-c", _ONE_MODEL],
            "paycore providers": [paycore_cli, "providers"],
            "Gateway.from_config()": [python, "-c", "import paycore; paycore.Gateway.from_config().close()"],
        }
        for command in commands.values():  # warm the OS caches and pyc files once
            _time(command, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(_time(command, env))
    baseline = statistics.median(samples["baseline: import httpx, pydantic"])
    print(f"cold start, median of {args.runs} fresh interpreters")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<36} {median * 1000:7.1f} ms   {median / baseline:4.2f}x baseline")


if __name__ == "__main__":
    main()
