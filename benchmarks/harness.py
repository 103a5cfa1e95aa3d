"""The sandbox a scenario measures against: rate limits on, connections from ``AIRFLOW_CONN_*``
environment variables, a throwaway sync store, and the helpers that seed it and count calls.

Sync functions run in this process with a :class:`~partner_sync.sync.runtime.SyncRun` outside
Airflow (as the integration tests do): the figures measure the sync, not the scheduler.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APIS = ("hubspot", "partner_center", "partner_central")
#: objects per ``POST /_sandbox/seed`` (admin endpoints are not rate limited)
SEED_CHUNK = 1000


def isolate_airflow(home: Path) -> None:
    """Point Airflow at a throwaway home before anything imports it (no DAGs, no examples, quiet)."""
    for key in [k for k in os.environ if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
        del os.environ[key]
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"


@dataclass
class Bench:
    """A started rate-limited sandbox, the connections pointing at it, and a fresh store."""

    sandbox: Any  # partner_sync.sandbox.process.SandboxProcess
    home: Path
    store_url: str
    marks: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def routes(self) -> dict[str, dict[str, int]]:
        """Calls per route so far, per API."""
        return {api: dict(self.sandbox.stats(api)["by_route"]) for api in APIS}

    def mark(self, name: str) -> None:
        """Remember the call counters now (see :meth:`calls_since`)."""
        self.marks[name] = self.routes()

    def calls_since(self, name: str) -> dict[str, dict[str, int]]:
        """Calls per route per API since :meth:`mark` ``name``."""
        from benchmarks.measure import route_delta

        now = self.routes()
        return {api: route_delta(now[api], self.marks[name].get(api, {})) for api in APIS}

    def seed(self, system: str, collection: str, objects: Iterable[dict[str, Any]]) -> int:
        """Seed objects in chunks (never the whole set in memory); returns how many."""
        count, chunk = 0, []
        for item in objects:
            chunk.append(item)
            if len(chunk) >= SEED_CHUNK:
                self.sandbox.seed_objects(system, {collection: chunk})
                count, chunk = count + len(chunk), []
        if chunk:
            self.sandbox.seed_objects(system, {collection: chunk})
            count += len(chunk)
        return count

    def seed_objects(self, system: str, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.sandbox.seed_objects(system, objects)


@contextlib.contextmanager
def bench(store_url: str | None = None) -> Iterator[Bench]:
    """A rate-limited sandbox with the package's connections and deal properties set up.

    The store is a SQLite file in a temporary directory unless ``store_url`` names another
    (e.g. a fresh Postgres database).
    """
    with tempfile.TemporaryDirectory(prefix="partner-sync-bench-") as tmp:
        home = Path(tmp)
        isolate_airflow(home / "airflow")
        from partner_sync.sandbox.connections import connection_env
        from partner_sync.sandbox.process import SandboxProcess

        url = store_url or f"sqlite:///{home / 'partner_sync.db'}"
        sandbox = SandboxProcess(seed="empty", rate_limits=True).start()
        try:
            os.environ.update(connection_env(sandbox.urls, store_url=url))
            from partner_sync.sync.properties_setup import create_properties
            from partner_sync.sync.runtime import SyncRun

            create_properties(SyncRun(dag_id="hubspot_properties_setup", run_id="benchmark_setup"))
            time.sleep(10)  # an empty HubSpot rate-limit window for the measured run
            yield Bench(sandbox=sandbox, home=home, store_url=url)
        finally:
            sandbox.stop()


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = round(time.perf_counter() - self.started, 2)
