"""HubSpot webhook deliveries: signature v3, payload validation, routing, run ids."""

from __future__ import annotations

import json
import time

import pytest
from hubspot.utils.signature import Signature

from partner_sync import webhooks
from partner_sync.webhooks import (
    CONTACT_COMPANY_SYNC_DAG,
    DEAL_SYNC_DAG,
    PayloadError,
    SignatureError,
    dag_run_id_for,
    parse_events,
    plan_delivery,
    route_event,
    signature_v3,
    verify_signature_v3,
)

SECRET = "sandbox-webhook-secret-0001"
URI = "https://airflow.example.com/partner-sync/webhooks/hubspot?portal=62515"


def make_event(event_id: int = 1, kind: str = "deal.propertyChange", object_id: int = 123, **fields) -> dict:
    event = {
        "eventId": event_id,
        "subscriptionId": 12345,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1_564_113_600_000 + event_id,
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM",
    }
    if kind.endswith(".propertyChange"):
        event.update(propertyName="dealstage", propertyValue="closedwon")
    if kind.endswith(".associationChange"):
        event.update(
            associationType="DEAL_TO_COMPANY", fromObjectId=object_id, toObjectId=999,
            associationRemoved=False, isPrimaryAssociation=True,
        )
    event.update(fields)
    return event


def now_ms() -> str:
    return str(int(time.time() * 1000))


# --------------------------------------------------------------------------- signature v3


def test_signature_matches_hubspot_sdk():
    body = json.dumps([make_event()])
    timestamp = now_ms()
    ours = signature_v3(SECRET, "POST", URI, body.encode(), timestamp)
    theirs = Signature.get_signature(SECRET, body, "v3", URI, "POST", timestamp)
    assert ours == theirs


def test_signature_of_non_ascii_body_matches_hubspot_sdk():
    body = json.dumps([make_event(propertyName="dealname", propertyValue="Überweisung – 東京")], ensure_ascii=False)
    timestamp = now_ms()
    ours = signature_v3(SECRET, "POST", URI, body.encode("utf-8"), timestamp)
    assert Signature.is_valid(ours, SECRET, body, URI, "POST", "v3", timestamp)


def test_valid_signature_is_accepted():
    body = json.dumps([make_event()]).encode()
    timestamp = now_ms()
    signature = Signature.get_signature(SECRET, body.decode(), "v3", URI, "POST", timestamp)
    verify_signature_v3(secret=SECRET, method="POST", uri=URI, raw_body=body, signature=signature, timestamp=timestamp)


@pytest.mark.parametrize(
    "change",
    [
        {"secret": "another-secret"},
        {"uri": URI.replace("https", "http")},
        {"raw_body": b"[]"},
        {"method": "PUT"},
    ],
    ids=["secret", "uri", "body", "method"],
)
def test_signature_of_anything_else_is_refused(change):
    body = json.dumps([make_event()]).encode()
    timestamp = now_ms()
    signature = signature_v3(SECRET, "POST", URI, body, timestamp)
    request = {"secret": SECRET, "method": "POST", "uri": URI, "raw_body": body} | change
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature_v3(**request, signature=signature, timestamp=timestamp)


def test_signature_over_a_different_timestamp_is_refused():
    body = b"[]"
    signed_at = now_ms()
    signature = signature_v3(SECRET, "POST", URI, body, signed_at)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature_v3(
            secret=SECRET, method="POST", uri=URI, raw_body=body, signature=signature, timestamp=str(int(signed_at) + 1)
        )


@pytest.mark.parametrize("age_ms", [5 * 60 * 1000 + 1, -(5 * 60 * 1000 + 1), 24 * 3600 * 1000])
def test_timestamp_outside_five_minutes_is_refused(age_ms):
    current = int(time.time() * 1000)
    timestamp = str(current - age_ms)
    signature = signature_v3(SECRET, "POST", URI, b"[]", timestamp)
    with pytest.raises(SignatureError, match="5-minute window"):
        verify_signature_v3(
            secret=SECRET, method="POST", uri=URI, raw_body=b"[]", signature=signature,
            timestamp=timestamp, now_ms=current,
        )


def test_timestamp_just_inside_five_minutes_is_accepted():
    current = int(time.time() * 1000)
    timestamp = str(current - 5 * 60 * 1000 + 1000)
    signature = signature_v3(SECRET, "POST", URI, b"[]", timestamp)
    verify_signature_v3(
        secret=SECRET, method="POST", uri=URI, raw_body=b"[]", signature=signature, timestamp=timestamp, now_ms=current
    )


