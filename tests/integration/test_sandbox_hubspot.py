"""The HubSpot emulator behaves like the CRM API: checked with HubSpot's own SDK and over HTTP."""

from __future__ import annotations

import json
import time

import pytest
import requests
from hubspot import Client
from hubspot.crm.deals import (
    BatchInputSimplePublicObjectBatchInput,
    PublicObjectSearchRequest,
    SimplePublicObjectInputForCreate,
)
from hubspot.utils.signature import Signature

from tests.integration.hubspot_server import (  # noqa: F401 (fixtures)
    TOKEN,
    RunningHubSpot,
    hubspot_server,
    sandbox_hubspot,
    serve_hubspot,
    webhook_receiver,
)

pytestmark = pytest.mark.timeout(120)


def sdk(running: RunningHubSpot) -> Client:
    return Client.create(access_token=TOKEN, host=running.url)


def seed_deals(running: RunningHubSpot, count: int, **properties: str) -> list[str]:
    deals = [{"properties": {"dealname": f"Deal {i:05d}", "amount": str(i), **properties}} for i in range(count)]
    return running.seed({"deals": deals})["deals"]


# ---------------------------------------------------------------------- the official SDK
def test_sdk_creates_batch_updates_searches_and_associates(sandbox_hubspot: RunningHubSpot) -> None:
    client = sdk(sandbox_hubspot)
    company = sandbox_hubspot.seed({"companies": [{"properties": {"name": "Acme", "industry": "COMPUTER_SOFTWARE"}}]})
    deal = client.crm.deals.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"dealname": "Migration #AWS", "amount": "1000", "closedate": "2027-01-31"}))
    assert deal.properties["closedate"] == "2027-01-31T00:00:00.000Z"

    updated = client.crm.deals.batch_api.update(BatchInputSimplePublicObjectBatchInput(
        inputs=[{"id": deal.id, "properties": {"amount": "2500"}}]))
    assert updated.results[0].properties["amount"] == "2500"

    found = client.crm.deals.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "amount", "operator": "GTE", "value": "2000"}]}],
        properties=["dealname", "amount"]))
    assert found.total == 1 and found.results[0].properties["dealname"] == "Migration #AWS"

    client.crm.associations.v4.basic_api.create_default("deals", deal.id, "companies", company["companies"][0])
    links = client.crm.associations.v4.basic_api.get_page("deals", deal.id, "companies")
    assert [(r.to_object_id, r.association_types[0].type_id) for r in links.results] == [
        (company["companies"][0], 341)]
    back = client.crm.associations.v4.basic_api.get_page("companies", company["companies"][0], "deals")
    assert back.results[0].association_types[0].type_id == 342


def test_sdk_reads_owners_and_the_default_pipeline(sandbox_hubspot: RunningHubSpot) -> None:
    sandbox_hubspot.admin("POST", "seed", {"scenario": "demo"})
    client = sdk(sandbox_hubspot)
    assert len(client.crm.owners.owners_api.get_page().results) == 3
    stages = [s.id for s in client.crm.pipelines.pipelines_api.get_all("deals").results[0].stages]
    assert stages == ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                      "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"]


# ---------------------------------------------------------------------- auth, errors, stats
def test_requests_without_a_bearer_token_get_401(sandbox_hubspot: RunningHubSpot) -> None:
    response = sandbox_hubspot.api("GET", "/crm/v3/objects/deals", token=None)
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"


def test_stats_count_routes_by_method_and_object_type(sandbox_hubspot: RunningHubSpot) -> None:
    deal_id = seed_deals(sandbox_hubspot, 1)[0]
    sandbox_hubspot.api("PATCH", f"/crm/v3/objects/deals/{deal_id}", {"properties": {"amount": "5"}})
    sandbox_hubspot.api("POST", "/crm/v3/objects/deals/batch/update", {"inputs": [{"id": deal_id, "properties": {}}]})
    assert sandbox_hubspot.admin("GET", "stats")["by_route"] == {
        "PATCH /crm/v3/objects/deals/{id}": 1, "POST /crm/v3/objects/deals/batch/update": 1}


def test_unknown_property_is_rejected_like_the_real_api(sandbox_hubspot: RunningHubSpot) -> None:
    response = sandbox_hubspot.api("POST", "/crm/v3/objects/deals", {"properties": {"dealname": "x", "nope": "1"}})
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    problems = json.loads(body["message"].split(": ", 1)[1])
    assert problems[0]["error"] == "PROPERTY_DOESNT_EXIST" and problems[0]["name"] == "nope"
    assert sandbox_hubspot.admin("GET", "state")["deals"] == []


