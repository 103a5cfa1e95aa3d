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

#: secret values configured for the sandbox; the secret-hygiene tests look for them
SECRETS = {
    "hubspot_token": "pat-sandbox-hubspot-token-0001",
    "hubspot_webhook_secret": "sandbox-webhook-secret-0001",
    "partner_center_client_secret": "sandbox-pc-client-secret-0001",
    "partner_center_refresh_token": "sandbox-pc-refresh-token-0001",
    "aws_secret_access_key": "sandbox-aws-secret-key-0001",
}


def connection_env(urls: dict[str, str], store_url: str | None = None) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` values pointing every connection of the package at a sandbox."""
    env = {
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(
            {
                "conn_type": "http",
                "host": urls["hubspot"],
                "password": SECRETS["hubspot_token"],
                "extra": {"webhook_secret": SECRETS["hubspot_webhook_secret"], "pipeline": "default"},
            }
        ),
        "AIRFLOW_CONN_PARTNER_CENTER_DEFAULT": json.dumps(
            {
                "conn_type": "http",
                "host": urls["partner_center"],
                "extra": {
                    "tenant_id": "sandbox-tenant",
                    "client_id": "sandbox-client",
                    "client_secret": SECRETS["partner_center_client_secret"],
                    "refresh_token": SECRETS["partner_center_refresh_token"],
                    "token_url": f"{urls['partner_center']}/sandbox-tenant/oauth2/token",
                },
            }
        ),
        "AIRFLOW_CONN_AWS_PARTNER_CENTRAL": json.dumps(
            {
                "conn_type": "aws",
                "login": "sandbox-access-key",
                "password": SECRETS["aws_secret_access_key"],
                "extra": {
                    "region_name": "us-east-1",
                    "endpoint_url": urls["partner_central"],
                    "catalog": "Sandbox",
                },
            }
        ),
    }
    if store_url:
        env["AIRFLOW_CONN_PARTNER_SYNC_DB"] = store_url
    return env


@pytest.fixture(scope="session")
def sandbox():
    """The three emulators in one child process, rate limits off (tests that need them start
    their own), connections pointing at it for the whole session."""
    from partner_sync.sandbox.process import SandboxProcess

    process = SandboxProcess(seed="empty", rate_limits=False).start()
    previous = {k: os.environ.get(k) for k in connection_env(process.urls)}
    os.environ.update(connection_env(process.urls))
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
