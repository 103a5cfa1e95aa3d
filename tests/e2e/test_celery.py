"""The same end-to-end scenario on the distributed topology ``docker-compose.yaml`` describes:
CeleryExecutor with the machine's Redis as broker (DB 5, a queue of the stack's own), Postgres as
metadata DB, result backend and sync store, and every Airflow service as its own process
(api-server, scheduler, dag-processor, triggerer, celery worker).

Runs first among the e2e modules and stops its stack before the LocalExecutor one starts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.checks import airflow_figures, check_core_outcome
from tests.e2e.figures import record
from tests.e2e.flows import DEAL_SYNC, FlowReport, run_core_flows
from tests.e2e.scenario import RANGE_CORE
from tests.e2e.secrets_scan import scan_stack
from tests.e2e.stack import LEFTOVERS, E2EStack, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    home = Path(os.environ.get("PARTNER_SYNC_E2E_CELERY_HOME") or tmp_path_factory.mktemp("airflow-celery"))
    with running_stack(home, "CeleryExecutor") as stack:
        record("CeleryExecutor stack", start_s=round(stack.started_in_s, 1), airflow_home=str(home))
        yield stack
    record("CeleryExecutor stack", processes_left_after_the_demo_stopped=len(LEFTOVERS.get(stack.stack_id, [])))


@pytest.fixture(scope="module")
def celery_report(celery_stack: E2EStack) -> FlowReport:
    started = time.monotonic()
    report = run_core_flows(celery_stack, "Celery", RANGE_CORE)
    record("core scenario (CeleryExecutor)", duration_s=round(time.monotonic() - started, 1), **report.timings)
    return report


def test_the_core_scenario_has_the_same_outcome_on_celery_and_redis(celery_stack: E2EStack, celery_report: FlowReport) -> None:
    check_core_outcome(celery_stack, celery_report)
    figures = airflow_figures(celery_stack)
    record("core scenario (CeleryExecutor)", **figures)
    assert not figures["failed_runs"], figures["failed_runs"]
    webhook_runs = [run for run in celery_stack.rest.runs(DEAL_SYNC) if run["dag_run_id"].startswith("webhook__")]
    assert webhook_runs and all(run["state"] == "success" for run in webhook_runs)


def test_every_task_ran_on_the_celery_worker(celery_stack: E2EStack, celery_report: FlowReport) -> None:
    """The scheduler handed the tasks to Redis and the worker ran them (its log names each)."""
    worker_log = (celery_stack.airflow_home / "process-logs" / "celery-worker.log").read_text(errors="replace")
    instances = [ti for ti in celery_stack.rest.task_instances() if ti["state"] == "success"]
    assert instances
    missing = [f"{ti['dag_id']}.{ti['task_id']} {ti['dag_run_id']}" for ti in instances if ti["id"] not in worker_log]
    assert not missing, f"{len(missing)} task instance(s) the Celery worker never received: {missing[:10]}"
    assert {ti["queue"] for ti in instances} == {celery_stack.queue}


def test_no_secret_anywhere_on_the_celery_stack(celery_stack: E2EStack, celery_report: FlowReport) -> None:
    report = scan_stack(celery_stack)
    record("secret hygiene (CeleryExecutor)", **report.searched, hits=len(report.hits))
    assert report.searched.get("task log files", 0) > 10, report.searched
    assert not report.hits, "secrets found:\n" + "\n".join(report.hits[:50])