@pytest.mark.parametrize(("object_type", "properties", "code"), [
    ("companies", {"industry": "SOFTWARE_STUFF"}, "INVALID_OPTION"),
    ("deals", {"dealstage": "negotiation"}, "INVALID_OPTION"),
    ("deals", {"hubspot_owner_id": "42"}, "INVALID_OPTION"),
    ("deals", {"amount": "lots"}, "INVALID_FLOAT"),
    ("deals", {"hs_object_id": "1"}, "READ_ONLY_VALUE"),
])
def test_invalid_values_are_rejected(sandbox_hubspot: RunningHubSpot, object_type: str, properties: dict, code: str) -> None:
    response = sandbox_hubspot.api("POST", f"/crm/v3/objects/{object_type}", {"properties": properties})
    assert response.status_code == 400
    assert json.loads(response.json()["message"].split(": ", 1)[1])[0]["error"] == code


def test_date_properties_must_be_midnight_utc(sandbox_hubspot: RunningHubSpot) -> None:
    sandbox_hubspot.api("POST", "/crm/v3/properties/deals", {
        "name": "kickoff", "label": "Kickoff", "type": "date", "fieldType": "date", "groupName": "dealinformation"})
    bad = sandbox_hubspot.api("POST", "/crm/v3/objects/deals", {"properties": {"kickoff": "1767225600001"}})
    assert bad.status_code == 400 and "not midnight" in bad.text
    good = sandbox_hubspot.api("POST", "/crm/v3/objects/deals", {"properties": {"kickoff": "1767225600000"}})
    assert good.status_code == 201 and good.json()["properties"]["kickoff"] == "2026-01-01"


def test_patch_without_changes_is_200_and_writes_nothing(sandbox_hubspot: RunningHubSpot) -> None:
    deal_id = seed_deals(sandbox_hubspot, 1)[0]
    before = sandbox_hubspot.api("GET", f"/crm/v3/objects/deals/{deal_id}").json()
    time.sleep(0.01)
    again = sandbox_hubspot.api("PATCH", f"/crm/v3/objects/deals/{deal_id}", {"properties": {"amount": "0"}})
    assert again.status_code == 200
    assert again.json()["properties"]["hs_lastmodifieddate"] == before["properties"]["hs_lastmodifieddate"]
    changed = sandbox_hubspot.api("PATCH", f"/crm/v3/objects/deals/{deal_id}", {"properties": {"amount": "7"}})
    assert changed.json()["properties"]["hs_lastmodifieddate"] > before["properties"]["hs_lastmodifieddate"]


def test_fault_injection_answers_with_hubspot_error_shapes(sandbox_hubspot: RunningHubSpot) -> None:
    sandbox_hubspot.admin("POST", "faults", {"error_rate": 1.0})
    response = sandbox_hubspot.api("GET", "/crm/v3/objects/deals")
    assert response.status_code == 500 and response.json()["status"] == "error"
    sandbox_hubspot.admin("POST", "faults", {"throttle_rate": 1.0})
    response = sandbox_hubspot.api("GET", "/crm/v3/objects/deals")
    assert response.status_code == 429 and response.json()["errorType"] == "RATE_LIMIT"


# ---------------------------------------------------------------------- batch
def test_batch_of_more_than_100_inputs_is_400(sandbox_hubspot: RunningHubSpot) -> None:
    inputs = [{"properties": {"dealname": str(i)}} for i in range(101)]
    response = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/batch/create", {"inputs": inputs})
    assert response.status_code == 400 and "101" in response.json()["message"]


def test_batch_update_reports_failures_per_record_with_207(sandbox_hubspot: RunningHubSpot) -> None:
    first, second = seed_deals(sandbox_hubspot, 2)
    response = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/batch/update", {"inputs": [
        {"id": first, "properties": {"amount": "10"}},
        {"id": "999", "properties": {"amount": "11"}},
        {"id": second, "properties": {"dealstage": "bogus"}, "objectWriteTraceId": "t2"},
    ]})
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == [first]
    assert body["numErrors"] == 2
    by_category = {e["category"]: e for e in body["errors"]}
    assert by_category["OBJECT_NOT_FOUND"]["context"]["ids"] == ["999"]
    assert by_category["VALIDATION_ERROR"]["context"]["objectWriteTraceId"] == ["t2"]


