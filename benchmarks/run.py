"""Run every benchmark in this folder, each against its own baseline.

python3 .ci/dev.py bench
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in ("run.py",) or script.name.startswith("_"):
            continue
        print(f"== {script.stem}", flush=True)
        failed |= subprocess.run([sys.executable, str(script)]).returncode
    return failed


if __name__ == "__main__":
    sys.exit(main())
