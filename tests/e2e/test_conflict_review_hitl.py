"""``sync_conflict_review`` on a real Airflow (api-server + scheduler, LocalExecutor, SQLite):
MANUAL conflicts wait as human-in-the-loop questions, one is answered through the REST endpoint
the UI uses and is applied to both sides, the other times out and stays pending.

The conflicts are real: a linked deal/opportunity pair in the sandbox whose ``amount`` and
``closedate`` both sides changed, synced by the AWS push with both fields on ``MANUAL``. The
stack shares the test's sync store (a SQLite file, ``AIRFLOW_CONN_PARTNER_SYNC_DB``). The 24 h
response timeout is made to pass by moving the waiting task's deadline into the past in the
metadata DB, which is what 24 hours would do; the scheduler's own timeout sweep does the rest.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from partner_sync.dag_defaults import POOLS
from partner_sync.mapping.deals import iso_date
from partner_sync.store import SyncStore
from partner_sync.sync import aws_push
from partner_sync.sync.runtime import SyncRun
from tests.airflow_harness import AirflowDeployment
from tests.integration.seed003_world import deal, partner_central, seed_deal_properties
from tests.integration.test_conflicts import (
    OPPORTUNITY,
    amount_of,
    change_deal,
    change_opportunity,
    linked_aws_pair,
)

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "sync_conflict_review"
TASK = "review_conflict"


@pytest.fixture
def conflicts(clean_sandbox, tmp_path, monkeypatch):
    """Two pending MANUAL conflicts (amount, closedate) on one linked AWS pair."""
    url = f"sqlite:///{tmp_path / 'partner_sync.db'}"
    connection = json.dumps({"conn_type": "generic", "extra": {"url": url}})
    monkeypatch.setenv("AIRFLOW_CONN_PARTNER_SYNC_DB", connection)
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_CONFLICT_STRATEGIES", json.dumps({"default": "MANUAL"}))
    store = SyncStore(url)
    seed_deal_properties(clean_sandbox)
    deal_id = linked_aws_pair(clean_sandbox, store)
    change_deal(clean_sandbox, deal_id, amount="30000", closedate="2027-03-31")
    change_opportunity(clean_sandbox, Amount="40000", TargetCloseDate="2027-06-30")
    aws_push.push_deals(SyncRun(dag_id="hubspot_deal_sync", run_id="seed"), [deal_id])
    pending = {c["field"]: c for c in store.list_conflicts(status="pending")}
    assert set(pending) == {"amount", "closedate"}
    return {"sandbox": clean_sandbox, "store": store, "deal_id": deal_id, "pending": pending,
            "connection": connection}


@pytest.fixture
def airflow(conflicts, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags" / f"{DAG_ID}.py", dags)
    deployment = AirflowDeployment(dags_folder=dags, extra_env={
        "AIRFLOW_CONN_PARTNER_SYNC_DB": conflicts["connection"],
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # no hourly run racing the triggered one
        "AIRFLOW__CORE__PARALLELISM": "4",
    })
    with deployment:
        deployment.start_api_server()
        for pool, (slots, description) in POOLS.items():
            deployment.api("POST", "/api/v2/pools",
                           json={"name": pool, "slots": slots, "description": description}).raise_for_status()
        deployment.start_component("scheduler")
        yield deployment


def wait_for(what: str, check, airflow: AirflowDeployment, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}\n--- scheduler ---\n{airflow.log_tail('scheduler')}")


def hitl_details(airflow: AirflowDeployment, run_id: str) -> list[dict]:
    response = airflow.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/hitlDetails")
    response.raise_for_status()
    return list(response.json()["hitl_details"])


def task_states(airflow: AirflowDeployment, run_id: str) -> dict[str, str]:
    response = airflow.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    response.raise_for_status()
    return {
        f"{ti['task_id']}[{ti['map_index']}]" if ti["map_index"] >= 0 else ti["task_id"]: ti["state"]
        for ti in response.json()["task_instances"]
    }


def expire_question(airflow: AirflowDeployment, run_id: str, map_index: int) -> None:
    """What 24 hours without an answer do: the waiting task's deadline lies in the past."""
    with sqlite3.connect(airflow.home / "airflow.db", timeout=30) as db:
        updated = db.execute(
            "UPDATE task_instance SET trigger_timeout = '2000-01-01 00:00:00.000000' "
            "WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND state = 'awaiting_input'",
            (DAG_ID, run_id, TASK, map_index),
        ).rowcount
    assert updated == 1


def trigger(airflow: AirflowDeployment) -> str:
    response = airflow.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})
    assert response.status_code == 200, response.text
    return response.json()["dag_run_id"]


def questions_waiting(airflow: AirflowDeployment, run_id: str, count: int) -> dict[int, dict]:
    """The run's questions by map index, once ``count`` of them await input and the scheduler
    has taken note that their first tries paused (see :func:`pauses_noted`)."""

    def waiting():
        details = hitl_details(airflow, run_id)
        states = [d["task_instance"]["state"] for d in details]
        return details if len(details) == count and states == ["awaiting_input"] * count else None

    questions = {d["task_instance"]["map_index"]: d for d in wait_for(f"{count} question(s)", waiting, airflow)}
    wait_for("the scheduler to note the paused tries", lambda: pauses_noted(airflow, run_id, questions), airflow)
    return questions


