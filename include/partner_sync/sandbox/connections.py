"""``AIRFLOW_CONN_*`` values that point every connection of the package at a sandbox.

Used by the demo, the tests and the benchmarks, so all three run the package exactly as a
deployment with env-based connections would. The values below are sandbox credentials, not
secrets of any real account; the secret-hygiene tests search logs for them.
"""

from __future__ import annotations

import json

SANDBOX_SECRETS = {
    "hubspot_token": "pat-sandbox-hubspot-token-0001",
    "hubspot_webhook_secret": "sandbox-webhook-secret-0001",
    "partner_center_client_secret": "sandbox-pc-client-secret-0001",
    "partner_center_refresh_token": "sandbox-pc-refresh-token-0001",
    "aws_secret_access_key": "sandbox-aws-secret-key-0001",
}


def connection_env(
    urls: dict[str, str],
    store_url: str | None = None,
    airflow_api: tuple[str, str, str] | None = None,
    webhook_url: str | None = None,
    timeout: float | None = None,
    pacing: bool = True,
) -> dict[str, str]:
    """Environment variables for the package's connections.

    ``urls``: base URL per emulator (``hubspot``, ``partner_center``, ``partner_central``).
    ``store_url``: SQLAlchemy URL of the sync store (default: the store's own SQLite default).
    ``airflow_api``: (base URL, login, password) of the Airflow API server for the webhook
    receiver. ``timeout``: request timeout in seconds for the three API connections.
    ``pacing``: client-side rate limiting of Partner Central calls; turn it off only against a
    sandbox without rate limits (fast tests).
    """
    hubspot_extra: dict = {"webhook_secret": SANDBOX_SECRETS["hubspot_webhook_secret"], "pipeline": "default"}
    pc_extra: dict = {
        "tenant_id": "sandbox-tenant",
        "client_id": "sandbox-client",
        "client_secret": SANDBOX_SECRETS["partner_center_client_secret"],
        "refresh_token": SANDBOX_SECRETS["partner_center_refresh_token"],
        "token_url": f"{urls['partner_center']}/sandbox-tenant/oauth2/token",
    }
    aws_extra: dict = {
        "region_name": "us-east-1",
        "endpoint_url": urls["partner_central"],
        "catalog": "Sandbox",
    }
    if not pacing:
        aws_extra["pacing"] = False
    if webhook_url:
        hubspot_extra["webhook_url"] = webhook_url
    if timeout is not None:
        for extra in (hubspot_extra, pc_extra, aws_extra):
            extra["timeout"] = timeout
    env = {
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(
            {"conn_type": "http", "host": urls["hubspot"], "password": SANDBOX_SECRETS["hubspot_token"], "extra": hubspot_extra}
        ),
        "AIRFLOW_CONN_PARTNER_CENTER_DEFAULT": json.dumps(
            {"conn_type": "http", "host": urls["partner_center"], "extra": pc_extra}
        ),
        "AIRFLOW_CONN_AWS_PARTNER_CENTRAL": json.dumps(
            {
                "conn_type": "aws",
                "login": "sandbox-access-key",
                "password": SANDBOX_SECRETS["aws_secret_access_key"],
                "extra": aws_extra,
            }
        ),
    }
    if store_url:
        env["AIRFLOW_CONN_PARTNER_SYNC_DB"] = json.dumps(
            {"conn_type": "generic", "extra": {"url": store_url}}
        )
    if airflow_api:
        base, login, password = airflow_api
        env["AIRFLOW_CONN_AIRFLOW_API"] = json.dumps(
            {"conn_type": "http", "host": base, "login": login, "password": password}
        )
    return env
