"""Airflow plugin of partner-sync: mounts the HubSpot webhook receiver and the read-only sync
views (``partner_sync.web_app``) on the API server under ``/partner-sync``."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from partner_sync.web_app import create_app


class PartnerSyncPlugin(AirflowPlugin):
    """``POST /partner-sync/webhooks/hubspot``, ``GET /partner-sync/audit/{entity_id}``,
    ``GET /partner-sync/conflicts``."""

    name = "partner_sync"
    fastapi_apps = [
        {
            "app": create_app(),
            "url_prefix": "/partner-sync",
            "name": "partner-sync webhook receiver and sync views",
        }
    ]
