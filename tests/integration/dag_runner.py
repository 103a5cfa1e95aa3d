"""Running the package's DAGs with ``dag.test()`` against the sandbox, one sync store per test.

``dag.test()`` runs every task in this process (no scheduler, no executor) on the migrated
metadata DB of the ``airflow_db`` fixture, with connections from the ``AIRFLOW_CONN_*``
variables the ``sandbox`` fixture sets. Use it from any integration test module::

    from tests.integration.dag_runner import run_dag, sync_store  # noqa: F401  (fixture)

    def test_something(clean_sandbox, sync_store):
        result = run_dag("hubspot_deal_sync", conf={"deal_ids": ["101"]})
        assert result.ok, result.states
        assert result.returns["push_microsoft"]["created"] == 1

- :func:`run_dag` parses only the DAG's own file, runs the DAG, and returns a
  :class:`DagResult`: the run's state, every task's state, and the tasks' return values.
- ``sync_store`` (fixture) points ``partner_sync_db`` at a fresh SQLite file for the test and
  yields the :class:`~partner_sync.store.SyncStore` on it, for assertions on links and audit.
- :func:`data_interval_run` gives the ``logical_date`` whose manual data interval of a
  ``*/N`` cron timetable is exactly ``[start, start + N min)`` (for polls and backfills).

Failed tasks are retried by ``dag.test()`` after their retry delay; :func:`run_dag` turns
retries off by default (``retries=0``) so a failing test fails in seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"


@dataclass
class DagResult:
    """What one ``dag.test()`` run did."""

    dag_id: str
    run_id: str
    state: str
    states: dict[str, str] = field(default_factory=dict)
    returns: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state == "success"


def load_dag(dag_id: str) -> Any:
    """A fresh DAG object from ``dags/<dag_id>.py`` (that file alone is parsed).

    Fresh on every call: a run writes its conf into the task objects' params, so a DAG object
    reused for a second run would see the first run's conf.
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER / f"{dag_id}.py"))
    if dag_id not in bag.dags:
        raise LookupError(f"{dag_id}: {bag.import_errors or 'not found'}")
    return bag.dags[dag_id]


def run_dag(
    dag_id: str,
    conf: dict[str, Any] | None = None,
    logical_date: datetime | None = None,
    retries: int | None = 0,
) -> DagResult:
    """Run ``dag_id`` once with ``dag.test()``; ``retries=None`` keeps the DAG's own retries."""
    dag = load_dag(dag_id)
    if retries is not None:
        for task in dag.tasks:
            task.retries = retries
    kwargs: dict[str, Any] = {"run_conf": conf}
    if logical_date is not None:
        kwargs["logical_date"] = logical_date
    dag_run = dag.test(**kwargs)
    return _result(dag_id, dag_run.run_id, str(dag_run.state))


def _result(dag_id: str, run_id: str, state: str) -> DagResult:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    result = DagResult(dag_id=dag_id, run_id=run_id, state=state)
    with create_session() as session:
        for ti in session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                                             TaskInstance.run_id == run_id)):
            result.states[ti.task_id] = str(ti.state)
        rows = session.execute(
            select(XComModel.task_id, XComModel.value).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value",
                XComModel.map_index == -1,
            )
        )
        for task_id, value in rows:
            result.returns[task_id] = _decode(value)
    return result


def _decode(value: Any) -> Any:
    while isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            break
    return value


def data_interval_run(start: datetime, minutes: int) -> datetime:
    """The logical date whose manually inferred data interval is ``[start, start + minutes)``
    for a ``*/minutes`` cron data-interval timetable (``start`` aligned to it)."""
    return start + timedelta(minutes=minutes)


@pytest.fixture
def sync_store(tmp_path, monkeypatch, sandbox, airflow_db):
    """A fresh SQLite sync store for this test, as the ``partner_sync_db`` connection."""
    from partner_sync.store import SyncStore

    url = f"sqlite:///{tmp_path / 'partner_sync.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_PARTNER_SYNC_DB", json.dumps({"conn_type": "generic", "extra": {"url": url}}))
    return SyncStore(url)
