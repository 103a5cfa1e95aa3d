"""A Partner Center emulator served in-process for the Partner Center tests.

Runs :class:`PartnerCenterEmulator` under uvicorn in a background thread on a free port, so these
tests need neither the other emulators nor a child process. Import the fixtures into a test
module with ``from tests.integration.partner_center_server import partner_center, ...``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import uvicorn

from partner_sync.sandbox.partner_center import PartnerCenterEmulator
from partner_sync.sandbox.partner_center_auth import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
)
from partner_sync.sandbox.process import free_port

REFERRALS = "/v1.0/engagements/referrals"


@dataclass
class RunningPartnerCenter:
    """The emulator, its server thread and base URL, with small request helpers."""

    emulator: PartnerCenterEmulator
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def reset(self) -> None:
        requests.post(f"{self.url}/_sandbox/reset", timeout=5).raise_for_status()

    def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"{self.url}/_sandbox/{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def seed(self, *referrals: dict[str, Any]) -> list[str]:
        return self.admin("seed", {"objects": {"referrals": list(referrals)}})["seeded"]["referrals"]

    def stats(self) -> dict[str, int]:
        return requests.get(f"{self.url}/_sandbox/stats", timeout=5).json()["by_route"]

    def stored(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/_sandbox/state", timeout=5).json()["referrals"]

    def token(self, **overrides: str) -> str:
        form = {
            "grant_type": "refresh_token",
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET,
            "refresh_token": SANDBOX_REFRESH_TOKEN,
            "resource": "https://api.partner.microsoft.com",
            **overrides,
        }
        response = requests.post(f"{self.url}/sandbox-tenant/oauth2/token", data=form, timeout=5)
        response.raise_for_status()
        return response.json()["access_token"]

    def connection_env(self, **extra: Any) -> dict[str, str]:
        """``AIRFLOW_CONN_PARTNER_CENTER_DEFAULT`` pointing at this emulator."""
        return {
            "AIRFLOW_CONN_PARTNER_CENTER_DEFAULT": json.dumps(
                {
                    "conn_type": "http",
                    "host": self.url,
                    "extra": {
                        "tenant_id": "sandbox-tenant",
                        "client_id": SANDBOX_CLIENT_ID,
                        "client_secret": SANDBOX_CLIENT_SECRET,
                        "refresh_token": SANDBOX_REFRESH_TOKEN,
                        "token_url": f"{self.url}/sandbox-tenant/oauth2/token",
                        **extra,
                    },
                }
            )
        }


def start_partner_center(rate_limits: bool = False) -> RunningPartnerCenter:
    emulator = PartnerCenterEmulator(rate_limits=rate_limits)
    port = free_port()
    config = uvicorn.Config(emulator.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"partner-center-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("Partner Center emulator did not start")
        time.sleep(0.02)
    return RunningPartnerCenter(emulator, server, thread, f"http://127.0.0.1:{port}")


@pytest.fixture(scope="session")
def partner_center_server() -> Iterator[RunningPartnerCenter]:
    running = start_partner_center(rate_limits=False)
    yield running
    running.stop()


@pytest.fixture
def partner_center(partner_center_server: RunningPartnerCenter) -> RunningPartnerCenter:
    """The in-process emulator, emptied (state, counters, faults, token settings)."""
    partner_center_server.reset()
    return partner_center_server


@pytest.fixture
def bearer(partner_center: RunningPartnerCenter) -> dict[str, str]:
    """Headers with a fresh access token for direct HTTP tests."""
    return {"Authorization": f"Bearer {partner_center.token()}"}
