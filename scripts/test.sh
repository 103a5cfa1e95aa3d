#!/usr/bin/env bash
# The whole test suite: unit, integration (sandbox over HTTP, Postgres), end-to-end (real Airflow).
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/unit -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
