"""Conflicts on real both-sides-changed pairs in the sandbox: every strategy through the AWS and
Microsoft sync flows, and a person's MANUAL decision applied to both sides and audited.

Each case links a deal to its opportunity (or referral) with a last-synced snapshot, changes
the same field on both sides (HubSpot through its API, the partner side as the sandbox's
"change made on the partner's side"), runs the sync flow, and checks both systems, the deal's
conflict properties, the conflict record and the audit.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from partner_sync.config import ConfigError
from partner_sync.mapping.aws import deal_fields_from_opportunity
from partner_sync.mapping.deals import iso_date
from partner_sync.mapping.microsoft import deal_fields_from_referral
from partner_sync.store import SyncStore
from partner_sync.sync import aws_poll, aws_push, microsoft_poll, microsoft_push
from partner_sync.sync.conflict_review import apply_decision, conflict_fingerprint, pending_questions
from partner_sync.sync.runtime import SyncRun, SyncWindow
from tests.integration.dag_runner import sync_store  # noqa: F401 - fixture
from tests.integration.seed003_world import (
    deal,
    notes_on,
    opportunity_body,
    partner_central,
    seed_deal_properties,
    seed_one,
)

OPPORTUNITY = "O7001"
REFERRAL = "ref-conflict-1"
#: the DAG the pushes run as (audit source, and actor airflow:<dag id>)
PUSH = "hubspot_deal_sync"


@pytest.fixture
def store(clean_sandbox, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'partner_sync.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_PARTNER_SYNC_DB", json.dumps({"conn_type": "generic", "extra": {"url": url}}))
    monkeypatch.delenv("AIRFLOW_VAR_PARTNER_SYNC_CONFLICT_STRATEGIES", raising=False)
    seed_deal_properties(clean_sandbox)
    return SyncStore(url)


def strategies(monkeypatch, default: str = "LAST_WRITE_WINS", **fields: str) -> None:
    config = json.dumps({"default": default, "fields": fields})
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_CONFLICT_STRATEGIES", config)


def run_as(dag_id: str = PUSH) -> SyncRun:
    return SyncRun(dag_id=dag_id, run_id=f"test-{time.monotonic_ns()}")


# --- linked pairs, changed on both sides -------------------------------------------------------


def linked_aws_pair(sandbox, store: SyncStore) -> str:
    """A deal linked to an approved opportunity; snapshot = what both held at the last sync."""
    opportunity = opportunity_body(OPPORTUNITY)
    sandbox.seed_objects("partner_central", {"opportunities": [opportunity]})
    deal_id = seed_one(sandbox, "deals", {
        "dealname": "Lake migration #AWS", "amount": "25000", "closedate": "2026-12-31",
        "dealstage": "qualifiedtobuy", "description": "Consolidate 3 warehouses into one lake.",
        "aws_opportunity_id": OPPORTUNITY,
    })
    stored = partner_central(sandbox, "opportunities")[OPPORTUNITY]
    store.upsert_link("aws", deal_id, OPPORTUNITY, snapshot=deal_fields_from_opportunity(stored))
    return deal_id


def change_opportunity(sandbox, **life_cycle_or_amount: str) -> None:
    current = partner_central(sandbox, "opportunities")[OPPORTUNITY]
    changed = opportunity_body(OPPORTUNITY)
    changed["Project"] = dict(current["Project"])
    changed["LifeCycle"] = {**changed["LifeCycle"], **{k: v for k, v in life_cycle_or_amount.items() if k != "Amount"}}
    if "Amount" in life_cycle_or_amount:
        changed["Project"]["ExpectedCustomerSpend"] = [
            {**current["Project"]["ExpectedCustomerSpend"][0], "Amount": life_cycle_or_amount["Amount"]}]
    sandbox.seed_objects("partner_central", {"opportunities": [changed]})


def change_deal(sandbox, deal_id: str, **properties: str) -> None:
    seed_one(sandbox, "deals", {**deal(sandbox, deal_id), **properties}, object_id=deal_id)


def linked_microsoft_pair(sandbox, store: SyncStore) -> str:
    sandbox.seed_objects("partner_center", {"referrals": [referral_body()]})
    deal_id = seed_one(sandbox, "deals", {
        "dealname": "Lake migration #Microsoft", "amount": "25000", "closedate": "2026-12-31",
        "dealstage": "qualifiedtobuy", "description": "Consolidate warehouses.",
        "microsoft_referral_id": REFERRAL,
    })
    stored = referral(sandbox)
    store.upsert_link("microsoft", deal_id, REFERRAL, snapshot=deal_fields_from_referral(stored),
                      partner_version=stored["eTag"])
    return deal_id


def referral_body(**details) -> dict:
    return {
        "id": REFERRAL, "direction": "Outgoing", "status": "Active", "substatus": "Accepted",
        "name": "Lake migration", "externalReferenceId": "x",
        "customerProfile": {"name": "Acme", "address": {"city": "Seattle", "country": "US"}},
        "details": {"dealValue": 25000, "currency": "USD", "closingDateTime": "2026-12-31T00:00:00Z",
                    "notes": "Consolidate warehouses.", **details},
    }


def referral(sandbox) -> dict:
    return next(r for r in sandbox.state("partner_center")["referrals"] if r["id"] == REFERRAL)


def conflicts(store: SyncStore, status: str | None = None) -> list[dict]:
    return store.list_conflicts(status=status)


def amount_of(sandbox) -> str:
    return partner_central(sandbox, "opportunities")[OPPORTUNITY]["Project"]["ExpectedCustomerSpend"][0]["Amount"]


# --- AWS: every strategy -----------------------------------------------------------------------


@pytest.mark.parametrize(("strategy", "winner"), [("HUBSPOT_WINS", "30000"), ("PARTNER_CENTRAL_WINS", "40000")])
def test_aws_fixed_strategies_put_the_winner_on_both_sides(clean_sandbox, store, monkeypatch, strategy, winner):
    deal_id = linked_aws_pair(clean_sandbox, store)
    strategies(monkeypatch, "MANUAL", amount=strategy)  # the field's override beats the default
    change_deal(clean_sandbox, deal_id, amount="30000")
    change_opportunity(clean_sandbox, Amount="40000")

    aws_push.push_deals(run_as(), [deal_id])

    assert deal(clean_sandbox, deal_id)["amount"] == winner
    assert float(amount_of(clean_sandbox)) == float(winner)
    props = deal(clean_sandbox, deal_id)
    assert props["aws_conflict_status"] == "Resolved" and props["aws_last_conflict_date"]
    assert props["aws_version"] == "1"
    assert conflicts(store) == []  # nothing waits for a person
    assert store.get_link("aws", deal_id=deal_id).snapshot["amount"] in (winner, f"{winner}.00")

    # every write the run made is in the audit, once, and every chain verifies
    entries = store.audit_history(deal_id)
    partner_writes = clean_sandbox.stats("partner_central")["by_route"].get("UpdateOpportunity", 0)
    assert partner_writes >= (1 if strategy == "HUBSPOT_WINS" else 0)
    assert len([e for e in entries if e["system"] == "aws" and e["success"]]) == partner_writes
    deal_writes = clean_sandbox.stats("hubspot")["by_route"].get("POST /crm/v3/objects/deals/batch/update", 0)
    assert deal_writes >= 1
    assert len([e for e in entries if e["entity_type"] == "deal" and e["action"] != "create_note"]) == deal_writes
    for entity in {e["entity_id"] for e in entries}:
        assert store.verify_audit_chain(entity) == []


@pytest.mark.parametrize("later", ["hubspot", "partner"])
def test_aws_last_write_wins_takes_the_later_change(clean_sandbox, store, monkeypatch, later):
    deal_id = linked_aws_pair(clean_sandbox, store)
    strategies(monkeypatch, "LAST_WRITE_WINS")
    changes = {
        "hubspot": lambda: change_deal(clean_sandbox, deal_id, amount="30000"),
        "partner": lambda: change_opportunity(clean_sandbox, Amount="40000"),
    }
    earlier = "partner" if later == "hubspot" else "hubspot"
    changes[earlier]()
    time.sleep(0.05)
    changes[later]()

    aws_poll.poll_opportunities(run_as("partner_central_opportunity_poll"), SyncWindow(None, None, full_sync=True))

    winner = "30000" if later == "hubspot" else "40000"
    assert deal(clean_sandbox, deal_id)["amount"] == winner
    assert float(amount_of(clean_sandbox)) == float(winner)
    assert deal(clean_sandbox, deal_id)["aws_conflict_status"] == "Resolved"


def test_aws_manual_conflict_waits_then_a_decision_reaches_both_sides(clean_sandbox, store, monkeypatch):
    deal_id = linked_aws_pair(clean_sandbox, store)
    strategies(monkeypatch, "LAST_WRITE_WINS", amount="MANUAL")
    change_deal(clean_sandbox, deal_id, amount="30000", closedate="2027-01-31")
    change_opportunity(clean_sandbox, Amount="40000")

    aws_push.push_deals(run_as(), [deal_id])

    # the conflicting field waits on both sides; the one-sided change still went through
    assert deal(clean_sandbox, deal_id)["amount"] == "30000" and float(amount_of(clean_sandbox)) == 40000
    assert partner_central(clean_sandbox, "opportunities")[OPPORTUNITY]["LifeCycle"]["TargetCloseDate"] == "2027-01-31"
    [pending] = conflicts(store, "pending")
    assert (pending["field"], pending["deal_id"], pending["partner_id"]) == ("amount", deal_id, OPPORTUNITY)
    assert float(pending["hubspot_value"]) == 30000 and float(pending["partner_value"]) == 40000
    assert deal(clean_sandbox, deal_id)["aws_conflict_status"] == "Pending"
    version_before = int(deal(clean_sandbox, deal_id)["aws_version"])

    # another sync meanwhile changes nothing and asks nothing new
    aws_push.push_deals(run_as(), [deal_id])
    assert len(conflicts(store, "pending")) == 1 and float(amount_of(clean_sandbox)) == 40000

    outcome = apply_decision(run_as("sync_conflict_review"), pending["id"], "Keep the partner value", "alice",
                             fingerprint=conflict_fingerprint(store.get_conflict(pending["id"])))
    assert outcome == "applied"
    props = deal(clean_sandbox, deal_id)
    assert float(props["amount"]) == 40000 and float(amount_of(clean_sandbox)) == 40000
    assert props["aws_conflict_status"] == "Resolved"
    assert props["aws_last_sync_by"] == "user:alice"
    assert int(props["aws_version"]) == version_before + 1 == store.get_link("aws", deal_id=deal_id).version
    resolved = store.get_conflict(pending["id"])
    assert (resolved.status, resolved.resolution, resolved.resolved_by) == ("resolved", "partner", "user:alice")
    assert any("resolved by user:alice" in note for note in notes_on(clean_sandbox, deal_id))

    # the next sync sees a pair in agreement: nothing to write, no new conflict
    before = clean_sandbox.stats("partner_central")["by_route"].get("UpdateOpportunity", 0)
    aws_push.push_deals(run_as(), [deal_id])
    assert clean_sandbox.stats("partner_central")["by_route"].get("UpdateOpportunity", 0) == before
    assert conflicts(store, "pending") == []

    # every write of the decision is audited with the person as the actor, and chains verify
    decision_entries = [e for e in store.audit_history(deal_id) if e["actor"] == "user:alice"]
    assert {e["action"] for e in decision_entries} >= {"resolve_conflict", "conflict_resolved"}
    assert {e["system"] for e in decision_entries if e["action"] == "resolve_conflict"} == {"hubspot"}
    for entity in {e["entity_id"] for e in store.audit_history(deal_id)}:
        assert store.verify_audit_chain(entity) == []


def test_a_custom_value_is_written_to_both_sides(clean_sandbox, store, monkeypatch):
    deal_id = linked_aws_pair(clean_sandbox, store)
    strategies(monkeypatch, "MANUAL")
    change_deal(clean_sandbox, deal_id, amount="30000")
    change_opportunity(clean_sandbox, Amount="40000")
    aws_push.push_deals(run_as(), [deal_id])
    [pending] = conflicts(store, "pending")

    assert apply_decision(run_as("sync_conflict_review"), pending["id"], "Use the value entered below", "bob",
                          entered_value="abc") == "invalid"
    assert store.get_conflict(pending["id"]).status == "pending"
    assert apply_decision(run_as("sync_conflict_review"), pending["id"], "Use the value entered below", "bob",
                          entered_value="35000") == "applied"
    assert deal(clean_sandbox, deal_id)["amount"] == "35000" and float(amount_of(clean_sandbox)) == 35000
    opportunity_entries = [e for e in store.audit_history(OPPORTUNITY) if e["action"] == "resolve_conflict"]
    assert opportunity_entries and opportunity_entries[-1]["actor"] == "user:bob"
    assert opportunity_entries[-1]["system"] == "aws"


def test_a_stale_answer_or_a_second_answer_changes_nothing(clean_sandbox, store, monkeypatch):
    deal_id = linked_aws_pair(clean_sandbox, store)
    strategies(monkeypatch, "MANUAL")
    change_deal(clean_sandbox, deal_id, amount="30000")
    change_opportunity(clean_sandbox, Amount="40000")
    aws_push.push_deals(run_as(), [deal_id])
    [pending] = conflicts(store, "pending")
    asked = conflict_fingerprint(store.get_conflict(pending["id"]))

    change_deal(clean_sandbox, deal_id, amount="31000")  # the salesperson edits again
    aws_push.push_deals(run_as(), [deal_id])  # the sync refreshes the pending conflict
    assert apply_decision(run_as("sync_conflict_review"), pending["id"], "Keep the HubSpot value", "carol",
                          fingerprint=asked) == "stale"
    assert store.get_conflict(pending["id"]).status == "pending"
    assert float(amount_of(clean_sandbox)) == 40000

    fresh = conflict_fingerprint(store.get_conflict(pending["id"]))
    assert apply_decision(run_as("sync_conflict_review"), pending["id"], "Keep the HubSpot value", "carol",
                          fingerprint=fresh) == "applied"
    assert float(amount_of(clean_sandbox)) == 31000 and deal(clean_sandbox, deal_id)["amount"] == "31000"
    writes = clean_sandbox.stats("partner_central")["by_route"].get("UpdateOpportunity", 0)
    assert apply_decision(run_as("sync_conflict_review"), pending["id"], "Keep the partner value", "dave",
                          fingerprint=fresh) == "resolved"
    assert clean_sandbox.stats("partner_central")["by_route"].get("UpdateOpportunity", 0) == writes


def test_an_invalid_strategy_variable_fails_the_sync_naming_it(clean_sandbox, store, monkeypatch):
    deal_id = linked_aws_pair(clean_sandbox, store)
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_CONFLICT_STRATEGIES", '{"fields": {"amount": "NEWEST_WINS"}}')
    with pytest.raises(ConfigError, match="partner_sync_conflict_strategies.*NEWEST_WINS"):
        aws_push.push_deals(run_as(), [deal_id])


# --- Microsoft ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("strategy", "winner"), [("HUBSPOT_WINS", "30000"), ("PARTNER_CENTRAL_WINS", "40000")])
def test_microsoft_fixed_strategies_put_the_winner_on_both_sides(clean_sandbox, store, monkeypatch, strategy, winner):
    deal_id = linked_microsoft_pair(clean_sandbox, store)
    strategies(monkeypatch, strategy)
    change_deal(clean_sandbox, deal_id, amount="30000")
    clean_sandbox.seed_objects("partner_center", {"referrals": [referral_body(dealValue=40000)]})

    microsoft_push.push_deals(run_as(), [deal_id])

    assert float(deal(clean_sandbox, deal_id)["amount"]) == float(winner)
    assert float(referral(clean_sandbox)["details"]["dealValue"]) == float(winner)
    assert conflicts(store) == []


def test_microsoft_last_write_wins_through_the_poll(clean_sandbox, store, monkeypatch):
    deal_id = linked_microsoft_pair(clean_sandbox, store)
    strategies(monkeypatch, "LAST_WRITE_WINS")
    clean_sandbox.seed_objects("partner_center", {"referrals": [referral_body(dealValue=40000)]})
    time.sleep(0.05)
    change_deal(clean_sandbox, deal_id, amount="30000")  # HubSpot wrote last

    microsoft_poll.poll_referrals(run_as("partner_center_referral_poll"), SyncWindow(None, None, full_sync=True))

    assert float(deal(clean_sandbox, deal_id)["amount"]) == 30000
    assert float(referral(clean_sandbox)["details"]["dealValue"]) == 30000


def test_microsoft_manual_decision_for_the_partner_reaches_the_deal(clean_sandbox, store, monkeypatch):
    deal_id = linked_microsoft_pair(clean_sandbox, store)
    strategies(monkeypatch, "LAST_WRITE_WINS", dealstage="MANUAL")
    change_deal(clean_sandbox, deal_id, dealstage="closedwon")
    clean_sandbox.seed_objects("partner_center", {"referrals": [{**referral_body(), "status": "Closed",
                                                                 "substatus": "Lost"}]})
    microsoft_push.push_deals(run_as(), [deal_id])
    [pending] = conflicts(store, "pending")
    assert (pending["field"], pending["partner_id"]) == ("dealstage", REFERRAL)
    assert deal(clean_sandbox, deal_id)["dealstage"] == "closedwon"

    assert apply_decision(run_as("sync_conflict_review"), pending["id"], "Keep the partner value", "erin") == "applied"
    assert deal(clean_sandbox, deal_id)["dealstage"] == "closedlost"
    assert (referral(clean_sandbox)["status"], referral(clean_sandbox)["substatus"]) == ("Closed", "Lost")
    assert store.get_conflict(pending["id"]).resolved_by == "user:erin"
    entries = [e for e in store.audit_history(deal_id) if e["actor"] == "user:erin"]
    assert {(e["entity_type"], e["action"]) for e in entries} >= {("deal", "resolve_conflict"),
                                                                 ("conflict", "conflict_resolved")}


def test_microsoft_manual_decision_for_hubspot_reaches_the_referral(clean_sandbox, store, monkeypatch):
    deal_id = linked_microsoft_pair(clean_sandbox, store)
    strategies(monkeypatch, "MANUAL")
    change_deal(clean_sandbox, deal_id, amount="30000")
    clean_sandbox.seed_objects("partner_center", {"referrals": [referral_body(dealValue=40000)]})
    microsoft_push.push_deals(run_as(), [deal_id])
    [pending] = conflicts(store, "pending")
    etag_before = referral(clean_sandbox)["eTag"]

    assert apply_decision(run_as("sync_conflict_review"), pending["id"], "Keep the HubSpot value", "frank") == "applied"
    assert float(referral(clean_sandbox)["details"]["dealValue"]) == 30000
    assert referral(clean_sandbox)["eTag"] != etag_before
    link = store.get_link("microsoft", deal_id=deal_id)
    assert link.partner_version == referral(clean_sandbox)["eTag"] and float(link.snapshot["amount"]) == 30000
    [patch] = [e for e in store.audit_history(REFERRAL) if e["action"] == "resolve_conflict"]
    assert patch["actor"] == "user:frank" and patch["changes"]["/details/dealValue"]["after"] == 30000


# --- the questions -----------------------------------------------------------------------------


def test_a_question_is_not_asked_twice_while_it_can_be_answered(clean_sandbox, store, monkeypatch):
    deal_id = linked_aws_pair(clean_sandbox, store)
    strategies(monkeypatch, "MANUAL")
    change_deal(clean_sandbox, deal_id, amount="30000")
    change_opportunity(clean_sandbox, Amount="40000")
    aws_push.push_deals(run_as(), [deal_id])
    params = {"conflict_ids": [], "max_questions": 50}
    lease = timedelta(hours=25)

    first = run_as("sync_conflict_review")
    [question] = pending_questions(first, params, lease, question_is_open=lambda run_id, index: None)
    assert "amount" in question["subject"] and "`30000`" in question["body"] and "40000" in question["body"]
    assert "changed" in question["body"] and "hubspot" in question["body"]

    still_open = lambda run_id, index: run_id == first.run_id and index == 0  # noqa: E731
    assert pending_questions(run_as("sync_conflict_review"), params, lease, question_is_open=still_open) == []
    gone = lambda run_id, index: False  # noqa: E731 - the first run's question timed out
    assert len(pending_questions(run_as("sync_conflict_review"), params, lease, question_is_open=gone)) == 1
    # asked by id, it is asked even while another question is open
    by_id = {"conflict_ids": [question["conflict_id"]], "max_questions": 50}
    assert len(pending_questions(run_as("sync_conflict_review"), by_id, lease, question_is_open=still_open)) == 1


def test_the_review_dag_with_nothing_pending_asks_nothing_and_succeeds(sync_store):  # noqa: F811 - fixture
    from tests.integration.dag_runner import run_dag

    result = run_dag("sync_conflict_review")
    assert result.ok, result.states
    assert result.states["list_pending_conflicts"] == "success"
    assert result.states["review_conflict"] == "skipped"  # zero questions: nothing mapped
    assert result.returns["apply_decisions"] == {"applied": 0, "unanswered": 0, "skipped": 0}


def test_a_value_the_partner_refuses_leaves_the_conflict_pending_and_tells_the_deal(clean_sandbox, store,
                                                                                   monkeypatch):
    deal_id = linked_aws_pair(clean_sandbox, store)
    strategies(monkeypatch, "MANUAL")
    change_deal(clean_sandbox, deal_id, closedate="2027-02-28")
    change_opportunity(clean_sandbox, TargetCloseDate="2027-04-30")
    aws_push.push_deals(run_as(), [deal_id])
    [pending] = conflicts(store, "pending")
    writes = clean_sandbox.stats("partner_central")["by_route"].get("UpdateOpportunity", 0)

    # ACE refuses a target close date in the past: checked before any call
    outcome = apply_decision(run_as("sync_conflict_review"), pending["id"], "Use the value entered below", "gina",
                             entered_value="2020-01-31")
    assert outcome == "rejected"
    assert clean_sandbox.stats("partner_central")["by_route"].get("UpdateOpportunity", 0) == writes
    assert store.get_conflict(pending["id"]).status == "pending"
    assert iso_date(deal(clean_sandbox, deal_id)["closedate"]) == "2027-02-28"
    assert any("could not be written to AWS Partner Central" in note for note in notes_on(clean_sandbox, deal_id))
    [rejected] = [e for e in store.audit_history(deal_id) if e["action"] == "conflict_decision_rejected"]
    assert rejected["actor"] == "user:gina" and rejected["success"] is False
