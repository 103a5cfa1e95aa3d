"""The Airflow REST API v2 calls the end-to-end tests make (trigger, wait, task instances, XCom)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

TERMINAL_RUN_STATES = ("success", "failed")


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
        run = wait_for(lambda: self.finished_run(dag_id, run_id), timeout, f"{dag_id} run {run_id} to finish")
        if expect and run["state"] != expect:
            failed = [
                f"{ti['task_id']}[{ti.get('map_index', -1)}]={ti['state']} (try {ti.get('try_number')})"
                for ti in self.task_instances(dag_id, run_id)
                if ti["state"] not in ("success", "skipped")
            ]
            raise RunFailed(f"{dag_id} run {run_id} ended {run['state']}, expected {expect}: {failed}")
        return run

    def finished_run(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
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
