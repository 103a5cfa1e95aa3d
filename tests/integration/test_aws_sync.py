"""AWS Partner Central core, end to end through the DAGs: ``hubspot_deal_sync`` (``#AWS`` deals →
opportunities) and ``partner_central_opportunity_poll`` (invitations → deals, opportunity
changes → deals, replay of edits held during review), run with ``dag.test()`` against the
sandbox over HTTP, one sync store per test.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from tests.integration.dag_runner import load_dag, run_dag, sync_store  # noqa: F401  (fixture)

SOLUTION_ID = "S-0000001"
CLOSE_DATE = (date.today() + timedelta(days=120)).isoformat()
PROBLEM = "Nightly batch reports take nine hours on an ageing on-premises data warehouse."
WRITE_OPERATIONS = ("CreateOpportunity", "UpdateOpportunity", "AssociateOpportunity",
                    "StartEngagementFromOpportunityTask", "StartEngagementByAcceptingInvitationTask")


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def aws(clean_sandbox, sync_store, monkeypatch):  # noqa: F811  (sync_store is a fixture)
    """Sandbox emptied, deal properties created, a solution configured in Partner Central."""
    from partner_sync.sync.properties_setup import create_properties
    from partner_sync.sync.runtime import SyncRun

    create_properties(SyncRun())
    clean_sandbox.seed_objects("partner_central", {"solutions": [
        {"Id": SOLUTION_ID, "Name": "Data Lake Accelerator", "Status": "Active", "Category": "Consulting Service"},
    ]})
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AWS_SOLUTION_ID", SOLUTION_ID)
    return clean_sandbox


def seed_deal(sandbox, deal_id: str, company: dict | None = None, **deal: str) -> None:
    """A valid ``#AWS`` deal with its company and one contact (``company``/``deal`` override)."""
    company_id, contact_id = f"9{deal_id}", f"8{deal_id}"
    properties = {"dealname": f"Globex analytics {deal_id} #AWS", "amount": "5000", "closedate": CLOSE_DATE,
                  "dealstage": "qualifiedtobuy", "pipeline": "default", "description": PROBLEM, **deal}
    company_properties = {"name": "Globex Corporation", "industry": "COMPUTER_SOFTWARE", "website": "globex.example.com",
                          "country": "United States", "state": "WA", "city": "Seattle", "zip": "98101",
                          "address": "1 Main St"}
    company_properties.update(company or {})
    sandbox.seed_objects("hubspot", {
        "companies": [{"id": company_id, "properties": {k: v for k, v in company_properties.items() if v is not None}}],
        "contacts": [{"id": contact_id, "properties": {"email": f"pat{deal_id}@globex.example.com", "firstname": "Pat",
                                                       "lastname": "Lee", "jobtitle": "CTO", "phone": "+1 206 555 0100"}}],
        "deals": [{"id": deal_id, "properties": properties}],
        "associations": [
            {"fromObjectType": "deals", "fromObjectId": deal_id, "toObjectType": "companies", "toObjectId": company_id},
            {"fromObjectType": "deals", "fromObjectId": deal_id, "toObjectType": "contacts", "toObjectId": contact_id},
        ],
    })


def deal(sandbox, deal_id: str) -> dict:
    return next(d["properties"] for d in sandbox.state("hubspot")["deals"] if d["id"] == deal_id)


def notes_of(sandbox, deal_id: str) -> list[str]:
    state = sandbox.state("hubspot")
    note_ids = {a["fromObjectId"] if a["fromObjectType"] == "notes" else a["toObjectId"]
                for a in state["associations"]
                if {a["fromObjectType"], a["toObjectType"]} == {"notes", "deals"}
                and deal_id in (a["fromObjectId"], a["toObjectId"])}
    return [n["properties"]["hs_note_body"] for n in state["notes"] if n["id"] in note_ids]


def opportunities(sandbox) -> list[dict]:
    return sandbox.state("partner_central")["opportunities"]


def calls(sandbox, system: str = "partner_central") -> dict[str, int]:
    return sandbox.stats(system)["by_route"]


def writes(sandbox) -> int:
    return sum(calls(sandbox).get(name, 0) for name in WRITE_OPERATIONS)


def reseed_opportunity(sandbox, opportunity_id: str, **life_cycle: str) -> dict:
    """A change made on AWS's side: the opportunity stored again with new LifeCycle members."""
    current = next(o for o in opportunities(sandbox) if o["Id"] == opportunity_id)
    current["LifeCycle"] = {**current["LifeCycle"], **life_cycle}
    sandbox.seed_objects("partner_central", {"opportunities": [current]})
    return next(o for o in opportunities(sandbox) if o["Id"] == opportunity_id)


