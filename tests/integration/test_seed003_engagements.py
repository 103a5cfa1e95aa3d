"""Seed 003 feature 2 through ``partner_central_engagement_sync`` (``dag.test()`` against the
sandbox): the engagement of each linked opportunity on its deal, one note per status change."""

from __future__ import annotations

import pytest

from tests.integration.dag_runner import sync_store  # noqa: F401 - fixture
from tests.integration.seed003_world import (
    deal,
    notes_on,
    partner_central,
    run,
    seed_deal_properties,
    seed_one,
    seed_opportunity,
)

DAG_ID = "partner_central_engagement_sync"
ENGAGEMENT = "eng-s003engage0001"
#: 12 members: more than one ListEngagementMembers page (at most 10 per page)
MEMBERS = [{"CompanyName": "AWS", "AccountId": "AWS"}] + [
    {"CompanyName": f"Partner {n:02d}", "AccountId": f"2109876543{n:02d}"} for n in range(1, 12)
]


@pytest.fixture
def engaged(clean_sandbox, sync_store):  # noqa: F811 - fixture
    """An #AWS deal linked to an opportunity that is a resource of an engagement, and a
    second linked deal whose opportunity has no engagement yet."""
    sandbox = clean_sandbox
    seed_deal_properties(sandbox)
    deal_id = seed_one(sandbox, "deals", {"dealname": "Lake migration #AWS"})
    idle_deal = seed_one(sandbox, "deals", {"dealname": "Not engaged #AWS"})
    seed_opportunity(sandbox, "O9101")
    seed_opportunity(sandbox, "O9102")
    sandbox.seed_objects("partner_central", {"engagements": [{
        "Id": ENGAGEMENT, "Title": "Acme lake migration", "Description": "Co-sell with AWS",
        "CreatedBy": "AWS", "CreatedAt": "2026-10-05T09:30:00Z", "Members": MEMBERS,
        "Resources": [{"ResourceType": "Opportunity", "ResourceId": "O9101", "CreatedBy": "123456789012"}],
    }]})
    sync_store.upsert_link("aws", deal_id, "O9101")
    sync_store.upsert_link("aws", idle_deal, "O9102")
    return {"sandbox": sandbox, "deal": deal_id, "idle_deal": idle_deal}


def test_engagement_lands_on_the_deal(engaged):
    sandbox = engaged["sandbox"]

    result = run(DAG_ID)

    assert result.ok, result.states
    properties = deal(sandbox, engaged["deal"])
    assert properties["aws_engagement_id"] == ENGAGEMENT
    assert properties["aws_engagement_status"] == "Active"  # stage Qualified
    assert properties["aws_engagement_team"].split("\n") == sorted((m["CompanyName"] for m in MEMBERS), key=str.lower)
    assert properties["aws_engagement_kickoff_date"] == "2026-10-05"
    assert properties["aws_last_engagement_sync"]
    assert notes_on(sandbox, engaged["deal"]) == []  # the first status is not a change
    assert "aws_engagement_id" not in deal(sandbox, engaged["idle_deal"])
    assert result.returns["sync_engagements"]["with_engagement"] == 1


def test_a_status_change_yields_exactly_one_note(engaged):
    sandbox = engaged["sandbox"]
    assert run(DAG_ID).ok
    opportunity = partner_central(sandbox, "opportunities")["O9101"]
    opportunity["LifeCycle"]["Stage"] = "Launched"  # AWS side: the opportunity went live
    sandbox.seed_objects("partner_central", {"opportunities": [opportunity]})

    first = run(DAG_ID)
    second = run(DAG_ID)  # nothing changed since: no second note

    assert first.ok and second.ok
    assert deal(sandbox, engaged["deal"])["aws_engagement_status"] == "Completed"
    notes = notes_on(sandbox, engaged["deal"])
    assert len(notes) == 1
    assert "Active to Completed" in notes[0] and ENGAGEMENT in notes[0]
    assert first.returns["sync_engagements"]["status_changes"] == 1
    assert second.returns["sync_engagements"]["status_changes"] == 0
    assert second.returns["sync_engagements"]["updated"] == 0


def test_new_member_updates_the_team(engaged):
    sandbox = engaged["sandbox"]
    assert run(DAG_ID).ok
    sandbox.seed_objects("partner_central", {"engagements": [{
        "Id": ENGAGEMENT, "Title": "Acme lake migration", "CreatedBy": "AWS", "CreatedAt": "2026-10-05T09:30:00Z",
        "Members": [*MEMBERS, {"CompanyName": "Zeta Consulting", "AccountId": "333333333333"}],
        "Resources": [{"ResourceType": "Opportunity", "ResourceId": "O9101", "CreatedBy": "123456789012"}],
    }]})

    assert run(DAG_ID).ok

    assert deal(sandbox, engaged["deal"])["aws_engagement_team"].endswith("\nZeta Consulting")
    assert notes_on(sandbox, engaged["deal"]) == []
