"""Run the whole product locally: the sandbox plus real Airflow processes pointed at it.

``python -m partner_sync.devstack`` is the README's demo command (through ``scripts/demo.sh``);
the end-to-end tests run that same command with options (``--help``: Postgres URLs, an empty
sandbox, free ports, a ready file with the addresses and process ids), so the demo cannot rot.

What it starts, each in its own process group so that stopping is total:
the sandbox (three emulators), ``airflow api-server`` (first: tasks report to it),
``scheduler``, ``dag-processor``, ``triggerer`` and, with ``CeleryExecutor``, a ``celery
worker``. Metadata DB: SQLite in ``AIRFLOW_HOME`` unless ``--metadata-url`` (or
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``) names another. Login: the simple auth manager with a
known user (``admin`` / ``admin`` by default).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from partner_sync.dag_defaults import POOLS
from partner_sync.sandbox.connections import connection_env
from partner_sync.sandbox.process import SandboxProcess, free_port

REPO = Path(__file__).resolve().parents[2]
#: signs the API server's JWTs (a local stack's, not a secret of any real deployment)
JWT_SECRET = "partner-sync-devstack-jwt-secret"
#: REST calls to a freshly started API server on a busy laptop or CI machine can take a while
HTTP_TIMEOUT_S = 60


@dataclass
class DevStack:
    """Sandbox + Airflow processes. Use as a context manager or call start()/stop()."""

    airflow_home: Path
    api_port: int = 8080
    sandbox_ports: dict[str, int] = field(default_factory=dict)
    seed: str = "demo"
    rate_limits: bool = True
    executor: str = "LocalExecutor"
    metadata_url: str | None = None
    store_url: str | None = None
    username: str = "admin"
    password: str = "admin"
    extra_env: dict[str, str] = field(default_factory=dict)
    #: trigger hubspot_properties_setup once Airflow is up (the sync writes custom properties)
    bootstrap: bool = True
    #: request timeout (seconds) of the three API connections; None: the hooks' default
    api_timeout: float | None = None
    #: ignore the caller's own ``AIRFLOW_*`` settings (a test process has its own)
    isolated: bool = False
    #: API server worker processes (each is a full Python process: keep it small locally)
    api_workers: int = 2
    #: pool name -> slots, overriding ``dag_defaults.POOLS`` (a sandbox without rate limits
    #: does not need the one-slot Partner Central pool that enforces AWS's 1 write / s)
    pool_slots: dict[str, int] = field(default_factory=dict)
    #: tasks running at once on this machine (LocalExecutor worker processes)
    parallelism: int = 8
    #: ports of the log servers of workers and triggerer (0: a free port, so that two stacks
    #: on one machine do not fight over Airflow's fixed 8793 / 8794)
    log_server_ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    sandbox: SandboxProcess | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.api_url}/partner-sync/webhooks/hubspot"

    def environment(self) -> dict[str, str]:
        home = self.airflow_home
        for name in ("worker", "triggerer"):
            if not self.log_server_ports.get(name):
                self.log_server_ports[name] = free_port()
        env = dict(os.environ)
        if self.isolated:
            env = {
                key: value for key, value in env.items()
                if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and key != "AIRFLOW_HOME"
            }
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__WORKERS": str(self.api_workers),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_server_ports["worker"]),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_server_ports["triggerer"]),
                "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
                "AIRFLOW__API_AUTH__JWT_ISSUER": "partner-sync-devstack",
                "AIRFLOW__CORE__FERNET_KEY": "",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
                # a webhook-triggered run needs several scheduler loops (queued -> running ->
                # task scheduled -> queued -> started); the default 1 s idle sleep before each
                # made webhook -> partner record take ~5 s (p50), 0.2 s makes it ~1.5 s
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            }
        )
        if self.metadata_url:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.metadata_url
        if self.executor == "CeleryExecutor":
            env.setdefault("AIRFLOW__CELERY__BROKER_URL", "redis://127.0.0.1:6379/0")
            env.setdefault(
                "AIRFLOW__CELERY__RESULT_BACKEND",
                "db+" + (self.metadata_url or f"sqlite:///{home}/airflow.db"),
            )
        assert self.sandbox is not None
        env.update(
            connection_env(
                self.sandbox.urls,
                store_url=self.store_url,
                airflow_api=(self.api_url, self.username, self.password),
                webhook_url=self.webhook_url,
                timeout=self.api_timeout,
                # client-side Partner Central pacing only where the sandbox enforces the quotas
                pacing=self.rate_limits,
            )
        )
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log_dir = self.airflow_home / "process-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.processes[name] = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self, timeout: float = 180.0) -> DevStack:
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        (self.airflow_home / "passwords.json").write_text(
            json.dumps({self.username: self.password}) + "\n"
        )
        self.sandbox = SandboxProcess(
            seed=self.seed, rate_limits=self.rate_limits, ports=dict(self.sandbox_ports)
        ).start()
        try:
            env = self.environment()
            airflow = [sys.executable, "-m", "airflow"]
            subprocess.run(
                airflow + ["db", "migrate"], env=env, check=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )
            for pool, (slots, description) in POOLS.items():
                slots = self.pool_slots.get(pool, slots)
                subprocess.run(
                    airflow + ["pools", "set", pool, str(slots), description], env=env,
                    check=True, stdout=subprocess.DEVNULL,
                )
            # the API server first: tasks report to its execution API, and a task started
            # before it answers fails (and waits for a retry) for nothing
            self._spawn("api-server", airflow + ["api-server", "--port", str(self.api_port)], env)
            self._wait_healthy(timeout)
            self._spawn("scheduler", airflow + ["scheduler"], env)
            self._spawn("dag-processor", airflow + ["dag-processor"], env)
            self._spawn("triggerer", airflow + ["triggerer"], env)
            if self.executor == "CeleryExecutor":
                self._spawn("celery-worker", airflow + ["celery", "worker", "--concurrency", "4"], env)
            if self.bootstrap:
                self.trigger("hubspot_properties_setup", run_id="devstack-properties-setup",
                             wait_for_dag=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def check_alive(self) -> None:
        """Raise if a process of the stack has exited, naming its log."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"airflow {name} exited with {process.returncode}; see "
                    f"{self.airflow_home / 'process-logs' / (name + '.log')}"
                )

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if requests.get(f"{self.api_url}/api/v2/version", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise RuntimeError("the Airflow API server did not become healthy in time")

    def token(self) -> str:
        response = requests.post(
            f"{self.api_url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=HTTP_TIMEOUT_S,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def trigger(self, dag_id: str, run_id: str, conf: dict | None = None,
                wait_for_dag: float = 0.0) -> dict:
        """Trigger a DAG run through the REST API (a run id that exists already is fine);
        with ``wait_for_dag``, first wait that long at most for the DAG to be parsed."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        deadline = time.monotonic() + wait_for_dag
        while True:
            self.check_alive()
            found = requests.get(f"{self.api_url}/api/v2/dags/{dag_id}", headers=headers, timeout=HTTP_TIMEOUT_S)
            if found.ok or time.monotonic() >= deadline:
                break
            time.sleep(1)
        found.raise_for_status()
        response = requests.post(
            f"{self.api_url}/api/v2/dags/{dag_id}/dagRuns",
            json={"dag_run_id": run_id, "logical_date": None, "conf": conf or {}},
            headers=headers, timeout=HTTP_TIMEOUT_S,
        )
        if response.status_code == 409:
            return {"dag_run_id": run_id, "existing": True}
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        self.processes.clear()
        if self.sandbox:
            self.sandbox.stop()

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


DEMO_SANDBOX_PORTS = {"hubspot": 8701, "partner_center": 8702, "partner_central": 8703}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m partner_sync.devstack",
        description="The sandbox and Airflow, connections pointing at the sandbox (the README's demo).",
    )
    parser.add_argument("--airflow-home", default=str(REPO / ".demo" / "airflow"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8080")),
                        help="API server / UI port (0: any free port)")
    parser.add_argument("--executor", default="LocalExecutor", choices=["LocalExecutor", "CeleryExecutor"])
    parser.add_argument("--rate-limits", choices=["on", "off"], default="on")
    parser.add_argument("--seed", choices=["demo", "empty"], default="demo", help="sandbox data at start")
    parser.add_argument("--sandbox-ports", choices=["fixed", "free"], default="fixed",
                        help="fixed: 8701-8703; free: any free ports")
    parser.add_argument("--metadata-url", default=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
                        help="Airflow metadata DB (default: SQLite in the Airflow home)")
    parser.add_argument("--store-url", default=None, help="sync store URL (default: SQLite in the Airflow home)")
    parser.add_argument("--api-timeout", type=float, default=None, help="API connections' request timeout (s)")
    parser.add_argument("--pool-slots", action="append", default=[], metavar="POOL=SLOTS",
                        help="override a pool's size (repeatable)")
    parser.add_argument("--ready-file", default=None,
                        help="write the stack's addresses and process ids here (JSON) once it is up")
    return parser.parse_args(argv)


def write_ready_file(stack: DevStack, path: Path) -> None:
    """What a program driving the demo needs: addresses, login, process ids (written atomically)."""
    assert stack.sandbox is not None
    info = {
        "api_url": stack.api_url, "api_port": stack.api_port, "webhook_url": stack.webhook_url,
        "username": stack.username, "password": stack.password, "airflow_home": str(stack.airflow_home),
        "executor": stack.executor, "sandbox_ports": stack.sandbox.ports,
        "processes": {name: process.pid for name, process in stack.processes.items()},
        "sandbox_pid": stack.sandbox.process.pid if stack.sandbox.process else None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(info, indent=2) + "\n")
    partial.replace(path)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    port = args.port or free_port()
    pool_slots = {}
    for item in args.pool_slots:
        name, _, slots = item.partition("=")
        if name not in POOLS or not slots.isdigit():
            raise SystemExit(f"--pool-slots {item!r}: give POOL=SLOTS with POOL one of {sorted(POOLS)}")
        pool_slots[name] = int(slots)
    stack = DevStack(
        airflow_home=Path(args.airflow_home),
        api_port=port,
        sandbox_ports=dict(DEMO_SANDBOX_PORTS) if args.sandbox_ports == "fixed" else {},
        seed=args.seed,
        executor=args.executor,
        rate_limits=args.rate_limits == "on",
        metadata_url=args.metadata_url,
        store_url=args.store_url,
        api_timeout=args.api_timeout,
        pool_slots=pool_slots,
    )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print("starting the sandbox and Airflow (first start migrates the database)...", flush=True)
    try:
        stack.start()
        assert stack.sandbox is not None
        print(
            f"\nAirflow UI:  {stack.api_url}   (login: {stack.username} / {stack.password})\n"
            f"Sandbox:     HubSpot {stack.sandbox.hubspot_url}  Partner Center "
            f"{stack.sandbox.partner_center_url}  Partner Central {stack.sandbox.partner_central_url}\n"
            f"Webhooks:    POST {stack.webhook_url}\n"
            "hubspot_properties_setup has been triggered; the polls run on their schedules,\n"
            "and hubspot_deal_sync takes {\"deal_ids\": [...]} (demo deals 1000000001-1000000006).\n"
            "Press Ctrl+C to stop everything.",
            flush=True,
        )
        if args.ready_file:
            write_ready_file(stack, Path(args.ready_file))
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(1)
        print("an Airflow process stopped; shutting down", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