@pytest.mark.parametrize(
    ("signature", "timestamp", "message"),
    [
        (None, "1", "missing X-HubSpot-Signature-v3"),
        ("c2ln", None, "missing X-HubSpot-Request-Timestamp"),
        ("c2ln", "yesterday", "not epoch milliseconds"),
    ],
)
def test_missing_or_unreadable_headers_are_refused(signature, timestamp, message):
    with pytest.raises(SignatureError, match=message):
        verify_signature_v3(secret=SECRET, method="POST", uri=URI, raw_body=b"[]", signature=signature, timestamp=timestamp)


# --------------------------------------------------------------------------- payload


def test_valid_delivery_is_returned_as_received():
    events = [make_event(1), make_event(2, "contact.merge", primaryObjectId=5, mergedObjectIds=[6, 7], newObjectId=8)]
    events[0]["someFutureField"] = {"nested": True}
    assert parse_events(json.dumps(events).encode()) == events


def test_event_type_may_be_named_event_type():
    event = make_event()
    event["eventType"] = event.pop("subscriptionType")
    assert parse_events(json.dumps([event]).encode()) == [event]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"eventId": 1}', "JSON array"),
        (b"[]", "1 to 100 events, got 0"),
        (json.dumps([make_event(i) for i in range(101)]).encode(), "1 to 100 events, got 101"),
        (b"[1]", r"event\[0\]: must be a JSON object"),
    ],
)
def test_malformed_body_is_refused(body, message):
    with pytest.raises(PayloadError, match=message):
        parse_events(body)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"eventId": None}, r"event\[1\]\.eventId"),
        ({"eventId": "17"}, r"event\[1\]\.eventId: Input should be a valid integer"),
        ({"objectId": 1.5}, r"event\[1\]\.objectId"),
        ({"occurredAt": "2024-01-01"}, r"event\[1\]\.occurredAt"),
        ({"portalId": True}, r"event\[1\]\.portalId"),
        ({"attemptNumber": -1}, r"event\[1\]: .*attemptNumber must be >= 0"),
        ({"subscriptionType": None}, r"event\[1\]: .*subscriptionType \(or eventType\) is required"),
        ({"subscriptionType": "dealchange"}, r"event\[1\]: .*not of the form object\.action"),
        ({"subscriptionType": 7}, r"event\[1\]\.subscriptionType"),
        ({"propertyName": None}, r"event\[1\]: .*propertyName is required"),
        ({"propertyValue": 12}, r"event\[1\]\.propertyValue"),
        ({"mergedObjectIds": ["a"]}, r"event\[1\]\.mergedObjectIds\.0"),
    ],
)
def test_malformed_event_is_refused_naming_index_and_field(fault, message):
    events = [make_event(1), make_event(2)]
    for name, value in fault.items():
        if value is None:
            events[1].pop(name)
        else:
            events[1][name] = value
    with pytest.raises(PayloadError, match=message):
        parse_events(json.dumps(events).encode())


def test_association_change_without_association_fields_is_refused():
    event = make_event(kind="deal.associationChange")
    del event["toObjectId"], event["associationType"]
    with pytest.raises(PayloadError, match=r"event\[0\]: .*associationType, toObjectId required"):
        parse_events(json.dumps([event]).encode())


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("kind", "fields", "dag_id"),
    [
        ("deal.creation", {}, DEAL_SYNC_DAG),
        ("deal.restore", {}, DEAL_SYNC_DAG),
        ("deal.associationChange", {}, DEAL_SYNC_DAG),
        *[("deal.propertyChange", {"propertyName": name}, DEAL_SYNC_DAG) for name in sorted(webhooks.DEAL_SYNC_PROPERTIES)],
        ("deal.propertyChange", {"propertyName": "hs_lastmodifieddate"}, None),
        ("deal.deletion", {}, None),
        ("deal.merge", {}, None),
        ("contact.propertyChange", {"propertyName": "email"}, CONTACT_COMPANY_SYNC_DAG),
        ("company.propertyChange", {"propertyName": "domain"}, CONTACT_COMPANY_SYNC_DAG),
        ("contact.associationChange", {}, CONTACT_COMPANY_SYNC_DAG),
        ("company.associationChange", {}, CONTACT_COMPANY_SYNC_DAG),
        ("contact.merge", {}, CONTACT_COMPANY_SYNC_DAG),
        ("company.merge", {}, CONTACT_COMPANY_SYNC_DAG),
        ("contact.creation", {}, None),
        ("contact.deletion", {}, None),
        ("contact.privacyDeletion", {}, None),
        ("company.deletion", {}, None),
        ("ticket.creation", {}, None),
        ("product.propertyChange", {"propertyName": "price"}, None),
    ],
)
def test_event_is_routed_to_its_dag(kind, fields, dag_id):
    assert route_event(make_event(kind=kind, **fields)).dag_id == dag_id


