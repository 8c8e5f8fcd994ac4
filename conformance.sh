#!/usr/bin/env bash
# The main job: install into .venv, run the conformance suite on the embedded default
# cloud (fakevirt, in-memory bus, SQLite) and write reports/conformance.html.
#   ./conformance.sh                     the whole suite, 2 workers
#   ./conformance.sh -k resize           anything after is passed to `testbed conformance`
set -euo pipefail
cd "$(dirname "$0")"

tools/system-deps.sh base
if [ ! -x .venv/bin/testbed ] || [ pyproject.toml -nt .venv/.installed ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e .
  touch .venv/.installed
fi
exec .venv/bin/testbed conformance --backend fake -n 2 \
  --html reports/conformance.html --junit reports/conformance.xml "$@"
