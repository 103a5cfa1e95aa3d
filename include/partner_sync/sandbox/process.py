"""Start and stop the sandbox as a child process (tests, benchmarks and the demo use this)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SandboxProcess:
    """A running ``python -m partner_sync.sandbox serve`` with its three base URLs."""

    seed: str = "empty"
    rate_limits: bool = False
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def hubspot_url(self) -> str:
        return f"http://{self.host}:{self.ports['hubspot']}"

    @property
    def partner_center_url(self) -> str:
        return f"http://{self.host}:{self.ports['partner_center']}"

    @property
    def partner_central_url(self) -> str:
        return f"http://{self.host}:{self.ports['partner_central']}"

    @property
    def urls(self) -> dict[str, str]:
        return {
            "hubspot": self.hubspot_url,
            "partner_center": self.partner_center_url,
            "partner_central": self.partner_central_url,
        }

    def start(self, timeout: float = 30.0) -> SandboxProcess:
        for name in ("hubspot", "partner_center", "partner_central"):
            self.ports.setdefault(name, free_port())
        cmd = [
            sys.executable, "-m", "partner_sync.sandbox", "serve",
            "--host", self.host,
            "--hubspot-port", str(self.ports["hubspot"]),
            "--partner-center-port", str(self.ports["partner_center"]),
            "--partner-central-port", str(self.ports["partner_central"]),
            "--seed", self.seed,
            "--rate-limits", "on" if self.rate_limits else "off",
        ]
        self.process = subprocess.Popen(cmd, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited with {self.process.returncode}")
            try:
                if all(requests.get(f"{u}/_sandbox/stats", timeout=1).ok for u in self.urls.values()):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("sandbox did not become ready")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def reset(self) -> None:
        for url in self.urls.values():
            requests.post(f"{url}/_sandbox/reset", timeout=5).raise_for_status()

    def seed_objects(self, system: str, objects: dict) -> dict:
        response = requests.post(
            f"{self.urls[system]}/_sandbox/seed", json={"objects": objects}, timeout=30
        )
        response.raise_for_status()
        return response.json()["seeded"]

    def state(self, system: str) -> dict:
        response = requests.get(f"{self.urls[system]}/_sandbox/state", timeout=30)
        response.raise_for_status()
        return response.json()

    def stats(self, system: str) -> dict:
        response = requests.get(f"{self.urls[system]}/_sandbox/stats", timeout=5)
        response.raise_for_status()
        return response.json()

    def set_faults(self, system: str, **faults) -> None:
        requests.post(
            f"{self.urls[system]}/_sandbox/faults", json=faults, timeout=5
        ).raise_for_status()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
