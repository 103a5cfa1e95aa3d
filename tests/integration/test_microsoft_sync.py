"""Seed 000 on Airflow, both directions: the three Microsoft DAGs run with ``dag.test()`` against
the sandbox over HTTP, and the sandbox's state is what the tests check."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from partner_sync.mapping.microsoft import HUBSPOT_STAGE_TO_MICROSOFT, MICROSOFT_TO_HUBSPOT_STAGE
from partner_sync.mapping.properties import DEAL_PROPERTY_NAMES
from tests.integration.dag_runner import data_interval_run, run_dag, sync_store  # noqa: F401 (fixture)

PUSH, POLL, SETUP = "hubspot_deal_sync", "partner_center_referral_poll", "hubspot_properties_setup"
_ids = itertools.count(7001)


@pytest.fixture
def sandbox_ready(clean_sandbox, sync_store):
    """An empty sandbox whose HubSpot account has the package's properties."""
    from partner_sync.sync.properties_setup import create_properties
    from partner_sync.sync.runtime import SyncRun

    create_properties(SyncRun(dag_id="test_setup"))
    return clean_sandbox


# ----------------------------------------------------------------------------- helpers


def seed_deal(sandbox, name: str, stage: str = "qualifiedtobuy", company: str | None = "Contoso Ltd",
              contacts: int = 1, **properties: str) -> str:
    """One deal (with a company and contacts unless told otherwise); returns its id."""
    deal_id = str(next(_ids))
    objects: dict[str, list[dict[str, Any]]] = {
        "deals": [{"id": deal_id, "properties": {"dealname": name, "dealstage": stage, "pipeline": "default",
                                                 "amount": "25000", "closedate": "2026-12-31", **properties}}],
        "companies": [], "contacts": [], "associations": [],
    }
    if company:
        company_id = str(next(_ids))
        objects["companies"].append({"id": company_id, "properties": {
            "name": company, "address": "1 Main Street", "city": "Redmond", "state": "WA", "zip": "98052",
            "country": "United States"}})
        objects["associations"].append(_association(deal_id, "companies", company_id))
    for index in range(contacts):
        contact_id = str(next(_ids))
        objects["contacts"].append({"id": contact_id, "properties": {
            "firstname": f"Person{index}", "lastname": "Example", "email": f"person{contact_id}@example.com"}})
        objects["associations"].append(_association(deal_id, "contacts", contact_id))
    sandbox.seed_objects("hubspot", {k: v for k, v in objects.items() if v})
    return deal_id


def _association(deal_id: str, to_type: str, to_id: str) -> dict[str, str]:
    return {"fromObjectType": "deals", "fromObjectId": deal_id, "toObjectType": to_type, "toObjectId": to_id}


def edit_deal(sandbox, deal_id: str, **properties: str) -> None:
    """A change a salesperson makes in HubSpot."""
    sandbox.seed_objects("hubspot", {"deals": [{"id": deal_id, "properties": properties}]})


def incoming_referral(name: str, status: str = "New", substatus: str = "Pending", **fields: Any) -> dict[str, Any]:
    referral = {
        "name": name, "status": status, "substatus": substatus, "qualification": "SalesQualified",
        "customerProfile": {"name": f"{name} Corp", "address": {"city": "Austin", "country": "US"}, "team": []},
        "details": {"notes": f"{name} needs a partner", "dealValue": 18000, "currency": "USD",
                    "closingDateTime": "2027-02-01T00:00:00Z"},
    }
    referral.update(fields)
    return referral


def change_referral(sandbox, referral_id: str, **changes: Any) -> dict[str, Any]:
    """A change Microsoft makes: the stored referral with ``changes`` (``details`` merged)."""
    referral = referrals(sandbox)[referral_id]
    for read_only in ("eTag", "updatedDateTime"):
        referral.pop(read_only, None)
    for key, value in changes.items():
        referral[key] = {**referral.get(key, {}), **value} if key == "details" else value
    sandbox.seed_objects("partner_center", {"referrals": [referral]})
    return referrals(sandbox)[referral_id]


def referrals(sandbox) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in sandbox.state("partner_center")["referrals"]}


def deals(sandbox) -> dict[str, dict[str, Any]]:
    return {d["id"]: d["properties"] for d in sandbox.state("hubspot")["deals"]}