def pauses_noted(airflow: AirflowDeployment, run_id: str, questions: dict[int, dict]) -> bool:
    """Whether the scheduler has received the executor event of each question's paused try.

    An answer given before that (a test answers within a second; a person never does) makes
    Airflow 3.3 take the late "success" of the paused try for the resumed one, which it then
    marks failed ("finished with state success, but the task instance's state attribute is
    queued"): ``apply_decisions`` finds no answer and the conflict stays pending.
    """
    log = (airflow.logs_dir / "scheduler.log").read_text(errors="replace")
    return all(
        f"Received executor event with state success for task instance TaskInstanceKey(dag_id='{DAG_ID}', "
        f"task_id='{TASK}', run_id='{run_id}', try_number={d['task_instance']['try_number']}, map_index={index})" in log
        for index, d in questions.items()
    )


def answer(airflow: AirflowDeployment, run_id: str, map_index: int, option: str) -> dict:
    """The answer, as the UI's Required Actions form sends it."""
    response = airflow.api(
        "PATCH", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK}/{map_index}/hitlDetails",
        json={"chosen_options": [option], "params_input": {"value": None}},
    )
    assert response.status_code == 200, response.text
    return response.json()


def finished(airflow: AirflowDeployment, run_id: str) -> str:
    def state():
        current = airflow.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        return current if current in ("success", "failed") else None

    return wait_for(f"run {run_id} to finish", state, airflow, timeout=180)


def test_a_manual_conflict_is_answered_in_airflow_and_applied_to_both_sides(conflicts, airflow):
    sandbox, store, deal_id = conflicts["sandbox"], conflicts["store"], conflicts["deal_id"]
    first = trigger(airflow)

    # both questions wait for a person: awaiting_input, holding no worker or pool slot
    details = questions_waiting(airflow, first, 2)
    by_field = {field: index for index, d in details.items() for field in ("amount", "closedate")
                if f": {field} of deal {deal_id}" in d["subject"]}
    amount, closedate = by_field["amount"], by_field["closedate"]
    assert details[amount]["options"] == ["Keep the HubSpot value", "Keep the partner value",
                                          "Use the value entered below"]
    assert details[amount]["defaults"] is None  # no default: a timeout never guesses
    assert "`30000`" in details[amount]["body"] and "40000" in details[amount]["body"]
    assert float(amount_of(sandbox)) == 40000 and deal(sandbox, deal_id)["amount"] == "30000"

    # a run meanwhile (the next hour's) does not ask again what a person may still answer
    second = trigger(airflow)
    assert finished(airflow, second) == "success"
    assert task_states(airflow, second)[TASK] == "skipped"

    assert answer(airflow, first, amount, "Keep the partner value")["responded_by"]["name"] == "admin"
    again = airflow.api(
        "PATCH", f"/api/v2/dags/{DAG_ID}/dagRuns/{first}/taskInstances/{TASK}/{amount}/hitlDetails",
        json={"chosen_options": ["Keep the HubSpot value"], "params_input": {}},
    )
    assert again.status_code == 409  # one answer per question
    expire_question(airflow, first, closedate)  # nobody answers the other one in time

    assert finished(airflow, first) == "success"
    states = task_states(airflow, first)
    assert states[f"{TASK}[{amount}]"] == "success"
    assert states[f"{TASK}[{closedate}]"] == "failed"  # HITLTimeoutError: no default to take
    assert states["apply_decisions"] == "success", states

    # the answer reached both sides; the person is the actor
    props = deal(sandbox, deal_id)
    assert float(props["amount"]) == 40000 and float(amount_of(sandbox)) == 40000
    assert props["aws_last_sync_by"] == "user:admin"
    resolved = store.get_conflict(conflicts["pending"]["amount"]["id"])
    assert (resolved.status, resolved.resolution, resolved.resolved_by) == ("resolved", "partner", "user:admin")
    assert [e for e in store.audit_history(deal_id) if e["action"] == "conflict_resolved"][0]["actor"] == "user:admin"
    # the unanswered one is still pending and nothing was guessed on either side
    assert store.get_conflict(conflicts["pending"]["closedate"]["id"]).status == "pending"
    assert iso_date(props["closedate"]) == "2027-03-31"
    assert partner_central(sandbox, "opportunities")[OPPORTUNITY]["LifeCycle"]["TargetCloseDate"] == "2027-06-30"
    assert props["aws_conflict_status"] == "Pending"

    # the next run asks the timed-out question again; this time HubSpot's value is kept
    third = trigger(airflow)
    [question] = questions_waiting(airflow, third, 1).values()
    assert f": closedate of deal {deal_id}" in question["subject"]
    answer(airflow, third, question["task_instance"]["map_index"], "Keep the HubSpot value")
    assert finished(airflow, third) == "success"
    props = deal(sandbox, deal_id)
    assert iso_date(props["closedate"]) == "2027-03-31"
    assert partner_central(sandbox, "opportunities")[OPPORTUNITY]["LifeCycle"]["TargetCloseDate"] == "2027-03-31"
    assert props["aws_conflict_status"] == "Resolved" and store.list_conflicts(status="pending") == []
    for entity in {e["entity_id"] for e in store.audit_history(deal_id)}:
        assert store.verify_audit_chain(entity) == []
