#!/usr/bin/env python3
"""Set up the workspace in a virtual environment and run one job in it.

    python3 .ci/dev.py demo     # the demo round trip on the embedded sandbox
    python3 .ci/dev.py test     # the whole test suite
    python3 .ci/dev.py lint     # ruff check, ruff format --check, mypy --strict
    python3 .ci/dev.py docs     # mkdocs build --strict
    python3 .ci/dev.py bench    # the benchmarks, with their baselines
    python3 .ci/dev.py shop     # the example shop on a sandbox, to click through (--provider NAME)

Needs only Python 3.11+ with pip and venv. The environment lives in ./.venv
(or $PAYCORE_VENV) and is reinstalled whenever a pyproject.toml changes.
Extra arguments go to the job's command (pytest, paycore demo, ...).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("PAYCORE_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".paycore-installed"


def _providers() -> list[Path]:
    return sorted(path.parent for path in (ROOT / "providers").glob("*/pyproject.toml"))


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [ROOT / "pyproject.toml", *(p / "pyproject.toml" for p in _providers())]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(*command: str | Path) -> None:
    subprocess.run([str(part) for part in command], cwd=ROOT, check=True)


def ensure_environment() -> None:
    """Create the virtual environment and install the workspace, once per change."""
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing paycore and its providers (editable) with the dev tools", flush=True)
    # pip >= 25.1 reads [dependency-groups] (PEP 735).
    _run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip>=25.1")
    editable = ["-e", "."]
    for provider in _providers():
        # Every extra a provider declares (a sandbox, say): the tests cover them all.
        project = tomllib.loads((provider / "pyproject.toml").read_text()).get("project", {})
        extras = ",".join(sorted(project.get("optional-dependencies", {})))
        editable += ["-e", f"{provider.relative_to(ROOT)}[{extras}]" if extras else str(provider.relative_to(ROOT))]
    _run(PYTHON, "-m", "pip", "install", "--quiet", *editable, "--group", "dev")
    STAMP.write_text(_fingerprint())


JOBS: dict[str, list[list[str]]] = {
    "demo": [["paycore", "demo"]],
    "test": [["python", "-m", "pytest"]],
    "lint": [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "--strict"],
    ],
    "docs": [["mkdocs", "build", "--strict", "--config-file", "docs/mkdocs.yml", "--site-dir", str(VENV / "site")]],
    "bench": [["python", "benchmarks/run.py"]],
    "shop": [["python", "-m", "examples.shop"]],
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in JOBS:
        print(__doc__, file=sys.stderr)
        return 2
    job, extra = argv[0], argv[1:]
    ensure_environment()
    env = dict(
        os.environ,
        VIRTUAL_ENV=str(VENV),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        NO_MKDOCS_2_WARNING="1",  # a banner about a future release, printed on every build
    )
    commands = JOBS[job]
    for index, command in enumerate(commands):
        # Extra arguments belong to the job's last command.
        full = [str(BIN / command[0]), *command[1:], *(extra if index == len(commands) - 1 else [])]
        print("+ " + " ".join(full[:1] + full[1:]), flush=True)
        code = subprocess.run(full, cwd=ROOT, env=env).returncode  # our own tool chain
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