def notes_of(sandbox, deal_id: str) -> list[str]:
    state = sandbox.state("hubspot")
    note_ids = {a["fromObjectId"] for a in state["associations"]
                if a["fromObjectType"] == "notes" and a["toObjectType"] == "deals" and a["toObjectId"] == deal_id}
    return [n["properties"]["hs_note_body"] for n in state["notes"] if n["id"] in note_ids]


def routes(sandbox, system: str) -> dict[str, int]:
    return dict(sandbox.stats(system)["by_route"])


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route, 0)}


def push(*deal_ids: str, **conf: Any):
    result = run_dag(PUSH, conf={"deal_ids": list(deal_ids), **conf})
    assert result.ok, result.states
    return result.returns["push_microsoft"]


def poll(logical_date: datetime | None = None, full_sync: bool = False):
    result = run_dag(POLL, conf={"full_sync": True} if full_sync else None, logical_date=logical_date)
    assert result.ok, result.states
    return result.returns["poll_referrals"]


def referral_of(sandbox, deal_id: str) -> dict[str, Any]:
    return referrals(sandbox)[deals(sandbox)[deal_id]["microsoft_referral_id"]]


# ----------------------------------------------------------------------------- properties


def test_properties_setup_creates_the_seed_properties_idempotently(clean_sandbox, sync_store):
    first = run_dag(SETUP)
    assert first.ok, first.states
    assert first.returns["create_properties"]["created"] == len(DEAL_PROPERTY_NAMES)

    state = clean_sandbox.state("hubspot")["properties"]
    ours = {p["name"]: p for p in state if p["objectType"] == "deals" and p["groupName"] == "partner_sync"}
    assert set(DEAL_PROPERTY_NAMES) <= set(ours)
    assert ours["microsoft_referral_id"]["type"] == "string" and ours["microsoft_referral_id"]["hasUniqueValue"]
    assert ours["microsoft_sync_status"]["type"] == "enumeration"
    assert [o["value"] for o in ours["microsoft_sync_status"]["options"]] == ["not_synced", "synced", "error"]
    for name in ("microsoft_status", "microsoft_substatus", "customer_name"):
        assert (ours[name]["type"], ours[name]["fieldType"]) == ("string", "text")

    before = routes(clean_sandbox, "hubspot")
    again = run_dag(SETUP)
    assert again.returns["create_properties"]["unchanged"] == len(DEAL_PROPERTY_NAMES)
    assert again.returns["create_properties"]["group"] == "unchanged"
    calls = delta(routes(clean_sandbox, "hubspot"), before)
    print("re-run of the properties setup:", calls)
    assert sum(calls.values()) <= 3 and not any(route.startswith("PATCH") for route in calls), calls


# ----------------------------------------------------------------------------- HubSpot → Microsoft


def test_push_creates_the_referral_with_the_seed_fields_and_writes_the_ids_back(sandbox_ready, sync_store):
    deal_id = seed_deal(sandbox_ready, "Contoso rollout #microsoft", contacts=6,
                        description="x" * 600, amount="50000.50", deal_currency_code="EUR")

    summary = push(deal_id)

    assert summary["created"] == 1 and summary["failed"] == 0
    deal = deals(sandbox_ready)[deal_id]
    referral = referrals(sandbox_ready)[deal["microsoft_referral_id"]]
    assert referral["name"] == "Contoso rollout"
    assert referral["externalReferenceId"] == deal_id
    assert (referral["status"], referral["substatus"]) == ("Active", "Accepted")
    assert len(referral["details"]["notes"]) == 500
    assert referral["details"]["dealValue"] == 50000.5 and referral["details"]["currency"] == "EUR"
    assert referral["details"]["closingDateTime"].startswith("2026-12-31")
    assert referral["customerProfile"]["name"] == "Contoso Ltd"
    assert referral["customerProfile"]["address"] == {
        "addressLine1": "1 Main Street", "city": "Redmond", "state": "WA", "postalCode": "98052", "country": "US"}
    assert len(referral["customerProfile"]["team"]) == 5  # seed limitation 5: first five contacts
    assert referral["type"] == "Independent"
    assert {k: deal[k] for k in ("microsoft_status", "microsoft_substatus", "microsoft_sync_status", "customer_name")} == {
        "microsoft_status": "Active", "microsoft_substatus": "Accepted", "microsoft_sync_status": "synced",
        "customer_name": "Contoso Ltd"}
    history = sync_store.audit_history(referral["id"])
    assert [entry["action"] for entry in history] == ["create_referral"]
    assert history[0]["changes"]["/details/dealValue"]["after"] == 50000.5

    before_pc, before_hs = routes(sandbox_ready, "partner_center"), routes(sandbox_ready, "hubspot")
    again = push(deal_id)  # nothing changed in HubSpot: not even a read of the referral
    assert again["unchanged"] == 1 and again["created"] == 0
    assert len(referrals(sandbox_ready)) == 1
    assert delta(routes(sandbox_ready, "partner_center"), before_pc) == {}
    assert "POST /crm/v3/objects/{objectType}/batch/update" not in delta(routes(sandbox_ready, "hubspot"), before_hs)


def test_push_maps_every_hubspot_stage_of_the_seed_table(sandbox_ready, sync_store):
    by_stage = {stage: seed_deal(sandbox_ready, f"Stage {stage} #Microsoft", stage=stage, contacts=0)
                for stage in HUBSPOT_STAGE_TO_MICROSOFT}

    summary = push(*by_stage.values())

    assert summary["created"] == len(HUBSPOT_STAGE_TO_MICROSOFT)
    for stage, deal_id in by_stage.items():
        referral = referral_of(sandbox_ready, deal_id)
        assert (referral["status"], referral["substatus"]) == HUBSPOT_STAGE_TO_MICROSOFT[stage], stage
        assert deals(sandbox_ready)[deal_id]["microsoft_status"] == referral["status"]


def test_push_updates_only_the_changed_fields_with_if_match(sandbox_ready, sync_store):
    deal_id = seed_deal(sandbox_ready, "Fabrikam #Microsoft")
    push(deal_id)
    referral_id = deals(sandbox_ready)[deal_id]["microsoft_referral_id"]

    edit_deal(sandbox_ready, deal_id, amount="99000", dealstage="contractsent")
    summary = push(deal_id)

    assert summary["updated"] == 1
    referral = referrals(sandbox_ready)[referral_id]
    assert referral["details"]["dealValue"] in (99000, 99000.0)
    assert (referral["status"], referral["substatus"]) == ("Active", "Engaged")
    update = [e for e in sync_store.audit_history(referral_id) if e["action"] == "update_referral"]
    assert len(update) == 1
    assert set(update[0]["changes"]) == {"/details/dealValue", "/substatus"}
    assert deals(sandbox_ready)[deal_id]["microsoft_substatus"] == "Engaged"


def test_push_adopts_a_referral_already_made_for_the_deal(sandbox_ready, sync_store):
    deal_id = seed_deal(sandbox_ready, "Adopted #Microsoft")
    existing = sandbox_ready.seed_objects("partner_center", {"referrals": [
        incoming_referral("Adopted", status="Active", substatus="Accepted", direction="Outgoing",
                          externalReferenceId=deal_id)]})["referrals"][0]
    before = routes(sandbox_ready, "partner_center")

    push(deal_id)

    assert "POST /v1.0/engagements/referrals" not in delta(routes(sandbox_ready, "partner_center"), before)
    assert list(referrals(sandbox_ready)) == [existing]
    assert deals(sandbox_ready)[deal_id]["microsoft_referral_id"] == existing
    assert sync_store.get_link("microsoft", deal_id=deal_id).partner_id == existing


def test_redelivered_push_events_create_nothing_new(sandbox_ready, sync_store):
    deal_id = seed_deal(sandbox_ready, "Webhook deal #Microsoft")
    events = [
        {"eventId": 1, "subscriptionId": 9, "portalId": 1, "occurredAt": 1, "attemptNumber": 0,
         "subscriptionType": "deal.creation", "objectId": int(deal_id)},
        {"eventId": 2, "subscriptionId": 9, "portalId": 1, "occurredAt": 2, "attemptNumber": 0,
         "subscriptionType": "deal.propertyChange", "objectId": int(deal_id), "propertyName": "amount",
         "propertyValue": "25000"},
        {"eventId": 3, "subscriptionId": 9, "portalId": 1, "occurredAt": 3, "attemptNumber": 0,
         "subscriptionType": "deal.propertyChange", "objectId": int(deal_id),
         "propertyName": "microsoft_status", "propertyValue": "New"},
    ]
    first = run_dag(PUSH, conf={"events": events})
    assert first.ok and first.returns["plan"]["microsoft"] == [deal_id]
    before = routes(sandbox_ready, "partner_center")

    second = run_dag(PUSH, conf={"events": [{**event, "attemptNumber": 1} for event in events]})

    assert second.ok and second.returns["push_microsoft"]["created"] == 0
    assert len(referrals(sandbox_ready)) == 1
    assert not any(r.startswith(("POST /v1.0", "PATCH")) for r in delta(routes(sandbox_ready, "partner_center"), before))


def test_a_deal_microsoft_refuses_is_marked_error_with_a_note_and_the_others_go_through(sandbox_ready, sync_store):
    good = seed_deal(sandbox_ready, "Good #Microsoft")
    bad = seed_deal(sandbox_ready, "No customer #Microsoft", company=None, contacts=0)

    summary = push(good, bad)

    assert (summary["created"], summary["failed"], summary["failed_ids"]) == (1, 1, [bad])
    assert deals(sandbox_ready)[good]["microsoft_sync_status"] == "synced"
    assert deals(sandbox_ready)[bad]["microsoft_sync_status"] == "error"
    [note] = notes_of(sandbox_ready, bad)
    assert "customerProfile.name" in note
    assert any(not e["success"] for e in sync_store.audit_history(bad))


def test_bad_conf_fails_the_run_at_once_naming_the_field(sandbox_ready, sync_store):
    from partner_sync.sync.deal_push import plan_push
    from partner_sync.sync.runtime import ConfError, SyncRun

    conf = {"events": [{"subscriptionType": "deal.creation", "objectId": "not-an-id"}]}
    with pytest.raises(ConfError, match=r"conf\.events\[0\]\.objectId"):
        plan_push(SyncRun(), conf)
    with pytest.raises(ConfError, match=r"conf\.deal_ids\[1\]"):
        plan_push(SyncRun(), {"deal_ids": ["1", "x"]})

    started = time.monotonic()
    result = run_dag(PUSH, conf=conf, retries=None)  # the DAG's own retries: a ConfError skips them
    assert result.state == "failed" and result.states["plan"] == "failed"
    assert time.monotonic() - started < 30


def test_a_revoked_access_token_is_refreshed_without_failing_the_run(sandbox_ready, sync_store):
    deal_id = seed_deal(sandbox_ready, "Token #Microsoft")
    push(deal_id)
    requests.post(f"{sandbox_ready.partner_center_url}/_sandbox/tokens", json={"revoke_all": True},
                  timeout=5).raise_for_status()
    edit_deal(sandbox_ready, deal_id, amount="777")
    before = routes(sandbox_ready, "partner_center")

    summary = push(deal_id)  # seed limitation 1 removed: the 401 fetches a new token, once

    assert summary["updated"] == 1
    assert delta(routes(sandbox_ready, "partner_center"), before)["POST /{tenant}/oauth2/token"] == 1
    assert referral_of(sandbox_ready, deal_id)["details"]["dealValue"] == 777


# ----------------------------------------------------------------------------- closed and 412


def test_a_closed_referral_is_never_updated_and_the_deal_gets_one_note(sandbox_ready, sync_store):
    deal_id = seed_deal(sandbox_ready, "Closing #Microsoft", amount="1000")
    push(deal_id)
    referral_id = deals(sandbox_ready)[deal_id]["microsoft_referral_id"]
    change_referral(sandbox_ready, referral_id, status="Closed", substatus="Lost")
    edit_deal(sandbox_ready, deal_id, amount="2000")
    before = routes(sandbox_ready, "partner_center")

    summary = push(deal_id)

    assert summary["blocked_closed"] == 1
    assert "PATCH /v1.0/engagements/referrals/{id}" not in delta(routes(sandbox_ready, "partner_center"), before)
    assert referrals(sandbox_ready)[referral_id]["details"]["dealValue"] == 1000
    deal = deals(sandbox_ready)[deal_id]
    assert (deal["dealstage"], deal["microsoft_status"], deal["microsoft_substatus"]) == ("closedlost", "Closed", "Lost")
    assert deal["amount"] == "2000"  # the salesperson's value stays
    [note] = notes_of(sandbox_ready, deal_id)
    assert "Closed (Lost)" in note and "amount" in note and "<br>" in note

    push(deal_id)  # a redelivery, or the next edit of another field: no second note for the same values
    assert len(notes_of(sandbox_ready, deal_id)) == 1


def test_a_referral_changed_between_read_and_patch_is_reread_and_the_update_lands(sandbox_ready, sync_store, monkeypatch):
    from partner_sync.hooks.partner_center import PartnerCenterHook

    deal_id = seed_deal(sandbox_ready, "Racing #Microsoft", amount="1000")
    push(deal_id)
    referral_id = deals(sandbox_ready)[deal_id]["microsoft_referral_id"]
    edit_deal(sandbox_ready, deal_id, amount="3000")

    original = PartnerCenterHook.get_referral
    reads: list[str] = []

    def read_then_microsoft_edits(hook, wanted_id):
        referral = original(hook, wanted_id)
        reads.append(wanted_id)
        if len(reads) == 1:  # Microsoft edits the referral right after our read: our eTag is stale
            change_referral(sandbox_ready, wanted_id, details={"notes": "Changed by Microsoft"})
        return referral

    monkeypatch.setattr(PartnerCenterHook, "get_referral", read_then_microsoft_edits)
    before = routes(sandbox_ready, "partner_center")

    summary = push(deal_id)

    assert summary["precondition_retries"] == 1 and summary["updated"] == 1
    assert delta(routes(sandbox_ready, "partner_center"), before)["PATCH /v1.0/engagements/referrals/{id}"] == 2
    referral = referrals(sandbox_ready)[referral_id]
    assert referral["details"]["dealValue"] in (3000, 3000.0)
    assert referral["details"]["notes"] == "Changed by Microsoft"
    assert deals(sandbox_ready)[deal_id]["description"] == "Changed by Microsoft"  # Microsoft's edit kept, pulled


# ----------------------------------------------------------------------------- Microsoft → HubSpot


def test_poll_maps_every_referral_status_of_the_seed_table(sandbox_ready, sync_store):
    seeded = sandbox_ready.seed_objects("partner_center", {"referrals": [
        incoming_referral(f"Status {status} {substatus}", status=status, substatus=substatus)
        for status, substatus in MICROSOFT_TO_HUBSPOT_STAGE]})["referrals"]

    summary = poll(full_sync=True)

    assert summary["created"] == len(MICROSOFT_TO_HUBSPOT_STAGE)
    by_referral = {d["microsoft_referral_id"]: d for d in deals(sandbox_ready).values()}
    for referral_id, (status, substatus) in zip(seeded, MICROSOFT_TO_HUBSPOT_STAGE):
        deal = by_referral[referral_id]
        assert deal["dealstage"] == MICROSOFT_TO_HUBSPOT_STAGE[(status, substatus)], (status, substatus)
        assert (deal["microsoft_status"], deal["microsoft_substatus"]) == (status, substatus)
        assert deal["dealname"] == f"Status {status} {substatus} #Microsoft"
        assert deal["microsoft_sync_status"] == "synced"


def test_round_trip_from_microsoft_to_hubspot_and_back(sandbox_ready, sync_store):
    [referral_id] = sandbox_ready.seed_objects("partner_center", {"referrals": [incoming_referral("Northwind")]})["referrals"]
    poll(full_sync=True)
    [(deal_id, deal)] = deals(sandbox_ready).items()
    assert deal["dealname"] == "Northwind #Microsoft" and deal["dealstage"] == "appointmentscheduled"
    assert (deal["amount"], deal["description"], deal["customer_name"]) == ("18000", "Northwind needs a partner", "Northwind Corp")
    assert deal["closedate"].startswith("2027-02-01")

    edit_deal(sandbox_ready, deal_id, dealstage="qualifiedtobuy", amount="20000")
    push(deal_id)
    referral = referrals(sandbox_ready)[referral_id]
    assert (referral["status"], referral["substatus"]) == ("Active", "Accepted")
    assert referral["details"]["dealValue"] == 18000  # seed limitation 6: incoming referrals take status only

    change_referral(sandbox_ready, referral_id, status="Closed", substatus="Won")
    summary = poll(full_sync=True)
    assert summary["updated"] == 1 and summary["created"] == 0
    deal = deals(sandbox_ready)[deal_id]
    assert (deal["dealstage"], deal["microsoft_status"], deal["microsoft_substatus"]) == ("closedwon", "Closed", "Won")
    assert deal["amount"] == "20000"  # the salesperson's amount is not taken back
    assert len(deals(sandbox_ready)) == 1


def test_round_trip_from_hubspot_to_microsoft_and_back(sandbox_ready, sync_store):
    deal_id = seed_deal(sandbox_ready, "Tailspin #Microsoft", stage="appointmentscheduled")
    push(deal_id)
    referral_id = deals(sandbox_ready)[deal_id]["microsoft_referral_id"]

    change_referral(sandbox_ready, referral_id, status="Active", substatus="Engaged", details={"dealValue": 42000})
    summary = poll(full_sync=True)

    assert summary["updated"] == 1 and summary["created"] == 0
    deal = deals(sandbox_ready)[deal_id]
    assert (deal["dealstage"], deal["amount"], deal["microsoft_substatus"]) == ("presentationscheduled", "42000", "Engaged")
    assert len(deals(sandbox_ready)) == 1


def test_poll_pages_through_more_than_250_referrals_and_a_rerun_changes_nothing(sandbox_ready, sync_store):
    now = datetime.now(timezone.utc)
    start = (now - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    inside = [incoming_referral(f"Bulk {n:03d}", status="Active", substatus="Accepted",
                                createdDateTime=(start - timedelta(hours=1)).isoformat(),
                                updatedDateTime=(start + timedelta(seconds=n)).isoformat())
              for n in range(260)]
    outside = incoming_referral("Too early", updatedDateTime=(start - timedelta(minutes=1)).isoformat(),
                                createdDateTime=(start - timedelta(hours=1)).isoformat())
    sandbox_ready.seed_objects("partner_center", {"referrals": [*inside, outside]})
    window = data_interval_run(start, 15)
    before_hs, before_pc = routes(sandbox_ready, "hubspot"), routes(sandbox_ready, "partner_center")

    first = poll(logical_date=window)

    assert (first["referrals"], first["created"], first["failed"]) == (260, 260, 0)
    names = sorted(d["dealname"] for d in deals(sandbox_ready).values())
    assert len(names) == 260 and names[0] == "Bulk 000 #Microsoft" and "Too early #Microsoft" not in names
    hubspot_calls = sum(delta(routes(sandbox_ready, "hubspot"), before_hs).values())
    assert delta(routes(sandbox_ready, "partner_center"), before_pc)["GET /v1.0/engagements/referrals"] == 3
    assert hubspot_calls <= 3 * 3, hubspot_calls  # ≤ 3 per hundred referrals
    print(f"first sync: {hubspot_calls} HubSpot calls for 260 referrals")

    before_hs = routes(sandbox_ready, "hubspot")
    again = poll(logical_date=window)
    assert (again["referrals"], again["unchanged"], again["created"], again["updated"]) == (260, 260, 0, 0)
    assert delta(routes(sandbox_ready, "hubspot"), before_hs) == {}
    assert len(deals(sandbox_ready)) == 260

    # one referral changes later: the next window updates its deal and nothing else
    changed_id = next(r["id"] for r in referrals(sandbox_ready).values() if r["name"] == "Bulk 007")
    later = start + timedelta(minutes=15)
    change_referral(sandbox_ready, changed_id, status="Closed", substatus="Won",
                    updatedDateTime=(later + timedelta(minutes=1)).isoformat())
    before_hs = routes(sandbox_ready, "hubspot")
    next_window = poll(logical_date=data_interval_run(later, 15))
    assert (next_window["referrals"], next_window["updated"]) == (1, 1)
    assert sum(delta(routes(sandbox_ready, "hubspot"), before_hs).values()) == 2  # one batch read, one batch update
    by_referral = {d["microsoft_referral_id"]: d for d in deals(sandbox_ready).values()}
    assert by_referral[changed_id]["dealstage"] == "closedwon"

    backfill = poll(logical_date=window)  # the old window again: already in sync
    assert (backfill["referrals"], backfill["updated"], backfill["created"]) == (259, 0, 0)