def window_ending_after(moment: str) -> datetime:
    """The poll's logical date whose 5-minute data interval contains ``moment``."""
    instant = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(timezone.utc)
    start = instant.replace(minute=instant.minute - instant.minute % 5, second=0, microsecond=0)
    return start + timedelta(minutes=5)


def push(*deal_ids: str, retries: int = 0):
    return run_dag("hubspot_deal_sync", conf={"deal_ids": list(deal_ids)}, retries=retries)


@pytest.fixture
def fast_retries(monkeypatch):
    """The AWS tasks retry at once (the DAGs' 15 s backoff would only slow the test down).

    ``dag.test()`` re-parses the DAG files into the metadata DB (the copy the execution API
    times retries with) and schedules with the DAG object itself: both are given no delay.
    """
    from partner_sync.dag_defaults import DEFAULT_ARGS

    monkeypatch.setitem(DEFAULT_ARGS, "retry_delay", timedelta(0))
    monkeypatch.setitem(DEFAULT_ARGS, "retry_exponential_backoff", 0)
    for dag_id, task_id in (("hubspot_deal_sync", "push_aws"), ("partner_central_opportunity_poll", "accept_invitations")):
        task = load_dag(dag_id).task_dict[task_id]
        monkeypatch.setattr(task, "retry_delay", timedelta(0))
        monkeypatch.setattr(task, "retry_exponential_backoff", 0)


# --- push -------------------------------------------------------------------------------------


def test_create_retried_after_timeout_makes_one_opportunity(aws, fast_retries, monkeypatch):
    from partner_sync.hooks.partner_central import PartnerCentralHook

    seed_deal(aws, "101")
    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_PARTNER_CENTRAL"])
    connection["extra"].update(timeout=1.0, max_attempts=0)  # no botocore retry: the task fails
    monkeypatch.setenv("AIRFLOW_CONN_AWS_PARTNER_CENTRAL", json.dumps(connection))
    aws.set_faults("partner_central", timeout_rate=1.0, timeout_seconds=2.5)
    create = PartnerCentralHook.create_opportunity

    def create_then_heal(self, **params):
        try:
            return create(self, **params)
        finally:
            aws.set_faults("partner_central")  # the network recovers before Airflow's retry

    monkeypatch.setattr(PartnerCentralHook, "create_opportunity", create_then_heal)

    result = push("101", retries=1)

    assert result.states["push_aws"] == "success", result.states
    assert calls(aws)["CreateOpportunity"] == 2  # the lost attempt and the retry, same ClientToken
    [opportunity] = opportunities(aws)
    assert opportunity["PartnerOpportunityIdentifier"] == "101"
    assert opportunity["RelatedEntityIdentifiers"]["Solutions"] == [SOLUTION_ID]
    properties = deal(aws, "101")
    assert properties["aws_opportunity_id"] == opportunity["Id"]
    assert properties["aws_sync_status"] == "synced"
    assert properties["aws_review_status"] == "Pending Submission"
    assert properties["aws_lifecycle_stage"] == "Qualified"
    assert properties["aws_version"] == "1"


def test_crash_between_create_and_link_resumes_without_a_second_create(aws, sync_store, fast_retries, monkeypatch):  # noqa: F811
    from partner_sync.store import SyncStore

    seed_deal(aws, "102")
    upsert_link = SyncStore.upsert_link
    crashes = []

    def crash_once(self, *args, **kwargs):
        if not crashes:
            crashes.append(1)
            raise RuntimeError("worker lost between CreateOpportunity and the link")
        return upsert_link(self, *args, **kwargs)

    monkeypatch.setattr(SyncStore, "upsert_link", crash_once)

    result = push("102", retries=1)

    assert result.states["push_aws"] == "success", result.states
    assert calls(aws)["CreateOpportunity"] == 1  # the completed reservation answered the retry
    [opportunity] = opportunities(aws)
    assert sync_store.get_link("aws", deal_id="102").partner_id == opportunity["Id"]
    assert deal(aws, "102")["aws_opportunity_id"] == opportunity["Id"]


def test_invalid_deal_gets_one_note_listing_every_problem_and_no_call(aws):
    seed_deal(aws, "103", company={"country": None, "zip": None}, description="Too short.")
    seed_deal(aws, "104", company={"state": None, "website": None})

    result = push("103", "104")

    assert result.states["push_aws"] == "success", result.states
    assert calls(aws) == {}  # not one Partner Central request
    assert result.returns["push_aws"]["invalid"] == 2
    [note] = notes_of(aws, "103")
    assert "Deal description" in note and "at least 50 characters" in note
    assert "Country/Region" in note and "Postal code" in note
    [note] = notes_of(aws, "104")
    assert "State/Region" in note and "Website URL" in note
    assert "<br>" in note
    assert deal(aws, "103")["aws_sync_status"] == deal(aws, "104")["aws_sync_status"] == "error"


