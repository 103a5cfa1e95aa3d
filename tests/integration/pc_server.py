"""A Partner Central emulator served in-process (uvicorn in a thread) for the tests that talk
to it over HTTP with a real boto3 client or the hook, without the whole sandbox process."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
import uvicorn
from botocore.config import Config

from partner_sync.sandbox.partner_central import PartnerCentralEmulator
from partner_sync.sandbox.process import free_port

CONN_ENV = "AIRFLOW_CONN_AWS_PARTNER_CENTRAL"

#: the example request of api-facts §1.4, Sandbox catalog
EXAMPLE_OPPORTUNITY: dict[str, Any] = {
    "Catalog": "Sandbox",
    "Origin": "Partner Referral",
    "OpportunityType": "Net New Business",
    "PartnerOpportunityIdentifier": "hs-1234",
    "Customer": {
        "Account": {
            "CompanyName": "Acme", "Industry": "Software and Internet",
            "WebsiteUrl": "https://acme.example",
            "Address": {"CountryCode": "US", "PostalCode": "98101"},
        },
        "Contacts": [{"Email": "jane@acme.example", "FirstName": "Jane", "LastName": "Doe",
                      "Phone": "+12065550100"}],
    },
    "Project": {
        "Title": "Lake migration",
        "CustomerBusinessProblem": "Consolidate 3 warehouses into one lake.",
        "DeliveryModels": ["Professional Services"],
        "ExpectedCustomerSpend": [{"Amount": "25000", "CurrencyCode": "USD", "Frequency": "Monthly",
                                   "TargetCompany": "AWS"}],
    },
    "LifeCycle": {"Stage": "Qualified", "TargetCloseDate": "2026-12-31"},
}


class PartnerCentralServer:
    """One emulator on a free port; ``url``, admin helpers and client factories."""

    def __init__(self, rate_limits: bool = False) -> None:
        self.emulator = PartnerCentralEmulator(rate_limits=rate_limits)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.emulator.app, host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> PartnerCentralServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("partner central emulator did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    # admin endpoints, over HTTP like every other client
    def reset(self) -> None:
        requests.post(f"{self.url}/_sandbox/reset", timeout=5).raise_for_status()

    def seed(self, **objects: list[dict[str, Any]]) -> dict[str, list[str]]:
        response = requests.post(f"{self.url}/_sandbox/seed", json={"objects": objects}, timeout=5)
        response.raise_for_status()
        return response.json()["seeded"]

    def seed_demo(self) -> None:
        requests.post(f"{self.url}/_sandbox/seed", json={"scenario": "demo"}, timeout=5).raise_for_status()

    def state(self) -> dict[str, list[dict[str, Any]]]:
        return requests.get(f"{self.url}/_sandbox/state", timeout=5).json()

    def stats(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_sandbox/stats", timeout=5).json()

    def faults(self, **settings: Any) -> None:
        requests.post(f"{self.url}/_sandbox/faults", json=settings, timeout=5).raise_for_status()

    def client(self, **config: Any) -> Any:
        """A real boto3 client pointed at the emulator (no retries unless asked)."""
        options = {"retries": {"mode": "standard", "max_attempts": 1}, **config}
        return boto3.client(
            "partnercentral-selling", region_name="us-east-1", endpoint_url=self.url,
            aws_access_key_id="sandbox-access-key", aws_secret_access_key="sandbox-secret",
            config=Config(**options),
        )

    def connection_json(self, **extra: Any) -> str:
        return json.dumps({
            "conn_type": "aws", "login": "sandbox-access-key", "password": "sandbox-secret",
            "extra": {"region_name": "us-east-1", "endpoint_url": self.url, "catalog": "Sandbox",
                      **extra},
        })


@contextlib.contextmanager
def connection(server: PartnerCentralServer, **extra: Any) -> Iterator[None]:
    """``aws_partner_central`` pointing at ``server`` for the duration of the block."""
    previous = os.environ.get(CONN_ENV)
    os.environ[CONN_ENV] = server.connection_json(**extra)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CONN_ENV, None)
        else:
            os.environ[CONN_ENV] = previous


@pytest.fixture(scope="module")
def server() -> Iterator[PartnerCentralServer]:
    """One in-process emulator per test module, rate limits off."""
    started = PartnerCentralServer(rate_limits=False).start()
    yield started
    started.stop()


@pytest.fixture
def pc(server: PartnerCentralServer) -> Iterator[PartnerCentralServer]:
    """The emulator, empty; after the test, no response it sent may violate the model."""
    server.reset()
    yield server
    assert server.emulator.response_violations == []
