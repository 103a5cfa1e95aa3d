"""Bad input on real Airflow.

- A DAG run conf that is not what the DAG expects fails fast, with a message naming the field:
  refused at trigger time (the DAGs' Params, 400) where the schema can say it, otherwise the
  first task fails on its first try (``ConfError`` is an ``AirflowFailException``: no retry).
- Data from an API that breaks our expectations is recorded per record (audit, the deal's
  status and a note) while the other records of the same run still sync; the run succeeds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from partner_sync.mapping.deals import has_tag
from tests.e2e.checks import EXPECTED_FAILURES_PREFIX
from tests.e2e.flows import DEAL_SYNC, REFERRAL_POLL, SandboxView, wait_webhook_runs
from tests.e2e.scenario import RANGE_BAD_INPUT, hubspot_deals, incoming_referrals
from tests.e2e.stack import E2EStack

pytestmark = pytest.mark.e2e

#: run ids of this module's deliberately failing runs (other modules ignore them)
RUN_PREFIX = EXPECTED_FAILURES_PREFIX

REFUSED_AT_TRIGGER = [
    ("hubspot_deal_sync", {"deal_ids": "not-a-list"}, "deal_ids"),
    ("hubspot_deal_sync", {"deal_ids": ["abc"]}, "deal_ids"),
    ("hubspot_deal_sync", {"assign": {"deal_id": "1", "email": "x@example.com"}}, "assign"),
    ("partner_center_referral_poll", {"full_sync": "yes"}, "full_sync"),
    ("partner_central_opportunity_poll", {"full_sync": 1}, "full_sync"),
    ("contact_company_sync", {"contact_ids": [1]}, "contact_ids"),
    ("partner_resource_sync", {"snapshot": {"opportunity_id": "not-an-id"}}, "snapshot"),
    ("sync_conflict_review", {"max_questions": 0}, "max_questions"),
]

FAILED_ON_FIRST_TRY = [
    ("hubspot_deal_sync", {"events": [{"bogus": 1}]}, "plan", "conf.events[0].subscriptionType"),
    ("hubspot_deal_sync", {"events": [{"subscriptionType": "deal.creation", "objectId": "x1"}]}, "plan",
     "conf.events[0].objectId"),
    ("hubspot_deal_sync", {"deal_id": ["1000000001"]}, "plan", "deal_ids"),
    ("audit_export", {"full_sync": True}, "export_interval", "conf.full_sync"),
]


@pytest.mark.parametrize(("dag_id", "conf", "field"), REFUSED_AT_TRIGGER,
                         ids=[f"{d}-{f}" for d, _, f in REFUSED_AT_TRIGGER])
def test_a_conf_the_params_refuse_is_a_400_naming_the_field(local_stack: E2EStack, dag_id: str,
                                                             conf: dict[str, Any], field: str) -> None:
    before = len(local_stack.rest.runs(dag_id))
    response = local_stack.rest.trigger(dag_id, None, conf)
    assert response.status_code == 400, (response.status_code, response.text[:500])
    assert f"param {field}" in response.json()["detail"], response.text[:500]
    assert len(local_stack.rest.runs(dag_id)) == before, "a refused conf still created a run"


def test_a_conf_only_the_task_can_judge_fails_the_run_on_its_first_try_naming_the_field(local_stack: E2EStack) -> None:
    triggered = []
    for index, (dag_id, conf, task_id, message) in enumerate(FAILED_ON_FIRST_TRY):
        run_id = local_stack.rest.trigger_ok(dag_id, f"{RUN_PREFIX}conf_{index}", conf)
        triggered.append((dag_id, run_id, task_id, message, time.monotonic()))
    problems = []
    for dag_id, run_id, task_id, message, _started in triggered:
        run = local_stack.rest.wait_run(dag_id, run_id, timeout=180, expect=None)
        instance = next(ti for ti in local_stack.rest.task_instances(dag_id, run_id) if ti["task_id"] == task_id)
        errors = task_errors(local_stack, dag_id, run_id, task_id, 1)
        if run["state"] != "failed" or instance["state"] != "failed" or instance["try_number"] != 1:
            problems.append(f"{dag_id} {run_id}: run {run['state']}, {task_id} {instance['state']} "
                            f"after {instance['try_number']} tries (expected failed on the first)")
        if not any(message in error for error in errors):
            problems.append(f"{dag_id} {run_id}: no error naming {message!r} in the task log: {errors}")
        if (instance.get("duration") or 0) > 60:
            problems.append(f"{dag_id} {run_id}: took {instance['duration']} s to fail")
    assert not problems, "\n".join(problems)


def task_errors(stack: E2EStack, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[str]:
    """The exception messages of one try, from its log as the REST API serves it."""
    response = stack.rest.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                                  headers={"Accept": "application/json"})
    response.raise_for_status()
    return [f"{detail.get('exc_type')}: {detail.get('exc_value')}"
            for line in response.json()["content"] if isinstance(line, dict)
            for detail in line.get("error_detail") or []]


def test_referrals_of_an_unexpected_shape_are_recorded_one_by_one_and_the_rest_sync(local_stack: E2EStack) -> None:
    referrals = incoming_referrals(6, "BadShape")
    referrals[0]["details"] = "not an object"  # an object everywhere else
    referrals[1]["name"] = 12345  # a string everywhere else
    referrals[2]["details"]["dealValue"] = "lots"  # a number everywhere else: the deal gets no amount
    del referrals[3]["customerProfile"]  # always present: the deal has no customer name
    malformed, readable = referrals[:2], referrals[2:]
    local_stack.seed("partner_center", {"referrals": referrals})
    run_id = local_stack.rest.trigger_ok(REFERRAL_POLL, f"{RUN_PREFIX}referral_shapes", {"full_sync": True})
    local_stack.rest.wait_run(REFERRAL_POLL, run_id, timeout=240)
    summary = local_stack.rest.xcom_value(REFERRAL_POLL, run_id, "poll_referrals")
    view, store = SandboxView(local_stack), local_stack.store()
    for referral in malformed:
        assert not view.deals_with("microsoft_referral_id", referral["id"]), referral["id"]
        failures = [e for e in store.audit_history(referral["id"]) if not e["success"]]
        assert failures and referral["id"] in failures[-1]["error"], (referral["id"], failures)
    for referral in readable:
        deals = view.deals_with("microsoft_referral_id", referral["id"])
        assert len(deals) == 1 and has_tag(view.deals[deals[0]]["dealname"], "#Microsoft"), (referral["id"], deals)
    assert summary.get("malformed", 0) >= len(malformed), summary


def test_a_deal_aws_would_reject_gets_an_error_and_a_note_and_no_call_while_the_others_sync(local_stack: E2EStack) -> None:
    batch = hubspot_deals(RANGE_BAD_INPUT, {"#AWS": 2}, "BadDeal")
    good_id, bad_id = batch.deal_ids["#AWS"]
    # the bad deal: no company, no contact, a description far too short for ACE
    batch.objects["deals"][1]["properties"]["description"] = "tbd"
    batch.objects["associations"] = [a for a in batch.objects["associations"]
                                     if bad_id not in (a["fromObjectId"], a["toObjectId"])]
    local_stack.seed("hubspot", batch.objects)
    wait_webhook_runs(local_stack)
    run_id = local_stack.rest.trigger_ok(DEAL_SYNC, f"{RUN_PREFIX}aws_rules", {"deal_ids": [good_id, bad_id]})
    local_stack.rest.wait_run(DEAL_SYNC, run_id, timeout=240)
    view = SandboxView(local_stack)
    opportunities_of = view.opportunities_of_deal()
    assert len(opportunities_of.get(good_id, [])) == 1, opportunities_of.get(good_id)
    assert view.deals[good_id].get("aws_sync_status") == "synced"
    assert not opportunities_of.get(bad_id), "a deal ACE would reject reached Partner Central"
    assert view.deals[bad_id].get("aws_sync_status") == "error", view.deals[bad_id]
    notes = view.notes_of(bad_id)
    assert notes and any("description" in note.lower() or "company" in note.lower() for note in notes), notes
