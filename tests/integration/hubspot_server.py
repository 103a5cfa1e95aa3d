"""An in-process HubSpot emulator for the HubSpot tests, and a webhook receiver to point it at.

The session ``sandbox`` fixture needs all three emulators; these tests need only HubSpot, and
reach into the emulator object (e.g. to lower ``search_result_cap``), so they serve it from a
uvicorn server on a background thread of the test process.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import uvicorn

from partner_sync.sandbox.hubspot import HubSpotEmulator

TOKEN = "pat-sandbox-hubspot-token-0001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningHubSpot:
    """An emulator served over HTTP, with admin shortcuts."""

    emulator: HubSpotEmulator
    url: str

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def api(self, method: str, path: str, body: Any = None, params: dict | None = None,
            token: str | None = TOKEN) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, f"{self.url}{path}", json=body, params=params, headers=headers, timeout=30)

    def reset(self) -> None:
        self.admin("POST", "reset")

    def seed(self, objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        return self.admin("POST", "seed", {"objects": objects})["seeded"]


@contextmanager
def serve_hubspot(rate_limits: bool = False) -> Iterator[RunningHubSpot]:
    emulator = HubSpotEmulator(rate_limits=rate_limits)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(emulator.app, host="127.0.0.1", port=port, log_level="warning",
                                          access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("HubSpot emulator did not start")
        time.sleep(0.02)
    try:
        yield RunningHubSpot(emulator, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def hubspot_server() -> Iterator[RunningHubSpot]:
    """One emulator (rate limits off) for the module."""
    with serve_hubspot(rate_limits=False) as running:
        yield running


@pytest.fixture
def sandbox_hubspot(hubspot_server: RunningHubSpot) -> RunningHubSpot:
    """The module's emulator, emptied (state, counters, faults, webhooks) before the test."""
    hubspot_server.reset()
    hubspot_server.emulator.search_result_cap = HubSpotEmulator.search_result_cap
    return hubspot_server


@dataclass
class WebhookReceiver:
    """Records every POST; answers ``fail_first`` requests with 500 before accepting."""

    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def bodies(self) -> list[list[dict[str, Any]]]:
        return [json.loads(r["body"]) for r in self.received]


@contextmanager
def webhook_receiver(fail_first: int = 0) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(fail_first=fail_first)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            with lock:
                receiver.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                failing = len(receiver.received) <= receiver.fail_first
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/hubspot?portal=1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
