"""Seed 003 feature 1 through ``contact_company_sync`` (``dag.test()`` against the sandbox):
contact and company changes reach every linked opportunity and referral, nothing else moves."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from partner_sync.sync.contacts import changed_objects
from partner_sync.sync.runtime import ConfError
from tests.integration.dag_runner import sync_store  # noqa: F401 - fixture
from tests.integration.seed003_world import (
    associate,
    calls,
    deal,
    notes_on,
    partner_central,
    seed_deal_properties,
    seed_one,
    seed_opportunity,
    run,
    without,
)

DAG_ID = "contact_company_sync"


@pytest.fixture
def world(clean_sandbox, sync_store):  # noqa: F811 - fixture
    """Two #AWS deals sharing a contact and a company, each linked to its opportunity, and a
    #Microsoft deal of the same company linked to a referral."""
    sandbox = clean_sandbox
    seed_deal_properties(sandbox)
    company = seed_one(sandbox, "companies", {
        "name": "Acme", "website": "acme.example", "industry": "COMPUTER_SOFTWARE", "city": "Seattle",
        "zip": "98101", "country": "US",
    })
    contact = seed_one(sandbox, "contacts", {
        "email": "jane@acme.example", "firstname": "Jane", "lastname": "Doe", "phone": "206-555-0100",
    })
    deals = [seed_one(sandbox, "deals", {"dealname": name}) for name in ("Lake migration #AWS", "Analytics #AWS")]
    ms_deal = seed_one(sandbox, "deals", {"dealname": "Lake migration #Microsoft"})
    for deal_id in (*deals, ms_deal):
        associate(sandbox, "deals", deal_id, "companies", company)
        associate(sandbox, "deals", deal_id, "contacts", contact)
    opportunities = ["O9001", "O9002"]
    for deal_id, opportunity_id in zip(deals, opportunities):
        seed_opportunity(sandbox, opportunity_id)
        sync_store.upsert_link("aws", deal_id, opportunity_id)
    sandbox.seed_objects("partner_center", {"referrals": [{
        "id": "ref-acme-1", "direction": "Outgoing", "status": "Active", "substatus": "Accepted",
        "name": "Lake migration", "customerProfile": {"name": "Acme", "address": {"city": "Seattle", "country": "US"}},
    }]})
    sync_store.upsert_link("microsoft", ms_deal, "ref-acme-1")
    return {"sandbox": sandbox, "store": sync_store, "company": company, "contact": contact,
            "deals": deals, "ms_deal": ms_deal, "opportunities": opportunities}


def test_contact_change_updates_both_opportunities_and_nothing_else(world):
    sandbox = world["sandbox"]
    before = partner_central(sandbox, "opportunities")
    seed_one(sandbox, "contacts", {"lastname": "Doe-Smith", "phone": "(206) 555-0199 ext. 12",
                                   "jobtitle": "CTO"}, object_id=world["contact"])

    result = run(DAG_ID, conf={"contact_ids": [world["contact"]]})

    assert result.ok, result.states
    assert result.returns["update_opportunities"]["updated"] == 2
    after = partner_central(sandbox, "opportunities")
    for opportunity_id, deal_id in zip(world["opportunities"], world["deals"]):
        contacts = after[opportunity_id]["Customer"]["Contacts"]
        assert contacts == [{"Email": "jane@acme.example", "FirstName": "Jane", "LastName": "Doe-Smith",
                             "BusinessTitle": "CTO", "Phone": "+12065550199"}]
        # every other field as it was (the account too: the company did not change)
        assert after[opportunity_id]["Customer"]["Account"]["CompanyName"] == "Acme"
        ignored = ("Customer.Contacts", "Customer.Account", "LastModifiedDate")
        assert without(after[opportunity_id], *ignored) == without(before[opportunity_id], *ignored)
        assert after[opportunity_id]["Customer"]["Account"]["WebsiteUrl"] == "https://acme.example"
        properties = deal(sandbox, deal_id)
        assert properties["aws_contact_company_last_sync"]
        assert properties["aws_last_sync_by"] == "hubspot"
        assert properties["aws_version"] == "1"
    history = world["store"].audit_history("O9001")
    assert [entry["action"] for entry in history] == ["propagate_contact_company"]
    assert "Customer.Contacts" in history[0]["changes"]

    # the same change again: nothing to write anywhere
    updates = calls(sandbox, "partner_central", "UpdateOpportunity")
    again = run(DAG_ID, conf={"contact_ids": [world["contact"]]})
    assert again.ok and again.returns["update_opportunities"]["unchanged"] == 2
    assert calls(sandbox, "partner_central", "UpdateOpportunity") == updates