@pytest.mark.parametrize(
    ("kind", "association_type"),
    [("deal.associationChange", "DEAL_TO_NOTE"), ("deal.associationChange", "DEAL_TO_LINE_ITEM"),
     ("contact.associationChange", "CONTACT_TO_NOTE"), ("company.associationChange", "COMPANY_TO_TASK")],
)
def test_association_changes_with_objects_the_sync_does_not_read_are_ignored(kind, association_type):
    """The integration adds notes to deals (a failed push says why): routing that association
    change back to the deal sync would push the deal again, note it again, forever."""
    decision = route_event(make_event(kind=kind, associationType=association_type))
    assert decision.dag_id is None
    assert association_type in decision.reason


@pytest.mark.parametrize(
    ("kind", "association_type", "dag_id"),
    [("deal.associationChange", "DEAL_TO_CONTACT", DEAL_SYNC_DAG),
     ("deal.associationChange", "DEAL_TO_COMPANY", DEAL_SYNC_DAG),
     ("contact.associationChange", "CONTACT_TO_COMPANY", CONTACT_COMPANY_SYNC_DAG),
     ("company.associationChange", "COMPANY_TO_DEAL", CONTACT_COMPANY_SYNC_DAG)],
)
def test_association_changes_between_deals_contacts_and_companies_are_synced(kind, association_type, dag_id):
    assert route_event(make_event(kind=kind, associationType=association_type)).dag_id == dag_id


@pytest.mark.parametrize(
    "kind", ["deal.propertyChange", "contact.propertyChange", "company.propertyChange"]
)
@pytest.mark.parametrize("property_name", ["aws_opportunity_id", "microsoft_referral_id", "customer_name"])
def test_changes_to_properties_the_integration_writes_are_ignored_as_echoes(kind, property_name):
    decision = route_event(make_event(kind=kind, propertyName=property_name))
    assert decision.dag_id is None
    assert "echo" in decision.reason


def test_routing_reads_event_type_when_subscription_type_is_absent():
    event = make_event(kind="contact.merge")
    event["eventType"] = event.pop("subscriptionType")
    assert route_event(event).dag_id == CONTACT_COMPANY_SYNC_DAG


# --------------------------------------------------------------------------- plan and run ids


def test_delivery_makes_at_most_one_run_per_dag_with_its_events_as_received():
    deal_events = [make_event(i, "deal.propertyChange", object_id=i) for i in range(1, 40)]
    contact_events = [make_event(i, "contact.propertyChange", object_id=i, propertyName="email") for i in range(40, 90)]
    ignored = [make_event(i, "deal.deletion") for i in range(90, 101)]
    delivery = [*deal_events, *contact_events, *ignored]

    plan = plan_delivery(delivery)

    assert [run.dag_id for run in plan.dag_runs] == [CONTACT_COMPANY_SYNC_DAG, DEAL_SYNC_DAG]
    runs = {run.dag_id: run for run in plan.dag_runs}
    assert runs[DEAL_SYNC_DAG].conf == {"events": deal_events}
    assert runs[CONTACT_COMPANY_SYNC_DAG].conf == {"events": contact_events}
    assert len(plan.ignored) == 11


def test_delivery_of_only_ignored_events_plans_no_run():
    plan = plan_delivery([make_event(1, "deal.deletion"), make_event(2, "deal.propertyChange", propertyName="aws_stage")])
    assert plan.dag_runs == []
    assert len(plan.ignored) == 2


def test_run_id_is_stable_across_order_and_redelivery():
    events = [make_event(i) for i in range(1, 6)]
    redelivered = [dict(event, attemptNumber=3) for event in reversed(events)]
    assert dag_run_id_for(events) == dag_run_id_for(redelivered)


def test_run_id_has_the_documented_shape():
    run_id = dag_run_id_for([make_event()])
    assert run_id.startswith("webhook__")
    assert len(run_id) == len("webhook__") + 32
    assert all(ch in "0123456789abcdef" for ch in run_id.removeprefix("webhook__"))


@pytest.mark.parametrize(
    "change",
    [{"eventId": 99}, {"objectId": 99}, {"occurredAt": 99}, {"subscriptionType": "deal.creation"}],
    ids=["eventId", "objectId", "occurredAt", "subscriptionType"],
)
def test_run_id_differs_when_an_event_differs(change):
    # eventId alone is not unique: the other identifying fields count too
    assert dag_run_id_for([make_event()]) != dag_run_id_for([make_event() | change])


def test_run_id_ignores_duplicates_within_a_delivery():
    event = make_event()
    assert dag_run_id_for([event, dict(event)]) == dag_run_id_for([event])
