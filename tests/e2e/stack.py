"""Starting real Airflow for the end-to-end suite, and talking to it.

- :func:`postgres_database`: a fresh database with a random name on the machine's Postgres,
  dropped afterwards (``WITH (FORCE)``: Airflow's pooled connections may still be open).
- :func:`running_stack`: :class:`partner_sync.devstack.DevStack` — the README's demo command —
  on two such databases (Airflow's metadata and the package's store), the sandbox with rate
  limits off and short API timeouts, LocalExecutor or CeleryExecutor with the machine's Redis
  on a dedicated DB number. Every process runs in its own process group and is killed on exit,
  whatever happened.
- :class:`AirflowRest`: the REST API v2 calls the tests need (trigger, wait, task instances).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from partner_sync.devstack import DevStack
from partner_sync.sandbox.process import free_port

PG_HOST = os.environ.get("PARTNER_SYNC_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("PARTNER_SYNC_PG_PORT", "5432")
PG_USER = os.environ.get("PARTNER_SYNC_PG_USER", "postgres")
#: Redis DB number the Celery broker uses (flushed before and after the Celery test)
REDIS_URL = os.environ.get("PARTNER_SYNC_E2E_REDIS_URL", "redis://127.0.0.1:6379/5")
#: seconds the connections give an API call before timing out (the soak injects longer ones)
API_TIMEOUT_S = 4.0
TERMINAL_RUN_STATES = ("success", "failed")
#: the sandbox runs without rate limits here, so the API pools need not serialize the tasks
#: (the one-slot Partner Central pool exists for AWS's 1 write / s); wider pools also make
#: pushes of the same deal from two runs meet, which is what idempotency must survive
WIDE_POOLS = {"partner_central_api": 4, "partner_center_api": 4, "hubspot_api": 4}


def postgres_url(database: str, driver: str = "psycopg2") -> str:
    return f"postgresql+{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def _admin_sql(statement: str) -> None:
    import psycopg2

    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty Postgres database; yields its name, drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis_db(url: str = REDIS_URL) -> None:
    """Empty the one Redis DB the Celery test uses (never any other)."""
    import redis

    redis.Redis.from_url(url).flushdb()


@dataclass
class E2EStack:
    """A started DevStack plus what the tests need to inspect it."""

    devstack: DevStack
    metadata_db: str
    store_db: str
    rest: AirflowRest
    started_in_s: float

    def process_group(self, component: str) -> int:
        """Process group of one Airflow component (its tasks run in the same group)."""
        return os.getpgid(self.devstack.processes[component].pid)

    @property
    def sandbox(self):  # noqa: ANN201 - SandboxProcess
        assert self.devstack.sandbox is not None
        return self.devstack.sandbox

    @property
    def airflow_home(self) -> Path:
        return self.devstack.airflow_home

    @property
    def store_url(self) -> str:
        return postgres_url(self.store_db)

    def store(self):  # noqa: ANN201 - SyncStore
        from partner_sync.store import SyncStore

        return SyncStore(self.store_url)

    def metadata_query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a read-only query on Airflow's metadata DB (tests may look; tasks may not)."""
        import psycopg2

        connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.metadata_db)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def seed(self, system: str, objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        """``POST /_sandbox/seed`` on one emulator; an error names the emulator's reason."""
        response = requests.post(f"{self.sandbox.urls[system]}/_sandbox/seed", json={"objects": objects}, timeout=60)
        if response.status_code != 200:
            raise AssertionError(f"seeding {system} failed: {response.status_code} {response.text[:1000]}")
        return response.json()["seeded"]

    def configure_webhooks(self, subscriptions: list[str] | None = None) -> None:
        """Make the HubSpot emulator deliver signed webhooks to the stack's receiver."""
        from partner_sync.sandbox.connections import SANDBOX_SECRETS

        body: dict[str, Any] = {
            "target_url": self.devstack.webhook_url,
            "client_secret": SANDBOX_SECRETS["hubspot_webhook_secret"],
        }
        if subscriptions is not None:
            body["subscriptions"] = subscriptions
        response = requests.post(f"{self.sandbox.hubspot_url}/_sandbox/webhooks", json=body, timeout=10)
        response.raise_for_status()

    def flush_webhooks(self, timeout: float = 60.0) -> dict[str, Any]:
        response = requests.post(
            f"{self.sandbox.hubspot_url}/_sandbox/webhooks/flush", json={"timeout": timeout}, timeout=timeout + 10
        )
        return response.json()

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.sandbox.hubspot_url}/_sandbox/webhooks/deliveries", timeout=10)
        response.raise_for_status()
        return response.json()["deliveries"]