def test_company_webhook_updates_account_of_every_opportunity_and_the_referral(world):
    sandbox = world["sandbox"]
    long_name = "Acme Global Holdings " + "International " * 10
    seed_one(sandbox, "companies", {"name": long_name, "website": " www.acme-global.example ",
                                    "industry": "HOSPITAL_HEALTH_CARE", "city": "Portland", "zip": "97201",
                                    "state": "OR"}, object_id=world["company"])
    event = {"eventId": 71, "subscriptionId": 9, "portalId": 1, "occurredAt": 1763900000000,
             "attemptNumber": 0, "subscriptionType": "company.propertyChange", "propertyName": "name",
             "propertyValue": long_name, "objectId": int(world["company"]), "changeSource": "CRM"}

    result = run(DAG_ID, conf={"events": [event]})

    assert result.ok, result.states
    assert sorted(result.returns["find_affected_deals"]["deal_ids"]) == sorted([*world["deals"], world["ms_deal"]])
    for opportunity in (partner_central(sandbox, "opportunities")[o] for o in world["opportunities"]):
        account = opportunity["Customer"]["Account"]
        assert account["CompanyName"] == long_name.strip()[:120]
        assert account["WebsiteUrl"] == "https://www.acme-global.example"
        assert account["Industry"] == "Healthcare"
        assert account["Address"]["City"] == "Portland" and account["Address"]["PostalCode"] == "97201"
        assert opportunity["Project"]["Title"] == "Lake migration"  # untouched
    referral = sandbox.state("partner_center")["referrals"][0]
    assert referral["customerProfile"]["name"] == long_name.strip()
    assert referral["customerProfile"]["address"]["city"] == "Portland"
    assert result.returns["update_referrals"]["updated"] == 1


def test_closed_referral_gets_a_note_instead_of_an_update(world):
    sandbox = world["sandbox"]
    sandbox.seed_objects("partner_center", {"referrals": [{
        "id": "ref-acme-1", "direction": "Outgoing", "status": "Closed", "substatus": "Won",
        "name": "Lake migration", "customerProfile": {"name": "Acme"},
    }]})
    seed_one(sandbox, "companies", {"name": "Acme Renamed"}, object_id=world["company"])

    result = run(DAG_ID, conf={"company_ids": [world["company"]]})

    assert result.ok, result.states
    assert result.returns["update_referrals"]["closed"] == 1
    assert sandbox.state("partner_center")["referrals"][0]["customerProfile"]["name"] == "Acme"
    assert any("ref-acme-1" in body and "Closed" in body for body in notes_on(sandbox, world["ms_deal"]))


def test_hourly_reconciliation_catches_a_change_no_webhook_announced(world):
    sandbox = world["sandbox"]
    # an edit in HubSpot with no webhook delivered
    seed_one(sandbox, "contacts", {"email": "jane.doe@acme.example"}, object_id=world["contact"])
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)

    earlier = run(DAG_ID, logical_date=hour)  # window [hour - 1 h, hour): before the edit
    assert earlier.ok, earlier.states
    assert earlier.returns["find_affected_deals"]["deal_ids"] == []

    current = run(DAG_ID, logical_date=hour + timedelta(hours=1))  # window [hour, hour + 1 h)

    assert current.ok, current.states
    assert current.returns["update_opportunities"]["updated"] == 2
    for opportunity_id in world["opportunities"]:
        contacts = partner_central(sandbox, "opportunities")[opportunity_id]["Customer"]["Contacts"]
        assert [c["Email"] for c in contacts] == ["jane.doe@acme.example"]


def test_bad_conf_fails_at_once_naming_the_field(world):
    bad_event = {"subscriptionType": "contact.propertyChange", "objectId": "not-a-number"}
    with pytest.raises(ConfError, match=r"events\[0\]\.objectId"):
        changed_objects({"events": [bad_event]})
    with pytest.raises(ConfError, match=r"contact_ids\[1\]"):
        changed_objects({"contact_ids": ["12", "x1"]})

    result = run(DAG_ID, conf={"events": [bad_event]}, retries=None)  # the DAG's own retries

    assert result.states["find_affected_deals"] == "failed"  # not up_for_retry: no retry can fix it
    assert calls(world["sandbox"], "partner_central", "UpdateOpportunity") == 0
