#!/usr/bin/env bash
# The demo: the sandbox with demo data plus Airflow (UI, scheduler, dag-processor, triggerer)
# with every connection pointing at the sandbox. Prints the UI address and login; Ctrl+C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m partner_sync.devstack "$@"
