#!/usr/bin/env bash
# The distributions as users get them: build every sdist and wheel, check their
# metadata (twine check --strict), install the WHEELS (not this tree) into fresh
# virtual environments, and there run `paycore demo --provider NAME` for every
# provider and the example shop's tests — once with the newest releases of
# paycore's dependencies, once with the lowest each range admits.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

distributions=(. providers/juhe providers/epay providers/alipay providers/wechatpay)
# The lowest release of each direct dependency that paycore's ranges admit (pyproject.toml).
lowest=("httpx==0.27.0" "pydantic==2.7.0" "pluggy==1.5.0" "stevedore==5.6.0" "packaging==23.0")

echo "-- build and check"
python3 -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --upgrade pip build twine
for distribution in "${distributions[@]}"; do
  "$work/tools/bin/python" -m build --quiet --outdir "$work/dist" "$distribution" >/dev/null
done
ls "$work/dist"
"$work/tools/bin/twine" check --strict "$work"/dist/*

# The shop's suite and what it stands on, outside this tree: `import paycore` can only find the wheel.
mkdir -p "$work/suite/tests" "$work/suite/examples"
cp tests/conftest.py tests/browser.py tests/servers.py tests/store_fixtures.py "$work/suite/tests/"
cp -r tests/shop "$work/suite/tests/shop"
cp examples/__init__.py "$work/suite/examples/"
cp -r examples/shop "$work/suite/examples/shop"
printf '[pytest]\naddopts = --import-mode=importlib -ra -p no:cacheprovider\nfilterwarnings = error\n' \
  > "$work/suite/pytest.ini"

wheel() { ls "$work"/dist/"$1"-*.whl; }

check_environment() {
  local name=$1; shift
  echo "-- $name: the wheels installed in a fresh virtual environment $*"
  local venv="$work/venv-$name"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "$@" \
    "$(wheel paycore)[redis,postgres]" "$(wheel paycore_juhe)[sandbox]" \
    "$(wheel paycore_epay)" "$(wheel paycore_alipay)" "$(wheel paycore_wechatpay)" \
    pytest playwright hypothesis starlette segno
  "$venv/bin/python" -m pip list --format=freeze | grep -iE '^(paycore|httpx|pydantic|pluggy|stevedore|packaging)'
  (
    cd "$work/suite"
    "$venv/bin/python" -c 'import paycore, sys; assert "site-packages" in paycore.__file__, paycore.__file__'
    "$venv/bin/paycore" --version
    for provider in juhe epay alipay wechatpay; do
      "$venv/bin/paycore" demo --provider "$provider" | tail -1
    done
    "$venv/bin/python" -m pytest -q tests/shop
  )
}

check_environment newest
check_environment lowest "${lowest[@]}"
echo "-- the wheels pass in both"
