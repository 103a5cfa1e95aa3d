"""Shared fixtures: an isolated AIRFLOW_HOME, the sandbox over real HTTP, connections to it.

Connections come from ``AIRFLOW_CONN_*`` environment variables (JSON), as in production
deployments that use env-based secrets; tests never write connections to a database.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Airflow reads its configuration at import time: isolate it before anything imports airflow.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="partner-sync-test-airflow-")
os.environ.setdefault("AIRFLOW_HOME", _AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK", "False")

from partner_sync.sandbox.connections import SANDBOX_SECRETS as SECRETS  # noqa: E402
from partner_sync.sandbox.connections import connection_env  # noqa: E402,F401


@pytest.fixture(scope="session")
def sandbox():
    """The three emulators in one child process, rate limits off (tests that need them start
    their own), connections pointing at it for the whole session."""
    from partner_sync.sandbox.process import SandboxProcess

    process = SandboxProcess(seed="empty", rate_limits=False).start()
    env = connection_env(process.urls, pacing=False)
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield process
    process.stop()
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def clean_sandbox(sandbox):
    """The session sandbox, emptied (state, counters and faults) before the test."""
    sandbox.reset()
    return sandbox


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (SQLite in the test AIRFLOW_HOME), migrated once per session,
    for tests that run whole DAGs with ``dag.test()``."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    return os.environ["AIRFLOW_HOME"]
