"""Seed 003 feature 4 through ``partner_resource_sync`` (``dag.test()`` against the sandbox):
snapshots of an opportunity into its engagement, once per revision, and the engagement's
resources tracked on the deal."""

from __future__ import annotations

import json

import pytest

from tests.integration.dag_runner import sync_store  # noqa: F401 - fixture
from tests.integration.seed003_world import (
    calls,
    deal,
    partner_central,
    run,
    seed_deal_properties,
    seed_one,
    seed_opportunity,
)

DAG_ID = "partner_resource_sync"
ENGAGEMENT = "eng-s003resource01"


@pytest.fixture
def engaged(clean_sandbox, sync_store):  # noqa: F811 - fixture
    sandbox = clean_sandbox
    seed_deal_properties(sandbox)
    deal_id = seed_one(sandbox, "deals", {"dealname": "Lake migration #AWS"})
    seed_opportunity(sandbox, "O9201")
    sandbox.seed_objects("partner_central", {"engagements": [{
        "Id": ENGAGEMENT, "Title": "Acme lake migration", "CreatedBy": "AWS",
        "Members": [{"CompanyName": "AWS", "AccountId": "AWS"}],
        "Resources": [
            {"ResourceType": "Opportunity", "ResourceId": "O9201", "CreatedBy": "123456789012"},
            {"ResourceType": "Opportunity", "ResourceId": "O7777", "CreatedBy": "AWS"},
        ],
    }]})
    sync_store.upsert_link("aws", deal_id, "O9201")
    return {"sandbox": sandbox, "deal": deal_id, "store": sync_store}


def snapshots_of(sandbox, opportunity_id):
    return sorted(s["Revision"] for s in partner_central(sandbox, "resource_snapshots").values()
                  if s["ResourceId"] == opportunity_id)


def test_snapshot_is_created_once_even_when_the_run_repeats(engaged):
    sandbox = engaged["sandbox"]
    conf = {"snapshot": {"deal_id": engaged["deal"]}}

    first = run(DAG_ID, conf=conf)
    second = run(DAG_ID, conf=conf)

    assert first.ok and second.ok, (first.states, second.states)
    assert first.returns["snapshot_opportunity"]["status"] == "created"
    assert second.returns["snapshot_opportunity"]["status"] == "exists"
    assert snapshots_of(sandbox, "O9201") == [1]
    assert calls(sandbox, "partner_central", "CreateResourceSnapshot") == 1
    history = engaged["store"].audit_history("O9201")
    assert [e["action"] for e in history] == ["create_resource_snapshot"]

    # a new revision of the opportunity is a new snapshot
    seed_opportunity(sandbox, "O9201", Project={**partner_central(sandbox, "opportunities")["O9201"]["Project"],
                                                 "CustomerBusinessProblem": "Consolidate 4 warehouses into one lake."})
    third = run(DAG_ID, conf={"snapshot": {"opportunity_id": "O9201"}})
    assert third.ok and third.returns["snapshot_opportunity"]["status"] == "created"
    assert snapshots_of(sandbox, "O9201") == [1, 2]


def test_resources_are_tracked_on_the_deal_and_not_rewritten(engaged):
    sandbox = engaged["sandbox"]

    result = run(DAG_ID, conf={"snapshot": {"opportunity_id": "O9201"}})

    assert result.ok, result.states
    properties = deal(sandbox, engaged["deal"])
    resources = json.loads(properties["aws_partner_resources"])
    assert resources == [
        {"created_by": "AWS", "id": "O7777", "type": "Opportunity"},
        {"created_by": "123456789012", "id": "O9201", "type": "Opportunity"},
        {"resource_id": "O9201", "resource_type": "Opportunity", "revision": 1, "template": "AWSOpportunitySummary",
         "type": "ResourceSnapshot"},
    ]
    assert properties["aws_total_resources"] == "3"
    snapshot = next(iter(partner_central(sandbox, "resource_snapshots").values()))
    assert properties["aws_last_resource_upload"][:19] == snapshot["CreatedAt"][:19]

    writes = calls(sandbox, "hubspot", "POST /crm/v3/objects/deals/batch/update")
    daily = run(DAG_ID)  # the scheduled sync: nothing new
    assert daily.ok and daily.returns["snapshot_opportunity"]["status"] == "not_requested"
    assert daily.returns["sync_resources"]["updated"] == 0
    assert calls(sandbox, "hubspot", "POST /crm/v3/objects/deals/batch/update") == writes


def test_snapshot_of_an_unlinked_deal_fails_at_once_naming_the_field(engaged):
    unlinked = seed_one(engaged["sandbox"], "deals", {"dealname": "Nowhere #AWS"})

    result = run(DAG_ID, conf={"snapshot": {"deal_id": unlinked}}, retries=None)

    assert result.states["snapshot_opportunity"] == "failed"
    assert calls(engaged["sandbox"], "partner_central", "CreateResourceSnapshot") == 0