def test_nothing_is_sent_when_nothing_changed(aws):
    seed_deal(aws, "105")
    assert push("105").states["push_aws"] == "success"
    before_aws, before_hubspot = calls(aws), calls(aws, "hubspot")

    result = push("105")

    assert result.returns["push_aws"] == {"unchanged": 1}
    after_aws, after_hubspot = calls(aws), calls(aws, "hubspot")
    assert {k: after_aws[k] - before_aws.get(k, 0) for k in after_aws if after_aws[k] != before_aws.get(k, 0)} == {
        "GetOpportunity": 1}
    new_hubspot = {k: after_hubspot[k] - before_hubspot.get(k, 0) for k in after_hubspot}
    assert not any(n for k, n in new_hubspot.items() if "batch/update" in k or "batch/create" in k)


def test_stale_update_conflicts_and_is_retried_on_the_new_state(aws, monkeypatch):
    from partner_sync.hooks.partner_central import PartnerCentralHook, error_code

    seed_deal(aws, "106")
    push("106")
    opportunity_id = deal(aws, "106")["aws_opportunity_id"]
    aws.seed_objects("hubspot", {"deals": [{"id": "106", "properties": {"amount": "7500", "dealstage": "contractsent"}}]})
    update = PartnerCentralHook.update_opportunity
    answers: list[str] = []

    def aws_edits_meanwhile(self, **params):
        if not answers:  # AWS changes the opportunity between our read and our write
            reseed_opportunity(aws, opportunity_id, NextSteps="Joint call with the AWS account team")
        try:
            result = update(self, **params)
        except Exception as error:
            answers.append(error_code(error) or type(error).__name__)
            raise
        answers.append("ok")
        return result

    monkeypatch.setattr(PartnerCentralHook, "update_opportunity", aws_edits_meanwhile)

    result = push("106")

    assert result.returns["push_aws"] == {"updated": 1}
    assert answers == ["ConflictException", "ok"]
    [opportunity] = opportunities(aws)
    assert opportunity["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "7500.00"
    assert opportunity["LifeCycle"]["Stage"] == "Committed"  # deal stage → LifeCycle.Stage
    assert opportunity["LifeCycle"]["NextSteps"] == "Joint call with the AWS account team"  # AWS's edit kept
    properties = deal(aws, "106")
    assert properties["aws_lifecycle_stage"] == "Committed"
    assert properties["aws_version"] == "2"


# --- review lock, poll ------------------------------------------------------------------------


def test_review_lock_defers_the_edit_and_the_poll_replays_it(aws, sync_store):  # noqa: F811
    seed_deal(aws, "107")
    push("107")
    opportunity_id = deal(aws, "107")["aws_opportunity_id"]
    reseed_opportunity(aws, opportunity_id, ReviewStatus="In review")
    aws.seed_objects("hubspot", {"deals": [{"id": "107", "properties": {
        "amount": "9000", "dealname": "Globex renamed during review #AWS"}}]})
    updates_before = calls(aws).get("UpdateOpportunity", 0)

    result = push("107")

    assert result.returns["push_aws"] == {"deferred": 1}
    assert calls(aws).get("UpdateOpportunity", 0) == updates_before  # nothing sent while in review
    [edit] = sync_store.pending_deferred_edits("aws")
    assert edit.fields == {"amount": "9000"}  # the title is frozen after submission: not even deferred
    assert any("kept and sent automatically" in note for note in notes_of(aws, "107"))
    assert deal(aws, "107")["aws_review_status"] == "In review"

    approved = reseed_opportunity(aws, opportunity_id, ReviewStatus="Approved")
    poll = run_dag("partner_central_opportunity_poll", logical_date=window_ending_after(approved["LastModifiedDate"]))

    assert poll.ok, poll.states
    [opportunity] = opportunities(aws)
    assert opportunity["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "9000.00"
    assert opportunity["Project"]["Title"] == "Globex analytics 107"  # never changed after submission
    assert sync_store.pending_deferred_edits("aws") == []
    properties = deal(aws, "107")
    assert properties["aws_review_status"] == "Approved"
    assert properties["dealname"] == "Globex renamed during review #AWS"  # not reverted either


def test_stage_changed_on_aws_reaches_the_deal_in_its_window_only(aws):
    seed_deal(aws, "108")
    push("108")
    opportunity_id = deal(aws, "108")["aws_opportunity_id"]
    changed = reseed_opportunity(aws, opportunity_id, Stage="Technical Validation", TargetCloseDate="2027-03-31")
    window = window_ending_after(changed["LastModifiedDate"])
    gets_before = calls(aws).get("GetOpportunity", 0)

    old = run_dag("partner_central_opportunity_poll", logical_date=window - timedelta(minutes=5))

    assert old.ok, old.states
    assert calls(aws).get("GetOpportunity", 0) == gets_before  # a backfill of an old window: nothing to do
    assert deal(aws, "108")["dealstage"] == "qualifiedtobuy"

    poll = run_dag("partner_central_opportunity_poll", logical_date=window)

    assert poll.returns["poll_opportunities"] == {"unchanged": 1}
    properties = deal(aws, "108")
    assert properties["dealstage"] == "presentationscheduled"
    assert properties["closedate"].startswith("2027-03-31")
    assert properties["aws_lifecycle_stage"] == "Technical Validation"
    assert writes(aws) == 2  # CreateOpportunity and AssociateOpportunity: nothing written back to AWS

    again = run_dag("partner_central_opportunity_poll", logical_date=window)

    assert again.returns["poll_opportunities"] == {"already_synced": 1}


def test_invitations_become_deals_once_even_after_a_crash(aws, sync_store, fast_retries, monkeypatch):  # noqa: F811
    from partner_sync.sandbox.partner_central_demo import demo_objects
    from partner_sync.store import SyncStore

    first, second = demo_objects()["invitations"]
    aws.seed_objects("partner_central", {"invitations": [first]})

    result = run_dag("partner_central_opportunity_poll", conf={"full_sync": True})

    assert result.ok, result.states
    [created] = aws.state("hubspot")["deals"]
    properties = created["properties"]
    assert properties["dealname"] == "Initech serverless replatform #AWS"
    assert properties["aws_invitation_id"] == first["Id"]
    [opportunity] = opportunities(aws)
    assert properties["aws_opportunity_id"] == opportunity["Id"]
    assert sync_store.get_link("aws", partner_id=opportunity["Id"]).deal_id == created["id"]
    assert any("AWS invites you to co-sell" in note for note in notes_of(aws, created["id"]))

    aws.seed_objects("partner_central", {"invitations": [second]})
    upsert_links = SyncStore.upsert_links
    crashes = []

    def crash_once(self, *args, **kwargs):
        if not crashes:
            crashes.append(1)
            raise RuntimeError("worker lost after the deal was written")
        return upsert_links(self, *args, **kwargs)

    monkeypatch.setattr(SyncStore, "upsert_links", crash_once)

    again = run_dag("partner_central_opportunity_poll", conf={"full_sync": True}, retries=1)

    assert again.states["accept_invitations"] == "success", again.states
    deals = aws.state("hubspot")["deals"]
    assert sorted(d["properties"]["aws_invitation_id"] for d in deals) == sorted([first["Id"], second["Id"]])
    assert calls(aws)["StartEngagementByAcceptingInvitationTask"] == 2  # once per invitation
    assert len(opportunities(aws)) == 2
    assert {i["Status"] for i in aws.state("partner_central")["invitations"]} == {"ACCEPTED"}


# --- rate limits ------------------------------------------------------------------------------


def test_writes_stay_within_one_per_second_and_auto_submit(aws, monkeypatch):
    from partner_sync.hooks.partner_central import PartnerCentralHook
    from partner_sync.mapping.properties import DEAL_PROPERTIES
    from partner_sync.sandbox.connections import connection_env
    from partner_sync.sandbox.process import SandboxProcess

    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AWS_AUTO_SUBMIT", "true")
    sent: list[tuple[str, float]] = []
    pace = PartnerCentralHook._pace

    def timed(self, event_name: str = "", **kwargs):
        result = pace(self, event_name, **kwargs)
        sent.append((event_name.rsplit(".", 1)[-1], time.monotonic()))
        return result

    monkeypatch.setattr(PartnerCentralHook, "_pace", timed)
    with SandboxProcess(seed="empty", rate_limits=True) as limited:
        for key, value in connection_env(limited.urls).items():
            monkeypatch.setenv(key, value)
        limited.seed_objects("hubspot", {"properties": [{**d, "objectType": "deals"} for d in DEAL_PROPERTIES]})
        limited.seed_objects("partner_central", {"solutions": [{"Id": SOLUTION_ID, "Name": "Accelerator"}]})
        for deal_id in ("111", "112"):
            seed_deal(limited, deal_id)

        result = push("111", "112")

        assert result.returns["push_aws"] == {"created": 2}
        stats = calls(limited)
        assert {stats[name] for name in ("CreateOpportunity", "AssociateOpportunity",
                                         "StartEngagementFromOpportunityTask")} == {2}  # no throttled retry
        moments = [moment for operation, moment in sent if operation in WRITE_OPERATIONS]
        assert len(moments) == 6
        assert all(later - earlier >= 1.0 for earlier, later in zip(moments, moments[1:]))
        assert deal(limited, "111")["aws_review_status"] == "Submitted"
