#!/usr/bin/env bash
# Sets up everything the tests need (a virtual environment, the packages, GNU Go) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
# torch==2.13.0 is a CPU build on a CPU-only machine; a GPU user installs their CUDA build of torch first.
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0 -e '.[test,lm,ray,bench]'
bash scripts/install_gnugo.sh
exec .venv/bin/python -m pytest -q -n 2 --dist loadgroup --durations=15 "$@"