def test_batch_read_missing_ids_are_a_207_error(sandbox_hubspot: RunningHubSpot) -> None:
    deal_id = seed_deals(sandbox_hubspot, 1)[0]
    response = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/batch/read",
                           {"inputs": [{"id": deal_id}, {"id": "404"}], "properties": ["dealname"]})
    assert response.status_code == 207
    assert response.json()["errors"][0]["context"]["ids"] == ["404"]


def test_unique_property_drives_idempotent_upsert_and_rejects_duplicates(sandbox_hubspot: RunningHubSpot) -> None:
    created = sandbox_hubspot.api("POST", "/crm/v3/properties/deals", {
        "name": "aws_opportunity_id", "label": "AWS opportunity", "type": "string", "fieldType": "text",
        "groupName": "dealinformation", "hasUniqueValue": True})
    assert created.status_code == 201
    upsert = {"inputs": [{"idProperty": "aws_opportunity_id", "id": "O123", "properties": {"dealname": "A"}}]}
    first = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/batch/upsert", upsert).json()["results"][0]
    second = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/batch/upsert", upsert).json()["results"][0]
    assert first["new"] is True and second["new"] is False and first["id"] == second["id"]
    assert len(sandbox_hubspot.admin("GET", "state")["deals"]) == 1
    duplicate = sandbox_hubspot.api("POST", "/crm/v3/objects/deals", {"properties": {"aws_opportunity_id": "O123"}})
    assert duplicate.status_code == 409 and duplicate.json()["category"] == "CONFLICT"
    read = sandbox_hubspot.api("GET", "/crm/v3/objects/deals/O123", params={"idProperty": "aws_opportunity_id"})
    assert read.json()["id"] == first["id"]


def test_notes_are_created_with_inline_associations(sandbox_hubspot: RunningHubSpot) -> None:
    deal_id = seed_deals(sandbox_hubspot, 1)[0]
    response = sandbox_hubspot.api("POST", "/crm/v3/objects/notes/batch/create", {"inputs": [{
        "properties": {"hs_note_body": "Synced", "hs_timestamp": "2026-11-22T10:00:00Z"},
        "associations": [{"to": {"id": deal_id},
                          "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}]}]}]})
    assert response.status_code == 201
    note_id = response.json()["results"][0]["id"]
    links = sandbox_hubspot.api("POST", "/crm/v4/associations/deals/notes/batch/read", {"inputs": [{"id": deal_id}]})
    assert links.json()["results"][0]["to"][0]["toObjectId"] == int(note_id)


# ---------------------------------------------------------------------- search
OPERATOR_CASES = [
    ({"operator": "EQ", "value": "deal 00003"}, [3]),
    ({"operator": "NEQ", "value": "Deal 00003"}, [0, 1, 2, 4]),
    ({"operator": "LT", "value": "2", "propertyName": "amount"}, [0, 1]),
    ({"operator": "LTE", "value": "2", "propertyName": "amount"}, [0, 1, 2]),
    ({"operator": "GT", "value": "2", "propertyName": "amount"}, [3, 4]),
    ({"operator": "GTE", "value": "2", "propertyName": "amount"}, [2, 3, 4]),
    ({"operator": "BETWEEN", "value": "1", "highValue": "3", "propertyName": "amount"}, [1, 2, 3]),
    ({"operator": "IN", "values": ["Deal 00001", "Deal 00004"]}, [1, 4]),
    ({"operator": "NOT_IN", "values": ["Deal 00001", "Deal 00004"]}, [0, 2, 3]),
    ({"operator": "HAS_PROPERTY", "propertyName": "description"}, [0, 2, 4]),
    ({"operator": "NOT_HAS_PROPERTY", "propertyName": "description"}, [1, 3]),
    ({"operator": "CONTAINS_TOKEN", "value": "#AWS", "propertyName": "description"}, [0, 4]),
    ({"operator": "NOT_CONTAINS_TOKEN", "value": "aws", "propertyName": "description"}, [1, 2, 3]),
]


@pytest.mark.parametrize(("search_filter", "expected"), OPERATOR_CASES, ids=[c[0]["operator"] for c in OPERATOR_CASES])
def test_search_operators(sandbox_hubspot: RunningHubSpot, search_filter: dict, expected: list[int]) -> None:
    descriptions = {0: "Lift and shift #AWS", 2: "Azure landing zone", 4: "aws migration"}
    deals = [{"properties": {"dealname": f"Deal {i:05d}", "amount": str(i),
                             **({"description": descriptions[i]} if i in descriptions else {})}} for i in range(5)]
    ids = sandbox_hubspot.seed({"deals": deals})["deals"]
    body = {"filterGroups": [{"filters": [{"propertyName": "dealname", **search_filter}]}], "limit": 100}
    response = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/search", body)
    assert response.status_code == 200, response.text
    assert sorted(r["id"] for r in response.json()["results"]) == sorted(ids[i] for i in expected)


def test_search_groups_are_ored_and_sorted(sandbox_hubspot: RunningHubSpot) -> None:
    ids = seed_deals(sandbox_hubspot, 5)
    body = {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "EQ", "value": "1"}]},
                             {"filters": [{"propertyName": "amount", "operator": "GTE", "value": "3"}]}],
            "sorts": [{"propertyName": "amount", "direction": "DESCENDING"}], "properties": ["amount"]}
    results = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/search", body).json()["results"]
    assert [r["id"] for r in results] == [ids[4], ids[3], ids[1]]
    assert set(results[0]["properties"]) == {"amount"}


@pytest.mark.parametrize("body", [
    {"limit": 201},
    {"after": "10000"},
    {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}]}] * 6},
    {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}] * 11}]},
    {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}] * 9}] * 3},
    {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "ROUGHLY", "value": "1"}]}]},
], ids=["limit", "past-10k", "groups", "filters-per-group", "filters-total", "operator"])
def test_search_limits_are_400(sandbox_hubspot: RunningHubSpot, body: dict) -> None:
    response = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/search", body)
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"


