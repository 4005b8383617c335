#!/usr/bin/env bash
# Type-check a small application and a small provider against paycore and
# paycore-juhe installed from their wheels, in a fresh venv and a folder outside
# this tree: what a user's mypy --strict sees (py.typed markers, exported names).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" . providers/juhe
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/*.whl mypy
cp tests/typing/app.py tests/typing/provider.py "$work/"
cd "$work"
venv/bin/python -c 'import paycore, paycore_juhe, pathlib; assert "site-packages" in paycore.__file__, paycore.__file__; [print("marker:", pathlib.Path(m.__file__).with_name("py.typed")) for m in (paycore, paycore_juhe) if pathlib.Path(m.__file__).with_name("py.typed").exists()]'
venv/bin/mypy --strict --no-incremental app.py provider.py