@contextlib.contextmanager
def running_stack(
    home: Path,
    executor: str = "LocalExecutor",
    extra_env: dict[str, str] | None = None,
    api_timeout: float = API_TIMEOUT_S,
) -> Iterator[E2EStack]:
    """Postgres databases + DevStack (sandbox without rate limits, empty) until the block ends."""
    env = dict(extra_env or {})
    if executor == "CeleryExecutor":
        env.setdefault("AIRFLOW__CELERY__BROKER_URL", REDIS_URL)
        flush_redis_db(env["AIRFLOW__CELERY__BROKER_URL"])
    with postgres_database("psync_e2e_meta") as metadata_db, postgres_database("psync_e2e_store") as store_db:
        if executor == "CeleryExecutor":
            env.setdefault("AIRFLOW__CELERY__RESULT_BACKEND", "db+" + postgres_url(metadata_db))
        devstack = DevStack(
            airflow_home=home,
            api_port=free_port(),
            seed="empty",
            rate_limits=False,
            executor=executor,
            metadata_url=postgres_url(metadata_db),
            store_url=postgres_url(store_db),
            api_timeout=api_timeout,
            extra_env=env,
            isolated=True,
            pool_slots=WIDE_POOLS,
        )
        started = time.monotonic()
        try:
            devstack.start(timeout=240)
            rest = AirflowRest(devstack.api_url, devstack.username, devstack.password)
            stack = E2EStack(devstack, metadata_db, store_db, rest, time.monotonic() - started)
            # the README's demo command bootstraps the HubSpot properties: wait for it
            wait_for(lambda: devstack.check_alive() or rest._terminal("hubspot_properties_setup", "devstack-properties-setup"),
                     180, "hubspot_properties_setup (the demo's bootstrap) to finish")
            stack.rest.wait_run("hubspot_properties_setup", "devstack-properties-setup", timeout=10)
            yield stack
        finally:
            devstack.stop()
            if executor == "CeleryExecutor":
                with contextlib.suppress(Exception):
                    flush_redis_db(env["AIRFLOW__CELERY__BROKER_URL"])


class RunFailed(AssertionError):
    """A DAG run ended in ``failed`` where success was expected."""


class AirflowRest:
    """The Airflow REST API v2, authenticated as the stack's admin user (JWT, refreshed)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password
        self._token: str | None = None
        self.session = requests.Session()

    def token(self, refresh: bool = False) -> str:
        if self._token is None or refresh:
            response = self.session.post(
                f"{self.base_url}/auth/token", json={"username": self.username, "password": self.password}, timeout=60
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        extra_headers = kwargs.pop("headers", None) or {}
        for attempt in range(2):
            headers = {**extra_headers, "Authorization": f"Bearer {self.token(refresh=attempt > 0)}"}
            response = self.session.request(method, f"{self.base_url}{path}", headers=headers, **kwargs)
            if response.status_code != 401:
                return response
        return response

    def get(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params=params)
        response.raise_for_status()
        return response.json()

    def _paged(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.get(path, limit=100, offset=len(items), **params)
            items.extend(page[key])
            if not page[key] or len(items) >= page.get("total_entries", 0):
                return items

    # ----------------------------------------------------------------- runs
    def trigger(
        self, dag_id: str, run_id: str | None = None, conf: dict[str, Any] | None = None,
        logical_date: str | None = None, data_interval: tuple[str, str] | None = None,
    ) -> requests.Response:
        """POST a run (``logical_date`` null unless given); the response, whatever its status."""
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        if data_interval:
            body["data_interval_start"], body["data_interval_end"] = data_interval
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)

    def trigger_ok(self, dag_id: str, run_id: str | None = None, conf: dict[str, Any] | None = None,
                   logical_date: str | None = None, data_interval: tuple[str, str] | None = None) -> str:
        response = self.trigger(dag_id, run_id, conf, logical_date, data_interval)
        if response.status_code >= 300:
            raise AssertionError(f"trigger {dag_id} {run_id}: {response.status_code} {response.text[:500]}")
        return response.json()["dag_run_id"]

    def runs(self, dag_id: str = "~", **params: Any) -> list[dict[str, Any]]:
        return self._paged(f"/api/v2/dags/{dag_id}/dagRuns", "dag_runs", **params)

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 180.0, expect: str | None = "success") -> dict[str, Any]:
        """Wait for a terminal state; with ``expect``, fail (naming failed tasks) on any other."""
        run = wait_for(lambda: self._terminal(dag_id, run_id), timeout, f"{dag_id} run {run_id} to finish")
        if expect and run["state"] != expect:
            failed = [
                f"{ti['task_id']}[{ti.get('map_index', -1)}]={ti['state']} (try {ti.get('try_number')})"
                for ti in self.task_instances(dag_id, run_id)
                if ti["state"] not in ("success", "skipped")
            ]
            raise RunFailed(f"{dag_id} run {run_id} ended {run['state']}, expected {expect}: {failed}")
        return run

    def _terminal(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        response = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        run = response.json()
        return run if run["state"] in TERMINAL_RUN_STATES else None

    def wait_runs_settled(self, dag_ids: list[str], timeout: float = 300.0) -> list[dict[str, Any]]:
        """Wait until none of the DAGs has a queued or running run; return all their runs."""

        def settled() -> list[dict[str, Any]] | None:
            runs = [run for dag_id in dag_ids for run in self.runs(dag_id)]
            return runs if all(run["state"] in TERMINAL_RUN_STATES for run in runs) else None

        return wait_for(settled, timeout, f"the runs of {dag_ids} to settle")

    def task_instances(self, dag_id: str = "~", run_id: str = "~", **params: Any) -> list[dict[str, Any]]:
        return self._paged(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances", **params)

    def xcom_value(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        return self.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}", deserialize=True
        ).get("value")


def wait_for(probe: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    """Call ``probe`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (requests.RequestException, KeyError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" ({last_error})" if last_error else ""))
        time.sleep(interval)


def run_subprocess_ok(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout
