"""HubSpotHook against the HubSpot emulator: batching, search paging, retries, pacing, secrets."""

from __future__ import annotations

import json
import logging
import time

import pytest

from partner_sync.hooks.hubspot import HubSpotHook, HubSpotWriteUncertain
from tests.integration.hubspot_server import (  # noqa: F401 (fixtures)
    TOKEN,
    RunningHubSpot,
    hubspot_server,
    sandbox_hubspot,
    serve_hubspot,
)

pytestmark = pytest.mark.timeout(180)


def use_connection(monkeypatch: pytest.MonkeyPatch, url: str, **extra: object) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps({
        "conn_type": "http", "host": url, "password": TOKEN,
        "extra": {"webhook_secret": "not-a-header", "pipeline": "default", **extra},
    }))


@pytest.fixture
def hook(sandbox_hubspot: RunningHubSpot, monkeypatch: pytest.MonkeyPatch) -> HubSpotHook:
    use_connection(monkeypatch, sandbox_hubspot.url, timeout=5)
    return HubSpotHook(backoff_initial=0.05, backoff_max=0.2)


def unique_property(running: RunningHubSpot) -> None:
    running.api("POST", "/crm/v3/properties/deals", {
        "name": "aws_opportunity_id", "label": "AWS opportunity", "type": "string", "fieldType": "text",
        "groupName": "dealinformation", "hasUniqueValue": True}).raise_for_status()


def seed_deals(running: RunningHubSpot, count: int) -> list[str]:
    return running.seed({"deals": [{"properties": {"dealname": f"Deal {i}", "amount": str(i)}}
                                   for i in range(count)]})["deals"]


# ---------------------------------------------------------------------- objects and batches
def test_batch_update_is_sent_in_chunks_of_100(hook: HubSpotHook, sandbox_hubspot: RunningHubSpot) -> None:
    ids = seed_deals(sandbox_hubspot, 250)
    outcome = hook.batch_update("deals", [{"id": i, "properties": {"amount": "1"}} for i in ids])
    assert outcome.ok and len(outcome.results) == 250
    assert sandbox_hubspot.admin("GET", "stats")["by_route"]["POST /crm/v3/objects/deals/batch/update"] == 3


def test_batch_errors_name_the_failed_inputs(hook: HubSpotHook, sandbox_hubspot: RunningHubSpot) -> None:
    ids = seed_deals(sandbox_hubspot, 2)
    outcome = hook.batch_update("deals", [
        {"id": ids[0], "properties": {"amount": "3"}},
        {"id": "12345", "properties": {"amount": "4"}},
        {"id": ids[1], "properties": {"dealstage": "nope"}},
    ])
    assert [r["id"] for r in outcome.results] == [ids[0]]
    assert sorted((e["index"], e["id"], e["status"]) for e in outcome.errors) == [
        (1, "12345", 404), (2, ids[1], 400)]
    created = hook.batch_create("deals", [{"properties": {"dealname": "ok"}}, {"properties": {"nope": "x"}}])
    assert len(created.results) == 1 and [(e["index"], e["category"]) for e in created.errors] == [
        (1, "VALIDATION_ERROR")]


def test_batch_upsert_by_unique_property_is_idempotent(hook: HubSpotHook, sandbox_hubspot: RunningHubSpot) -> None:
    unique_property(sandbox_hubspot)
    inputs = [{"id": f"O{i}", "properties": {"dealname": f"Opp {i}"}} for i in range(150)]
    first = hook.batch_upsert("deals", inputs, "aws_opportunity_id")
    again = hook.batch_upsert("deals", inputs, "aws_opportunity_id")
    assert all(r["new"] for r in first.results) and not any(r["new"] for r in again.results)
    assert len(sandbox_hubspot.admin("GET", "state")["deals"]) == 150
    found = hook.batch_read("deals", ["O3", "O149", "missing"], ["dealname"], id_property="aws_opportunity_id")
    assert sorted(r["properties"]["aws_opportunity_id"] for r in found) == ["O149", "O3"]
    assert hook.get_object("deals", "O3", ["dealname"], id_property="aws_opportunity_id")["properties"][
        "dealname"] == "Opp 3"
    assert hook.get_object("deals", "999") is None


def test_create_update_notes_and_associations(hook: HubSpotHook, sandbox_hubspot: RunningHubSpot) -> None:
    sandbox_hubspot.admin("POST", "seed", {"scenario": "demo"})
    deal = hook.create_object("deals", {"dealname": "New #AWS"}, associations=[
        {"to": {"id": "2000000001"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}])
    assert hook.update_object("deals", deal["id"], {"amount": "10"})["properties"]["amount"] == "10"
    hook.associate("deals", deal["id"], "contacts", "3000000001")
    notes = hook.create_notes([(deal["id"], "Synced to AWS"), ("1000000001", "Another")])
    assert notes.ok and len(notes.results) == 2
    linked = hook.batch_read_associations("deals", "notes", [deal["id"], "1000000002"])
    assert len(linked[deal["id"]]) == 1 and linked["1000000002"] == []
    assert hook.batch_read_associations("deals", "companies", [deal["id"]]) == {deal["id"]: ["2000000001"]}
    hook.associate("deals", deal["id"], "companies", "2000000002")
    sandbox_hubspot.seed({"associations": [{
        "fromObjectType": "deals", "fromObjectId": deal["id"], "toObjectType": "companies",
        "toObjectId": "2000000003", "associationTypes": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}]}]})
    primary_first = hook.batch_read_associations("deals", "companies", [deal["id"]])[deal["id"]]
    assert primary_first == ["2000000003", "2000000001", "2000000002"]


def test_owners_pipeline_and_properties(hook: HubSpotHook, sandbox_hubspot: RunningHubSpot) -> None:
    sandbox_hubspot.seed({"owners": [{"id": str(100 + i), "email": f"o{i}@example.com", "firstName": "O",
                                      "lastName": str(i)} for i in range(150)]})
    assert len(hook.get_owners()) == 150
    assert hook.get_owner("101")["email"] == "o1@example.com" and hook.get_owner("99") is None
    assert [s["id"] for s in hook.get_pipeline_stages()][-2:] == ["closedwon", "closedlost"]
    assert any(p["name"] == "dealname" for p in hook.get_properties("deals"))
    group = {"name": "partner_sync", "label": "Partner sync"}
    assert [hook.ensure_property_group("deals", group) for _ in range(2)] == ["created", "unchanged"]
    definition = {"name": "aws_sync_status", "label": "AWS sync status", "type": "enumeration",
                  "fieldType": "select", "groupName": "partner_sync",
                  "options": [{"label": "Synced", "value": "synced"}]}
    assert hook.ensure_property("deals", definition) == "created"
    assert hook.ensure_property("deals", definition) == "unchanged"
    definition["options"].append({"label": "Error", "value": "error"})
    assert hook.ensure_property("deals", definition) == "updated"


# ---------------------------------------------------------------------- search
def test_search_reads_every_page(hook: HubSpotHook, sandbox_hubspot: RunningHubSpot) -> None:
    ids = seed_deals(sandbox_hubspot, 450)
    found = list(hook.search("deals", [{"filters": [{"propertyName": "amount", "operator": "GTE", "value": "0"}]}],
                             ["dealname"]))
    assert [d["id"] for d in found] == ids
    assert sandbox_hubspot.admin("GET", "stats")["by_route"]["POST /crm/v3/objects/deals/search"] == 3


def test_search_past_the_result_cap_requeries_by_object_id(hook: HubSpotHook, sandbox_hubspot: RunningHubSpot) -> None:
    ids = seed_deals(sandbox_hubspot, 1100)
    sandbox_hubspot.emulator.search_result_cap = 500
    found = [d["id"] for d in hook.search("deals", [], ["dealname"])]
    assert found == ids


# ---------------------------------------------------------------------- retries and pacing
def test_throttles_and_server_errors_are_retried(hook: HubSpotHook, sandbox_hubspot: RunningHubSpot) -> None:
    ids = seed_deals(sandbox_hubspot, 10)
    sandbox_hubspot.admin("POST", "faults", {"error_rate": 0.3, "throttle_rate": 0.2, "seed": 7})
    hook.retry_after_max = 0.05  # the injected 429 asks for 1 s; keep the test short
    for deal_id in ids:
        assert hook.get_object("deals", deal_id)["id"] == deal_id
    assert hook.batch_update("deals", [{"id": i, "properties": {"amount": "2"}} for i in ids]).ok
    requests_made = sandbox_hubspot.admin("GET", "stats")["total"]
    assert requests_made > 11  # some answers were faults, and were retried


def test_read_timeouts_are_retried(sandbox_hubspot: RunningHubSpot, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, sandbox_hubspot.url, timeout=0.3)
    hook = HubSpotHook(backoff_initial=0.05, backoff_max=0.1, max_attempts=10)
    deal_id = seed_deals(sandbox_hubspot, 1)[0]
    sandbox_hubspot.admin("POST", "faults", {"timeout_rate": 0.5, "timeout_seconds": 0.6, "seed": 3})
    for _ in range(4):
        assert hook.get_object("deals", deal_id)["id"] == deal_id


def test_a_create_that_timed_out_is_not_retried(sandbox_hubspot: RunningHubSpot, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, sandbox_hubspot.url, timeout=0.3)
    hook = HubSpotHook(backoff_initial=0.05)
    sandbox_hubspot.admin("POST", "faults", {"timeout_rate": 1.0, "timeout_seconds": 0.6})
    with pytest.raises(HubSpotWriteUncertain):
        hook.create_object("deals", {"dealname": "maybe"})
    time.sleep(0.4)
    assert sandbox_hubspot.admin("GET", "stats")["by_route"] == {"POST /crm/v3/objects/deals": 1}
    assert len(sandbox_hubspot.admin("GET", "state")["deals"]) == 1  # applied, though unanswered


def test_shared_limiter_keeps_a_burst_under_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_hubspot(rate_limits=True) as limited:
        use_connection(monkeypatch, limited.url)
        hook = HubSpotHook(max_attempts=1)  # a 429 would fail the call
        started = time.monotonic()
        for _ in range(120):
            hook.get_owners()
        wall = time.monotonic() - started
        by_route = limited.admin("GET", "stats")["by_route"]
    assert by_route == {"GET /crm/v3/owners": 120}
    assert wall >= 9.9  # 95 per rolling 10 s: the last 25 calls wait for the window


def test_the_token_never_reaches_the_logs(
    hook: HubSpotHook, sandbox_hubspot: RunningHubSpot, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox_hubspot.admin("POST", "faults", {"error_rate": 0.5, "seed": 1})
    with caplog.at_level(logging.DEBUG):
        hook.get_owners()
        hook.batch_create("deals", [{"properties": {"nope": "1"}}])
        sandbox_hubspot.admin("POST", "faults", {"error_rate": 1.0})
        with pytest.raises(Exception):
            hook.get_owners()
    assert caplog.records and TOKEN not in caplog.text
    assert "not-a-header" not in json.dumps(dict(hook.get_conn().headers))
