"""PartnerCentralHook against the emulator over HTTP, configured by AIRFLOW_CONN_AWS_PARTNER_CENTRAL."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from partner_sync import ace_model
from partner_sync.hooks.partner_central import (
    PartnerCentralHook,
    error_code,
    error_fields,
    error_reason,
)
from tests.integration.pc_server import (  # noqa: F401 - server and pc are shared fixtures
    EXAMPLE_OPPORTUNITY,
    PartnerCentralServer,
    connection,
    pc,
    server,
)

OPPORTUNITY = {k: v for k, v in EXAMPLE_OPPORTUNITY.items() if k != "Catalog"}


@pytest.fixture
def hook(pc: PartnerCentralServer) -> Iterator[PartnerCentralHook]:
    """The hook on the connection env var; no client-side pacing (the emulator has no limits)."""
    with connection(pc, pacing=False, timeout=5):
        yield PartnerCentralHook()


def seed_for(rate: float, outcomes: list[bool]) -> int:
    """A fault seed whose first draws fall below/above ``rate`` as ``outcomes`` says."""
    for seed in range(10_000):
        draws = random.Random(seed)
        if [draws.random() < rate for _ in outcomes] == outcomes:
            return seed
    raise AssertionError("no seed found")


def test_hook_uses_the_connection_endpoint_catalog_and_retry_config(pc, hook):
    assert hook.catalog == "Sandbox"
    assert hook.conn.meta.endpoint_url == pc.url
    assert hook.config.retries == {"mode": "standard", "max_attempts": 6}
    assert (hook.config.connect_timeout, hook.config.read_timeout) == (5.0, 5.0)
    assert hook.test_connection()[0] is True


def test_create_get_and_read_modify_write_through_the_hook(hook):
    created = hook.create_opportunity(ClientToken="deal-1", **copy.deepcopy(OPPORTUNITY))
    assert "ResponseMetadata" not in created

    current = hook.get_opportunity(Identifier=created["Id"])
    update = ace_model.update_request_from_opportunity(current)
    update.pop("Catalog")
    update["LifeCycle"]["NextSteps"] = "Schedule architecture review"
    hook.update_opportunity(**update)

    after = hook.get_opportunity(Identifier=created["Id"])
    assert after["LifeCycle"]["NextSteps"] == "Schedule architecture review"
    assert after["LifeCycle"]["NextStepsHistory"][0]["Value"] == "Schedule architecture review"


def test_iter_opportunities_reads_every_page(pc, hook):
    for i in range(5):
        hook.create_opportunity(ClientToken=f"deal-{i}", **{**OPPORTUNITY, "PartnerOpportunityIdentifier": f"hs-{i}"})

    listed = list(hook.iter_opportunities(PaginationConfig={"PageSize": 2}))

    assert sorted(o["PartnerOpportunityIdentifier"] for o in listed) == [f"hs-{i}" for i in range(5)]
    assert pc.stats()["by_route"]["ListOpportunities"] == 3


def test_conflict_and_validation_errors_propagate_with_helpers(hook):
    created = hook.create_opportunity(ClientToken="deal-1", **copy.deepcopy(OPPORTUNITY))
    stale = ace_model.update_request_from_opportunity(hook.get_opportunity(Identifier=created["Id"]))
    hook.update_opportunity(**stale)
    with pytest.raises(ClientError) as conflict:
        hook.update_opportunity(**stale)
    assert error_code(conflict.value) == "ConflictException"

    with pytest.raises(ClientError) as invalid:
        hook.iter_solutions(MaxResults=500).__next__()
    assert error_code(invalid.value) == "ValidationException"
    assert error_reason(invalid.value) == "REQUEST_VALIDATION_FAILED"
    assert [(p.field, p.code) for p in error_fields(invalid.value)] == [("MaxResults", "VALUE_OUT_OF_RANGE")]
    assert error_code(ValueError("x")) is None and error_fields(ValueError("x")) == []


def test_preflight_finds_model_problems_without_calling_the_service(pc, hook):
    body = copy.deepcopy(OPPORTUNITY)
    body["Customer"]["Account"]["Industry"] = "Bogus"
    body["Customer"]["Contacts"][0]["Phone"] = "555-0100"

    problems = hook.preflight("CreateOpportunity", body)

    assert {(p.field, p.code) for p in problems} == {
        ("Customer.Account.Industry", "INVALID_ENUM_VALUE"),
        ("Customer.Contacts[0].Phone", "INVALID_STRING_FORMAT"),
    }
    assert hook.preflight("CreateOpportunity", copy.deepcopy(OPPORTUNITY)) == []
    assert pc.stats()["total"] == 0


def test_injected_server_errors_are_retried_by_the_hook(pc, hook):
    pc.faults(error_rate=0.5, seed=seed_for(0.5, [True, True, False]))

    created = hook.create_opportunity(ClientToken="deal-1", **copy.deepcopy(OPPORTUNITY))

    assert pc.stats()["by_route"]["CreateOpportunity"] == 3
    assert [o["Id"] for o in pc.state()["opportunities"]] == [created["Id"]]


def test_a_create_whose_answer_timed_out_is_retried_into_the_same_opportunity(pc):
    pc.faults(timeout_rate=0.5, timeout_seconds=1.0, seed=seed_for(0.5, [True, False]))
    with connection(pc, pacing=False, timeout=0.4):
        created = PartnerCentralHook().create_opportunity(**copy.deepcopy(OPPORTUNITY))  # auto token

    assert pc.stats()["by_route"]["CreateOpportunity"] == 2
    assert [o["Id"] for o in pc.state()["opportunities"]] == [created["Id"]]


def test_invitation_flow_through_the_hook(pc, hook):
    pc.seed_demo()
    pending = [i for i in hook.iter_engagement_invitations(Status=["PENDING"])]
    assert len(pending) == 2

    invitation = hook.get_engagement_invitation(Identifier=pending[0]["Id"])
    task = hook.start_engagement_by_accepting_invitation_task(Identifier=invitation["Id"], ClientToken="accept-1")
    hook.reject_engagement_invitation(Identifier=pending[1]["Id"], RejectionReason="Out of territory")

    assert task["TaskStatus"] == "COMPLETE"
    tasks = hook.list_engagement_by_accepting_invitation_tasks(EngagementInvitationIdentifier=[invitation["Id"]])
    assert [t["OpportunityId"] for t in tasks["TaskSummaries"]] == [task["OpportunityId"]]
    engagement = hook.get_engagement(Identifier=invitation["EngagementId"])
    members = list(hook.iter_engagement_members(Identifier=engagement["Id"]))
    assert len(members) == engagement["MemberCount"] >= 1
    assert [a["ResourceId"] for a in hook.iter_engagement_resource_associations(
        EngagementIdentifier=engagement["Id"])] == [task["OpportunityId"]]
    assert engagement["Id"] in [e["Id"] for e in hook.iter_engagements()]


def test_submission_and_snapshots_through_the_hook(pc, hook):
    pc.seed_demo()
    solution = next(hook.iter_solutions(Status=["Active"]))
    created = hook.create_opportunity(ClientToken="deal-1", **copy.deepcopy(OPPORTUNITY))
    hook.associate_opportunity(OpportunityIdentifier=created["Id"], RelatedEntityType="Solutions",
                               RelatedEntityIdentifier=solution["Id"])
    pc.seed(users=[{"Email": "owner@partner.example.com", "FirstName": "O", "LastName": "Wner",
                    "BusinessTitle": "PartnerAccountManager"}])
    hook.assign_opportunity(Identifier=created["Id"], Assignee={
        "Email": "owner@partner.example.com", "FirstName": "O", "LastName": "Wner",
        "BusinessTitle": "PartnerAccountManager"})

    task = hook.start_engagement_from_opportunity_task(
        Identifier=created["Id"], ClientToken="submit-1", AwsSubmission={"InvolvementType": "Co-Sell"})
    assert task["TaskStatus"] == "COMPLETE"
    listed = hook.list_engagement_from_opportunity_tasks(OpportunityIdentifier=[created["Id"]])
    assert listed["TaskSummaries"][0]["EngagementId"] == task["EngagementId"]

    target = {"EngagementIdentifier": task["EngagementId"], "ResourceType": "Opportunity",
              "ResourceIdentifier": created["Id"], "ResourceSnapshotTemplateIdentifier": "PartnerView"}
    snapshot = hook.create_resource_snapshot(ClientToken="snap-1", **target)
    job = hook.create_resource_snapshot_job(ClientToken="job-1", **target)
    assert snapshot["Revision"] == 1 and job["Id"].startswith("job-")
    revisions = [s["Revision"] for s in hook.iter_resource_snapshots(
        EngagementIdentifier=task["EngagementId"], ResourceSnapshotTemplateIdentifier="PartnerView")]
    assert revisions == [1]  # the job snapshots only when the opportunity changed


def test_disassociate_and_submit_through_the_hook(pc, hook):
    pc.seed_demo()
    created = hook.create_opportunity(ClientToken="deal-1", **copy.deepcopy(OPPORTUNITY))
    for solution in ("S-0000001", "S-0000002"):
        hook.associate_opportunity(OpportunityIdentifier=created["Id"], RelatedEntityType="Solutions",
                                   RelatedEntityIdentifier=solution)
    hook.disassociate_opportunity(OpportunityIdentifier=created["Id"], RelatedEntityType="Solutions",
                                  RelatedEntityIdentifier="S-0000002")
    hook.submit_opportunity(Identifier=created["Id"], InvolvementType="For Visibility Only")

    opportunity = hook.get_opportunity(Identifier=created["Id"])
    assert opportunity["RelatedEntityIdentifiers"]["Solutions"] == ["S-0000001"]
    assert opportunity["LifeCycle"]["ReviewStatus"] == "Submitted"


def test_paced_hook_stays_under_the_write_quota_that_raw_calls_exceed():
    limited = PartnerCentralServer(rate_limits=True).start()
    try:
        with connection(limited, timeout=5):
            hook = PartnerCentralHook()
            for i in range(3):
                hook.create_opportunity(ClientToken=f"deal-{i}", **copy.deepcopy(OPPORTUNITY))
        # three writes, no throttled attempt retried: the limiter kept us at 1 write/s
        assert limited.stats()["by_route"]["CreateOpportunity"] == 3
        assert len(limited.state()["opportunities"]) == 3
    finally:
        limited.stop()