def test_search_pages_200_at_a_time_up_to_the_cap(sandbox_hubspot: RunningHubSpot) -> None:
    seed_deals(sandbox_hubspot, 450)
    sandbox_hubspot.emulator.search_result_cap = 300
    first = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/search", {"limit": 200}).json()
    assert first["total"] == 450 and len(first["results"]) == 200 and first["paging"]["next"]["after"] == "200"
    second = sandbox_hubspot.api("POST", "/crm/v3/objects/deals/search", {"limit": 200, "after": "200"}).json()
    assert len(second["results"]) == 100 and "paging" not in second
    assert sandbox_hubspot.api("POST", "/crm/v3/objects/deals/search", {"after": "300"}).status_code == 400


# ---------------------------------------------------------------------- properties
def test_properties_create_conflict_and_patch(sandbox_hubspot: RunningHubSpot) -> None:
    group = {"name": "partner_sync", "label": "Partner sync"}
    assert sandbox_hubspot.api("POST", "/crm/v3/properties/deals/groups", group).status_code == 201
    assert sandbox_hubspot.api("POST", "/crm/v3/properties/deals/groups", group).status_code == 409
    definition = {"name": "aws_sync_status", "label": "AWS sync status", "type": "enumeration",
                  "fieldType": "select", "groupName": "partner_sync",
                  "options": [{"label": "Synced", "value": "synced"}]}
    assert sandbox_hubspot.api("POST", "/crm/v3/properties/deals", definition).status_code == 201
    assert sandbox_hubspot.api("POST", "/crm/v3/properties/deals", definition).status_code == 409
    patched = sandbox_hubspot.api("PATCH", "/crm/v3/properties/deals/aws_sync_status",
                          {"options": [{"label": "Synced", "value": "synced"}, {"label": "Error", "value": "error"}]})
    assert [o["value"] for o in patched.json()["options"]] == ["synced", "error"]
    assert sandbox_hubspot.api("POST", "/crm/v3/objects/deals", {"properties": {"aws_sync_status": "error"}}).status_code == 201


# ---------------------------------------------------------------------- rate limits
def test_rate_limits_answer_429_with_hubspot_body_and_headers() -> None:
    with serve_hubspot(rate_limits=True) as limited:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {TOKEN}"
            answers = [session.get(f"{limited.url}/crm/v3/objects/deals") for _ in range(101)]
            assert [a.status_code for a in answers[:100]] == [200] * 100
            assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "100"
            throttled = answers[100]
            assert throttled.status_code == 429
            assert throttled.json()["policyName"] == "TEN_SECONDLY_ROLLING"
            assert throttled.headers["X-HubSpot-RateLimit-Remaining"] == "0"
            assert int(throttled.headers["Retry-After"]) >= 1
            limited.reset()
            searches = [session.post(f"{limited.url}/crm/v3/objects/deals/search", json={}) for _ in range(6)]
            assert [s.status_code for s in searches] == [200] * 5 + [429]
            assert searches[5].json()["policyName"] == "SECONDLY"


# ---------------------------------------------------------------------- webhooks
def test_webhooks_are_signed_batched_and_describe_each_change(sandbox_hubspot: RunningHubSpot) -> None:
    with webhook_receiver() as receiver:
        sandbox_hubspot.admin("POST", "webhooks", {"target_url": receiver.url, "client_secret": "s3cret",
                                           "subscriptions": ["deal.creation", "deal.propertyChange"]})
        deal_id = sandbox_hubspot.api("POST", "/crm/v3/objects/deals", {"properties": {"dealname": "A"}}).json()["id"]
        sandbox_hubspot.seed({"deals": [{"id": deal_id, "properties": {"amount": "9", "dealname": "B"}}]})
        sandbox_hubspot.admin("POST", "webhooks/flush", {"timeout": 10})
        events = [event for body in receiver.bodies() for event in body]
        for request in receiver.received:
            assert Signature.is_valid(
                signature=request["headers"]["X-HubSpot-Signature-v3"], client_secret="s3cret",
                request_body=request["body"], http_uri=receiver.url, signature_version="v3",
                timestamp=request["headers"]["X-HubSpot-Request-Timestamp"])
    creation = [e for e in events if e["subscriptionType"] == "deal.creation"]
    assert len(creation) == 1 and creation[0]["changeSource"] == "INTEGRATION"
    assert creation[0]["objectId"] == int(deal_id)
    changes = {e["propertyName"]: e for e in events if e["subscriptionType"] == "deal.propertyChange"}
    assert set(changes) == {"amount", "dealname"}
    assert changes["dealname"]["propertyValue"] == "B" and changes["dealname"]["changeSource"] == "CRM"


def test_failed_webhook_deliveries_are_retried_with_next_attempt_number(sandbox_hubspot: RunningHubSpot) -> None:
    with webhook_receiver(fail_first=2) as receiver:
        sandbox_hubspot.admin("POST", "webhooks", {"target_url": receiver.url, "client_secret": "s"})
        sandbox_hubspot.seed({"companies": [{"properties": {"name": "Acme"}}]})
        assert sandbox_hubspot.admin("POST", "webhooks/flush", {"timeout": 20})["flushed"] is True
        assert [body[0]["attemptNumber"] for body in receiver.bodies()] == [0, 1, 2]
    deliveries = sandbox_hubspot.admin("GET", "webhooks/deliveries")["deliveries"]
    assert [(d["status"], d["delivered"]) for d in deliveries] == [(500, False), (500, False), (204, True)]


def test_at_most_100_events_per_delivery(sandbox_hubspot: RunningHubSpot) -> None:
    with webhook_receiver() as receiver:
        sandbox_hubspot.admin("POST", "webhooks", {"target_url": receiver.url, "client_secret": "s",
                                           "subscriptions": ["contact.creation"]})
        sandbox_hubspot.seed({"contacts": [{"properties": {"email": f"c{i}@example.com"}} for i in range(250)]})
        sandbox_hubspot.admin("POST", "webhooks/flush", {"timeout": 20})
        sizes = [len(body) for body in receiver.bodies()]
    assert sum(sizes) == 250 and max(sizes) <= 100


def test_association_changes_are_delivered(sandbox_hubspot: RunningHubSpot) -> None:
    demo = sandbox_hubspot.admin("POST", "seed", {"scenario": "demo"})
    assert demo == {"seeded": "demo"}
    with webhook_receiver() as receiver:
        sandbox_hubspot.admin("POST", "webhooks", {"target_url": receiver.url, "client_secret": "s",
                                           "subscriptions": ["deal.associationChange"]})
        sandbox_hubspot.api("PUT", "/crm/v4/objects/deals/1000000006/associations/default/contacts/3000000001")
        sandbox_hubspot.admin("POST", "webhooks/flush", {"timeout": 10})
        event = receiver.bodies()[0][0]
    assert event["associationType"] == "DEAL_TO_CONTACT" and event["toObjectId"] == 3000000001
    assert event["associationRemoved"] is False


def test_demo_deals_are_complete_enough_for_partner_programs(sandbox_hubspot: RunningHubSpot) -> None:
    sandbox_hubspot.admin("POST", "seed", {"scenario": "demo"})
    state = sandbox_hubspot.admin("GET", "state")
    names = [d["properties"]["dealname"] for d in state["deals"]]
    assert sum("#AWS" in n for n in names) >= 2 and sum("#Microsoft" in n for n in names) >= 2
    assert any("#" not in n for n in names)
    for deal in state["deals"]:
        assert len(deal["properties"]["description"]) >= 50
        assert deal["properties"]["amount"] and deal["properties"]["closedate"]
    assert all(c["properties"]["phone"] for c in state["contacts"])
    assert all(c["properties"]["industry"] and c["properties"]["website"] for c in state["companies"])
