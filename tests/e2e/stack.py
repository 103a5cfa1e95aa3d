"""Starting real Airflow for the end-to-end suite — with the README's demo command.

:func:`running_stack` runs ``bash scripts/demo.sh`` (the README's first command: it sets up
``.venv`` and starts :mod:`partner_sync.devstack`) with options instead of the demo's defaults:
two fresh Postgres databases (Airflow's metadata and the package's store), an empty sandbox
with rate limits off, free ports, short API timeouts, wide pools, LocalExecutor or
CeleryExecutor with the machine's Redis (DB 5, a queue of the stack's own). The demo writes its
addresses and process ids to a ready file; the tests drive the stack through those. So the
demo is exercised by every e2e run and cannot rot.

Teardown, whatever happened: SIGTERM to the demo (it stops every process group it started),
then SIGKILL to any of those process groups still alive, then the databases are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

from partner_sync.devstack import REPO
from partner_sync.sandbox.process import SandboxProcess
from tests.e2e.airflow_rest import AirflowRest, wait_for

PG_HOST = os.environ.get("PARTNER_SYNC_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("PARTNER_SYNC_PG_PORT", "5432")
PG_USER = os.environ.get("PARTNER_SYNC_PG_USER", "postgres")
#: Redis DB the Celery broker uses (each stack has a queue of its own in it)
REDIS_URL = os.environ.get("PARTNER_SYNC_E2E_REDIS_URL", "redis://127.0.0.1:6379/5")
#: seconds the connections give an API call before timing out (the soak injects longer ones)
API_TIMEOUT_S = 4.0
#: the sandbox runs without rate limits here, so the API pools need not serialize the tasks
#: (the one-slot Partner Central pool exists for AWS's 1 write / s); wider pools also make
#: pushes of the same deal from two runs meet, which is what idempotency must survive
WIDE_POOLS = {"partner_central_api": 4, "partner_center_api": 4, "hubspot_api": 4}
START_TIMEOUT_S = 300.0
#: environment variable every process of an e2e stack inherits (its stack id)
STACK_MARKER = "PARTNER_SYNC_E2E_STACK"
#: stack id -> processes still alive after the demo had stopped (killed by the harness)
LEFTOVERS: dict[str, list[str]] = {}


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


def delete_queue(queue: str, url: str = REDIS_URL) -> None:
    """Remove a stack's own Celery queue from Redis (its lists and bindings, nothing else:
    another run of the suite may share the DB)."""
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"*{queue}*"):
        client.delete(key)


@dataclass
class E2EStack:
    """A stack the demo command started: its addresses, processes and databases."""

    demo: subprocess.Popen
    info: dict[str, Any]
    metadata_db: str
    store_db: str
    rest: AirflowRest
    started_in_s: float
    stack_id: str = ""
    #: the Celery queue of the stack's tasks (CeleryExecutor only)
    queue: str | None = None
    sandbox: SandboxProcess = field(init=False)

    def __post_init__(self) -> None:
        # the demo's sandbox, addressed by its ports (this object neither starts nor stops it)
        self.sandbox = SandboxProcess(ports=dict(self.info["sandbox_ports"]))

    @property
    def airflow_home(self) -> Path:
        return Path(self.info["airflow_home"])

    @property
    def webhook_url(self) -> str:
        return self.info["webhook_url"]

    @property
    def store_url(self) -> str:
        return postgres_url(self.store_db)

    def store(self):  # noqa: ANN201 - SyncStore
        from partner_sync.store import SyncStore

        return SyncStore(self.store_url)

    def process_group(self, component: str) -> int:
        """Process group of one Airflow component (its tasks run in the same group)."""
        return os.getpgid(self.info["processes"][component])

    def check_alive(self) -> None:
        """Raise if the demo or one of the processes it started has exited."""
        if self.demo.poll() is not None:
            raise RuntimeError(f"the demo command exited with {self.demo.returncode}: {demo_log_tail(self.airflow_home)}")
        for name, pid in self.info["processes"].items():
            if not _alive(pid):
                raise RuntimeError(f"airflow {name} (pid {pid}) is gone; see {self.airflow_home / 'process-logs'}")

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
            "target_url": self.webhook_url,
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


def demo_command(home: Path, executor: str, metadata_db: str, store_db: str, ready_file: Path,
                 api_timeout: float) -> list[str]:
    """``bash scripts/demo.sh`` with the e2e suite's options."""
    command = [
        "bash", str(REPO / "scripts" / "demo.sh"),
        "--airflow-home", str(home), "--port", "0", "--executor", executor,
        "--seed", "empty", "--rate-limits", "off", "--sandbox-ports", "free",
        "--metadata-url", postgres_url(metadata_db), "--store-url", postgres_url(store_db),
        "--api-timeout", str(api_timeout), "--ready-file", str(ready_file),
    ]
    for pool, slots in WIDE_POOLS.items():
        command += ["--pool-slots", f"{pool}={slots}"]
    return command


