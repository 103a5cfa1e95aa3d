"""Seed 003 feature 3 through ``hubspot_deal_sync`` (``dag.test()`` against the sandbox): a
deal-owner change reassigns the opportunity; the Params form assigns by hand."""

from __future__ import annotations

import pytest

from partner_sync.sync.assignment import manual_assignment
from partner_sync.sync.runtime import ConfError
from tests.integration.dag_runner import sync_store  # noqa: F401 - fixture
from tests.integration.seed003_world import (
    associate,
    calls,
    deal,
    notes_on,
    partner_central,
    run,
    seed_deal_properties,
    seed_one,
    seed_opportunity,
)

DAG_ID = "hubspot_deal_sync"
ALEX = {"Email": "alex.rivera@partner.example.com", "FirstName": "Alex", "LastName": "Rivera",
        "BusinessTitle": "PartnerAccountManager"}
SAM = {"Email": "sam.chen@partner.example.com", "FirstName": "Sam", "LastName": "Chen",
       "BusinessTitle": "PartnerSalesManager"}


@pytest.fixture
def assigned(clean_sandbox, sync_store):  # noqa: F811 - fixture
    """A complete #AWS deal owned by Sam, linked to an opportunity assigned to Sam; Alex and
    Sam are Partner Central users, Casey is a HubSpot owner only."""
    sandbox = clean_sandbox
    seed_deal_properties(sandbox)
    owners = sandbox.seed_objects("hubspot", {"owners": [
        {"email": ALEX["Email"], "firstName": "Alex", "lastName": "Rivera"},
        {"email": SAM["Email"], "firstName": "Sam", "lastName": "Chen"},
        {"email": "casey.nguyen@partner.example.com", "firstName": "Casey", "lastName": "Nguyen"},
    ]})["owners"]
    sandbox.seed_objects("partner_central", {"users": [ALEX, SAM]})
    company = seed_one(sandbox, "companies", {"name": "Acme", "website": "acme.example", "country": "US",
                                              "zip": "98101", "industry": "COMPUTER_SOFTWARE"})
    contact = seed_one(sandbox, "contacts", {"email": "jane@acme.example", "firstname": "Jane", "lastname": "Doe",
                                             "phone": "+12065550100"})
    deal_id = seed_one(sandbox, "deals", {
        "dealname": "Lake migration #AWS", "amount": "25000", "closedate": "2026-12-31",
        "dealstage": "qualifiedtobuy", "description": "Consolidate 3 warehouses into one lake.",
        "hubspot_owner_id": owners[1], "aws_opportunity_id": "O9301",
    })
    associate(sandbox, "deals", deal_id, "companies", company)
    associate(sandbox, "deals", deal_id, "contacts", contact)
    seed_opportunity(sandbox, "O9301", OpportunityTeam=[SAM])
    sync_store.upsert_link("aws", deal_id, "O9301")
    return {"sandbox": sandbox, "deal": deal_id, "owners": owners, "store": sync_store}


def owner_change(deal_id: str, owner_id: str, event_id: int = 501) -> dict:
    return {"eventId": event_id, "subscriptionId": 3, "portalId": 1, "occurredAt": 1763900000000,
            "attemptNumber": 0, "subscriptionType": "deal.propertyChange", "propertyName": "hubspot_owner_id",
            "propertyValue": owner_id, "objectId": int(deal_id), "changeSource": "CRM"}


def test_owner_change_reassigns_the_opportunity(assigned):
    sandbox, deal_id = assigned["sandbox"], assigned["deal"]
    alex = assigned["owners"][0]
    seed_one(sandbox, "deals", {"hubspot_owner_id": alex}, object_id=deal_id)

    result = run(DAG_ID, conf={"events": [owner_change(deal_id, alex)]})

    assert result.ok, result.states
    team = partner_central(sandbox, "opportunities")["O9301"]["OpportunityTeam"]
    assert team[0]["Email"] == ALEX["Email"] and team[0]["FirstName"] == "Alex"
    properties = deal(sandbox, deal_id)
    assert properties["aws_assigned_partner_user"] == ALEX["Email"]
    assert properties["aws_opportunity_team"].startswith(f"Alex Rivera <{ALEX['Email']}>")
    assert properties["aws_team_last_sync"]
    assert result.returns["assign_opportunities"]["assigned"] == 1
    assert any(e["action"] == "assign_opportunity" and e["success"]
               for e in assigned["store"].audit_history("O9301"))

    # a redelivered event: already assigned, no second AssignOpportunity
    again = run(DAG_ID, conf={"events": [owner_change(deal_id, alex)]})
    assert again.ok and again.returns["assign_opportunities"]["already_assigned"] == 1
    assert calls(sandbox, "partner_central", "AssignOpportunity") == 1


def test_owner_who_is_not_a_partner_central_user_gets_a_note_not_a_failed_run(assigned):
    sandbox, deal_id = assigned["sandbox"], assigned["deal"]
    casey = assigned["owners"][2]
    seed_one(sandbox, "deals", {"hubspot_owner_id": casey}, object_id=deal_id)

    result = run(DAG_ID, conf={"events": [owner_change(deal_id, casey)]})

    assert result.ok, result.states
    assert result.returns["assign_opportunities"]["not_a_user"] == 1
    assert partner_central(sandbox, "opportunities")["O9301"]["OpportunityTeam"][0]["Email"] == SAM["Email"]
    notes = notes_on(sandbox, deal_id)
    assert any("casey.nguyen@partner.example.com is not a user" in body for body in notes)


def test_manual_assignment_through_the_form(assigned):
    sandbox = assigned["sandbox"]
    form = {"opportunity_id": "O9301", "email": ALEX["Email"], "first_name": "Alex", "last_name": "Rivera",
            "title": "Partner Account Manager"}

    result = run(DAG_ID, conf={"assign": form})

    assert result.ok, result.states
    assert result.returns["assign_opportunities"]["manual"] == "assigned"
    team = partner_central(sandbox, "opportunities")["O9301"]["OpportunityTeam"]
    assert team[0] == {**ALEX, "BusinessTitle": "Partner Account Manager"}
    assert deal(sandbox, assigned["deal"])["aws_assigned_partner_user"] == ALEX["Email"]


def test_bad_form_fails_at_once_naming_the_field(assigned):
    with pytest.raises(ConfError, match=r"assign\.email"):
        manual_assignment({"deal_id": "1", "email": "not-an-address", "first_name": "A", "last_name": "B",
                           "title": "C"})
    with pytest.raises(ConfError, match=r"assign\.title"):
        manual_assignment({"opportunity_id": "O1", "email": "a@b.example", "first_name": "A", "last_name": "B",
                           "title": " "})
    with pytest.raises(ConfError, match=r"assign\.deal_id or assign\.opportunity_id"):
        manual_assignment({"email": "a@b.example", "first_name": "A", "last_name": "B", "title": "C"})
