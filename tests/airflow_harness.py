"""A real Airflow deployment in a temp directory, for integration and end-to-end tests.

:class:`AirflowDeployment` prepares an ``AIRFLOW_HOME`` (SQLite metadata DB migrated with
``airflow db migrate``, the simple auth manager with a known user and password, a fixed JWT
secret), serializes the DAGs folder into the DB (``airflow dags reserialize``, so runs can be
triggered without a dag-processor), and starts ``airflow api-server`` (and, on request, any
other component: ``scheduler``, ``dag-processor``, ``triggerer``), each in its own process
group, logged to ``$AIRFLOW_HOME/logs/<component>.log``. :meth:`AirflowDeployment.stop` kills
every process group it started and removes the directory; use it as a context manager.

Usage::

    with AirflowDeployment(dags_folder=folder, extra_env=connections) as airflow:
        airflow.start_api_server()
        airflow.api("POST", "/api/v2/dags/x/dagRuns", json={...})

The API server's own connection lookups see ``extra_env`` (e.g. ``AIRFLOW_CONN_*``), and
``AIRFLOW_CONN_AIRFLOW_API`` can point back at it through :meth:`airflow_api_connection`
(the port is chosen before anything starts).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_BIN = str(Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin" / "airflow")

#: the simple-auth-manager user every deployment has (role admin)
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "partner-sync-test-admin-password"

STUB_DAG_TEMPLATE = '''"""Stand-in for the real {dag_id} DAG: same id, one no-op task."""
from __future__ import annotations

import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(
    dag_id="{dag_id}",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    tags=["stub"],
):
    EmptyOperator(task_id="noop")
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_stub_dags(folder: Path, dag_ids: list[str]) -> Path:
    """One tiny ``schedule=None`` DAG file per id in ``folder`` (stand-ins for the real ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    for dag_id in dag_ids:
        (folder / f"{dag_id}.py").write_text(STUB_DAG_TEMPLATE.format(dag_id=dag_id))
    return folder


class AirflowDeployment:
    """An isolated Airflow 3 deployment whose processes are killed on :meth:`stop`."""

    def __init__(
        self,
        dags_folder: Path | str | None = None,
        *,
        plugins_folder: Path | str = REPO / "plugins",
        extra_env: dict[str, str] | None = None,
        home: Path | str | None = None,
        port: int | None = None,
        keep_home: bool | None = None,
    ) -> None:
        self.home = Path(home) if home else Path(tempfile.mkdtemp(prefix="partner-sync-airflow-"))
        self.dags_folder = Path(dags_folder) if dags_folder else self.home / "dags"
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.plugins_folder = Path(plugins_folder)
        self.port = port or free_port()
        self.extra_env = dict(extra_env or {})
        #: keep the directory (logs, DB) after stop; default from PARTNER_SYNC_KEEP_AIRFLOW_HOME
        self.keep_home = bool(os.environ.get("PARTNER_SYNC_KEEP_AIRFLOW_HOME")) if keep_home is None else keep_home
        self.processes: dict[str, subprocess.Popen] = {}
        self._token: str | None = None

    # ----------------------------------------------------------------- configuration

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def airflow_api_connection(self) -> str:
        """``AIRFLOW_CONN_AIRFLOW_API`` value pointing at this deployment's API server."""
        return json.dumps(
            {"conn_type": "http", "host": self.base_url, "login": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
        )

    def env(self) -> dict[str, str]:
        """The environment of every Airflow process: this process's, without its Airflow
        configuration (``AIRFLOW__*``, ``AIRFLOW_HOME``), plus the deployment's, plus
        ``extra_env``."""
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AIRFLOW__") and key != "AIRFLOW_HOME"
        }
        passwords_file = self.home / "simple_auth_manager_passwords.json"
        deployment = {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.plugins_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__API_AUTH__JWT_SECRET": "partner-sync-test-jwt-secret-0123456789abcdef",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs_dir / "tasks"),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
        }
        return inherited | deployment | self.extra_env

    def prepare(self) -> AirflowDeployment:
        """Password file (so the admin password is known), ``db migrate``, DAG serialization."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        (self.home / "simple_auth_manager_passwords.json").write_text(json.dumps({ADMIN_USERNAME: ADMIN_PASSWORD}))
        self.run_cli("db", "migrate")
        self.reserialize()
        return self

    def run_cli(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess:
        """``airflow <args>`` to completion in the deployment's environment; raises on failure."""
        result = subprocess.run(
            [AIRFLOW_BIN, *args], env=self.env(), capture_output=True, text=True, timeout=timeout,
            start_new_session=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def reserialize(self) -> None:
        """Parse the DAGs folder into the metadata DB (no dag-processor needed to trigger)."""
        self.run_cli("dags", "reserialize")

    # ----------------------------------------------------------------- processes

    def start_component(self, component: str, *args: str) -> subprocess.Popen:
        """``airflow <component> <args>`` in the background, its own process group."""
        if component in self.processes and self.processes[component].poll() is None:
            raise RuntimeError(f"{component} is already running")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.logs_dir / f"{component}.log", "ab")  # noqa: SIM115 - owned by the child
        try:
            process = subprocess.Popen(
                [AIRFLOW_BIN, component, *args], env=self.env(), stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log_file.close()
        self.processes[component] = process
        return process

    def log_tail(self, component: str, chars: int = 4000) -> str:
        path = self.logs_dir / f"{component}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def start_api_server(self, timeout: float = 90.0) -> AirflowDeployment:
        """``airflow api-server`` (one worker) on :attr:`port`; returns once it answers."""
        process = self.start_component("api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"api-server exited {process.returncode}:\n{self.log_tail('api-server')}")
            try:
                if httpx.get(f"{self.base_url}/api/v2/version", timeout=2).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"api-server did not answer within {timeout}s:\n{self.log_tail('api-server')}")

    def stop_component(self, component: str, timeout: float = 15.0) -> None:
        process = self.processes.pop(component, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        """Stop every started process group, then remove the home (unless ``keep_home``)."""
        for component in list(self.processes):
            try:
                self.stop_component(component)
            except Exception:  # keep stopping the others
                pass
        if not self.keep_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> AirflowDeployment:
        try:
            return self.prepare()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- REST API

    def token(self, *, refresh: bool = False) -> str:
        """A JWT for the admin user from ``POST /auth/token``."""
        if self._token is None or refresh:
            response = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
                timeout=30,
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, *, authenticated: bool = True, **kwargs: Any) -> httpx.Response:
        """A request to the API server (``path`` from the root, e.g. ``/api/v2/dags``)."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if authenticated:
            headers.setdefault("Authorization", f"Bearer {self.token()}")
        kwargs.setdefault("timeout", 30)
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, **kwargs)

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of ``dag_id`` (up to 100), as ``GET /api/v2/dags/{dag_id}/dagRuns`` lists it."""
        response = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
        response.raise_for_status()
        return response.json()["dag_runs"]

    def delete_dag_runs(self, dag_id: str) -> None:
        for run in self.dag_runs(dag_id):
            self.api("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}").raise_for_status()