def demo_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without its own Airflow settings (the pytest session's
    isolated AIRFLOW_HOME, connections of other tests), plus ``extra``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and key != "AIRFLOW_HOME"}
    env.update(extra)
    return env


def demo_log_tail(home: Path, chars: int = 3000) -> str:
    path = home / "process-logs" / "demo.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no demo log)"


@contextlib.contextmanager
def running_stack(home: Path, executor: str = "LocalExecutor", extra_env: dict[str, str] | None = None,
                  api_timeout: float = API_TIMEOUT_S, demo_args: list[str] | None = None,
                  stack_id: str | None = None) -> Iterator[E2EStack]:
    """The demo command on fresh databases until the block ends (see the module docstring).

    ``demo_args`` are appended to the demo's options (a later option wins); ``stack_id`` marks
    every process of the stack (environment variable :data:`STACK_MARKER`).
    """
    env = dict(extra_env or {})
    stack_id = stack_id or uuid.uuid4().hex
    env[STACK_MARKER] = stack_id
    if executor == "CeleryExecutor":
        env.setdefault("AIRFLOW__CELERY__BROKER_URL", REDIS_URL)
        # a queue of its own: two runs of the suite on one machine share the Redis DB, and a
        # worker must never take (or a flush delete) another stack's tasks
        env.setdefault("AIRFLOW__OPERATORS__DEFAULT_QUEUE", f"partner-sync-e2e-{stack_id[:12]}")
    with postgres_database("psync_e2e_meta") as metadata_db, postgres_database("psync_e2e_store") as store_db:
        if executor == "CeleryExecutor":
            env.setdefault("AIRFLOW__CELERY__RESULT_BACKEND", "db+" + postgres_url(metadata_db))
        (home / "process-logs").mkdir(parents=True, exist_ok=True)
        ready_file = home / "demo-ready.json"
        ready_file.unlink(missing_ok=True)
        started = time.monotonic()
        with open(home / "process-logs" / "demo.log", "ab") as log:
            demo = subprocess.Popen(
                demo_command(home, executor, metadata_db, store_db, ready_file, api_timeout) + list(demo_args or []),
                env=demo_environment(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO,
            )
        info: dict[str, Any] = {}
        try:
            info = wait_ready(demo, ready_file, home)
            rest = AirflowRest(info["api_url"], info["username"], info["password"])
            stack = E2EStack(demo, info, metadata_db, store_db, rest, time.monotonic() - started, stack_id,
                             env.get("AIRFLOW__OPERATORS__DEFAULT_QUEUE"))
            # the demo bootstraps the HubSpot properties: wait for that run
            wait_for(lambda: stack.check_alive() or rest.finished_run("hubspot_properties_setup", "devstack-properties-setup"),
                     180, "hubspot_properties_setup (the demo's bootstrap) to finish")
            stack.rest.wait_run("hubspot_properties_setup", "devstack-properties-setup", timeout=10)
            yield stack
        finally:
            stop_demo(demo, info or _read_ready(ready_file), stack_id)
            if executor == "CeleryExecutor":
                with contextlib.suppress(Exception):
                    delete_queue(env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"], env["AIRFLOW__CELERY__BROKER_URL"])


def wait_ready(demo: subprocess.Popen, ready_file: Path, home: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise RuntimeError(f"the demo command exited with {demo.returncode}:\n{demo_log_tail(home)}")
        info = _read_ready(ready_file)
        if info:
            return info
        time.sleep(0.5)
    raise RuntimeError(f"the demo command was not up after {START_TIMEOUT_S:.0f}s:\n{demo_log_tail(home)}")


def _read_ready(ready_file: Path) -> dict[str, Any]:
    try:
        return json.loads(ready_file.read_text())
    except (OSError, ValueError):
        return {}


def stop_demo(demo: subprocess.Popen, info: dict[str, Any], stack_id: str) -> None:
    """SIGTERM the demo (it stops what it started); then SIGKILL whatever is left of it: the
    process groups it reported, and any process still carrying the stack's marker."""
    if demo.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    # every process the demo started leads its own process group (start_new_session)
    leaders = [*info.get("processes", {}).values(), info.get("sandbox_pid")]
    for pid in [pid for pid in leaders if pid]:
        if _alive(pid) and _is_ours(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    leftovers = processes_of(stack_id)
    LEFTOVERS[stack_id] = [" ".join(process.cmdline())[:120] for process in leftovers]
    for process in leftovers:
        with contextlib.suppress(psutil.Error):
            process.kill()


def processes_of(stack_id: str) -> list[psutil.Process]:
    """Live processes whose environment carries the stack's marker."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(STACK_MARKER) == stack_id and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _is_ours(pid: int) -> bool:
    """The pid still belongs to a process the demo started (not a recycled pid)."""
    try:
        command = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return "airflow" in command or "partner_sync" in command
