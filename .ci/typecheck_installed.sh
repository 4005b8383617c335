#!/usr/bin/env bash
# Type-check a small application, a small provider and every provider's public
# names against paycore and each provider installed from their wheels, in a fresh
# venv and a folder outside this tree: what a user's mypy --strict sees (py.typed
# markers, exported names).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
providers=(providers/juhe providers/epay providers/alipay providers/wechatpay)
"$work/venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" . "${providers[@]}"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/*.whl mypy
cp tests/typing/app.py tests/typing/provider.py tests/typing/providers.py "$work/"
cd "$work"
venv/bin/python - <<'PY'
import pathlib
import paycore, paycore_alipay, paycore_epay, paycore_juhe, paycore_wechatpay
for module in (paycore, paycore_juhe, paycore_epay, paycore_alipay, paycore_wechatpay):
    assert "site-packages" in module.__file__, module.__file__
    marker = pathlib.Path(module.__file__).with_name("py.typed")
    assert marker.exists(), f"no py.typed in the {module.__name__} wheel"
    print("marker:", marker)
PY
venv/bin/mypy --strict --no-incremental app.py provider.py providers.py
