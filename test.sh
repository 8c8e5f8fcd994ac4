#!/usr/bin/env bash
# The tests: lint, types, unit tests and fakevirt's fidelity tests, through tox.
#   ./test.sh              every default tox environment
#   ./test.sh -e unit      one environment (anything after is passed to tox)
set -euo pipefail
cd "$(dirname "$0")"

tools/system-deps.sh test
if [ ! -x .venv-tox/bin/tox ]; then
  python3 -m venv .venv-tox
  .venv-tox/bin/pip install -q --upgrade pip
  .venv-tox/bin/pip install -q "tox>=4"
fi
exec .venv-tox/bin/tox "$@"
