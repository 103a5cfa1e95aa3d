"""Every DAG file imports cleanly, fast, without I/O, and follows the package's conventions."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
SPEC_DAG_IDS = {
    "hubspot_deal_sync", "partner_center_referral_poll", "partner_central_opportunity_poll",
    "partner_central_engagement_sync", "contact_company_sync", "partner_resource_sync",
    "sync_conflict_review", "audit_export", "hubspot_properties_setup",
}
API_POOLS = {"hubspot_api", "partner_central_api", "partner_center_api"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_dag_of_the_spec_exists_one_per_file(dagbag):
    assert set(dagbag.dag_ids) == SPEC_DAG_IDS
    assert len(DAG_FILES) == len(SPEC_DAG_IDS)
    for path in DAG_FILES:
        assert path.stem in SPEC_DAG_IDS, f"{path.name}: one DAG per file, named after its dag_id"


@pytest.mark.parametrize("dag_id", sorted(SPEC_DAG_IDS))
def test_dag_follows_the_conventions(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags, "tags"
    assert dag.catchup is False
    assert dag.doc_md, "doc_md"
    assert dag.max_active_runs is not None
    for task in dag.tasks:
        if task.task_type.startswith("HITL"):
            continue  # a human answers once; retrying a question makes no sense
        assert task.retries >= 2, f"{task.task_id}: retries"
        assert task.retry_exponential_backoff, f"{task.task_id}: exponential backoff"
        assert task.max_retry_delay is not None and task.max_retry_delay <= timedelta(hours=1)


def test_tasks_that_call_an_api_run_in_an_api_pool(dagbag):
    unpooled = []
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if dag.dag_id == "audit_export" or task.task_type.startswith("HITL"):
                continue
            if task.pool not in API_POOLS:
                unpooled.append(f"{dag.dag_id}.{task.task_id}")
    assert unpooled == []


def test_scheduled_dags_use_data_interval_timetables(dagbag):
    from airflow.sdk import CronDataIntervalTimetable

    for dag_id in ("partner_center_referral_poll", "partner_central_opportunity_poll",
                   "partner_central_engagement_sync", "contact_company_sync",
                   "partner_resource_sync", "audit_export"):
        timetable = dagbag.dags[dag_id].timetable
        assert isinstance(timetable, CronDataIntervalTimetable) or "DataInterval" in type(timetable).__name__


PARSE_PROBE = r"""
import json, socket, sys, time, runpy
def refuse(*a, **k):
    raise RuntimeError("network I/O at DAG parse time")
socket.socket.connect = refuse
socket.create_connection = refuse
import airflow.sdk
from airflow.sdk import Variable, BaseHook
def no_lookup(*a, **k):
    raise RuntimeError("Variable/Connection lookup at DAG parse time")
Variable.get = staticmethod(no_lookup)
BaseHook.get_connection = classmethod(no_lookup)
start = time.perf_counter()
runpy.run_path(sys.argv[1])
print(json.dumps({"parse_s": time.perf_counter() - start}))
"""


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_does_no_io_at_parse_time(path, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, str(path)],
        capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "AIRFLOW_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    json.loads(result.stdout.strip().splitlines()[-1])
