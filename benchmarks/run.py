"""Run every benchmark in this folder, each against its own baseline; then every ratio against its target.

    python3 .ci/dev.py bench            # all of them
    python3 .ci/dev.py bench juhe       # those whose file name holds "juhe"

A measurement, not a test: a ratio over its target is reported, never a failure.
The exit status says only whether every benchmark ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import RESULTS_ENV  # run as a script: its own folder is on sys.path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    crashed = []
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "results.jsonl"
        env = {**os.environ, RESULTS_ENV: str(results)}
        for script in sorted(HERE.glob("*.py")):
            if script.name == "run.py" or script.name.startswith("_"):
                continue
            if argv and not any(word in script.stem for word in argv):
                continue
            print(f"== {script.stem}", flush=True)
            if subprocess.run([sys.executable, str(script)], env=env).returncode != 0:
                crashed.append(script.stem)
        rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    print("\n== every ratio against its target (paycore's cost / the hand-written baseline's; lower is better)")
    width = max((len(row["measure"]) for row in rows), default=20)
    for row in rows:
        target = row["target"]
        verdict = "" if target is None else ("within" if row["ratio"] <= target else "OVER")
        bound = "" if target is None else f"<= {target:.2f}x"
        floor = row.get("floor")
        shown_floor = "" if floor is None else f"  (floor {floor:.2f}x: the checks alone, written by hand)"
        print(f"  {row['measure']:<{width}}  {row['ratio']:6.2f}x  {bound:>9}  {verdict}{shown_floor}")
    for name in crashed:
        print(f"  {name}: the benchmark did not run to the end (see above)")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
