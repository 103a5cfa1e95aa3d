"""Fault soak on real Airflow: nothing lost, nothing doubled.

10 % errors, 5 % throttling and 2 % timeouts on all three emulators while 300 deals (half
``#AWS``, half ``#Microsoft``), 300 incoming referrals and 50 invitations sync, with stage and
contact edits on both sides in the middle and the task pushing the ``#AWS`` deals killed with
SIGKILL mid-batch. Then faults off, one final full sync, and the invariants (see
:mod:`tests.e2e.soak` for the phases and the size variables).
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.checks import airflow_figures, store_problems
from tests.e2e.figures import record
from tests.e2e.flows import SandboxView
from tests.e2e.scenario import RANGE_SOAK
from tests.e2e.soak import (
    SYSTEMS,
    SoakReport,
    SoakSize,
    logged_hook_retries,
    run_soak,
    runs_started_while_idle,
    soak_problems,
)
from tests.e2e.stack import E2EStack

pytestmark = [pytest.mark.e2e, pytest.mark.soak]


@pytest.fixture(scope="module")
def soak(local_stack: E2EStack) -> SoakReport:
    size = SoakSize.from_env()
    before = {system: local_stack.sandbox.stats(system)["total"] for system in SYSTEMS}
    runs_before = {run["dag_run_id"] for run in local_stack.rest.runs()}
    hook_retries_before = logged_hook_retries(local_stack.airflow_home)
    started = time.monotonic()
    report = run_soak(local_stack, RANGE_SOAK, size)
    figures = airflow_figures(local_stack)
    soak_runs = [run for run in local_stack.rest.runs() if run["dag_run_id"] not in runs_before]
    record(
        "fault soak",
        size=f"{size.deals} deals, {size.referrals} referrals, {size.invitations} invitations, "
             f"{size.edit_percent}% edited (full size: 300/300/50, PARTNER_SYNC_SOAK_*)",
        duration_s=round(time.monotonic() - started, 1),
        **report.timings,
        runs=len(soak_runs),
        api_calls={system: local_stack.sandbox.stats(system)["total"] - before[system] for system in SYSTEMS},
        killed=f"{report.killed.get('task_id')} of {report.killed.get('run_id')} after "
               f"{report.killed.get('partner_central_calls_before_kill')} Partner Central calls",
        retried_task_instances=figures["retried_task_instances"],
        retries=figures["retries"],
        hook_retries_logged={api: n - hook_retries_before[api]
                             for api, n in logged_hook_retries(local_stack.airflow_home).items()},
    )
    return report


def test_every_deal_has_exactly_one_partner_record_and_every_last_edit_is_on_both_sides(
    local_stack: E2EStack, soak: SoakReport
) -> None:
    problems = soak_problems(local_stack, soak)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:50])


def test_no_pending_client_token_every_write_audited_every_chain_intact(local_stack: E2EStack, soak: SoakReport) -> None:
    problems = store_problems(local_stack, SandboxView(local_stack))
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:50])


def test_the_killed_task_was_retried_by_airflow_and_succeeded(local_stack: E2EStack, soak: SoakReport) -> None:
    killed = soak.killed
    instances = [ti for ti in local_stack.rest.task_instances(killed["dag_id"], killed["run_id"])
                 if ti["task_id"] == killed["task_id"]]
    assert instances and instances[0]["try_number"] > killed["try_number"], instances
    assert instances[0]["state"] == "success", instances
    tries = local_stack.rest.get(
        f"/api/v2/dags/{killed['dag_id']}/dagRuns/{killed['run_id']}/taskInstances/{killed['task_id']}/tries")
    states = [attempt["state"] for attempt in tries["task_instances"]]
    assert states[0] == "failed" and states[-1] == "success", states


def test_every_run_settled_successfully(local_stack: E2EStack, soak: SoakReport) -> None:
    """Faults are absorbed by retries (the hooks' and Airflow's): no run is left failed."""
    figures = airflow_figures(local_stack)
    assert not figures["failed_runs"], figures["failed_runs"]


def test_the_system_comes_to_rest(local_stack: E2EStack, soak: SoakReport) -> None:
    """Once everything is in sync, no webhook echo or poll keeps triggering runs."""
    assert runs_started_while_idle(local_stack) == []
