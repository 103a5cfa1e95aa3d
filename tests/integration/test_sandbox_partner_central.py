"""The Partner Central emulator, driven by a real boto3 client over HTTP (JSON 1.0 protocol)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError, ReadTimeoutError

from partner_sync import ace_model
from tests.integration.pc_server import (  # noqa: F401 - server and pc are shared fixtures
    EXAMPLE_OPPORTUNITY,
    PartnerCentralServer,
    pc,
    server,
)

SOLUTION = {"Id": "S-0000001", "Name": "Data Lake Accelerator", "Status": "Active",
            "Category": "Consulting Service"}
USER = {"Email": "alex@partner.example.com", "FirstName": "Alex", "LastName": "Rivera",
        "BusinessTitle": "PartnerAccountManager"}
INVITATION = {
    "Id": "engi-test000000001", "Catalog": "Sandbox", "EngagementId": "eng-test0000000001",
    "EngagementTitle": "Initech replatform", "SenderAwsAccountId": "AWS", "SenderCompanyName": "AWS",
    "Payload": {"OpportunityInvitation": {
        "ReceiverResponsibilities": ["Services Partner"],
        "Customer": {"Industry": "Financial Services", "CompanyName": "Initech Ltd",
                     "WebsiteUrl": "https://initech.example.com", "CountryCode": "US"},
        "Project": {"Title": "Initech replatform",
                    "BusinessProblem": "Loan processing cannot scale for month-end peaks.",
                    "TargetCompletionDate": "2027-03-31",
                    "ExpectedCustomerSpend": [{"Amount": "18000", "CurrencyCode": "USD",
                                               "Frequency": "Monthly", "TargetCompany": "AWS"}]},
    }},
    "OpportunityDetails": {"Customer": {"Contacts": [{"Email": "pat@initech.example.com",
                                                      "FirstName": "Pat", "LastName": "Lee"}]}},
}


@pytest.fixture
def client(pc: PartnerCentralServer) -> Any:
    return pc.client()


def create(client: Any, token: str = "token-1", **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE_OPPORTUNITY)
    body.update(changes)
    return client.create_opportunity(ClientToken=token, **body)


def get(client: Any, identifier: str) -> dict[str, Any]:
    opportunity = client.get_opportunity(Catalog="Sandbox", Identifier=identifier)
    opportunity.pop("ResponseMetadata")
    return opportunity


def update_body(opportunity: dict[str, Any]) -> dict[str, Any]:
    return ace_model.update_request_from_opportunity(opportunity)


def review(pc: PartnerCentralServer, client: Any, identifier: str, status: str) -> dict[str, Any]:
    """AWS moves the opportunity to another review status (a change on AWS's side)."""
    opportunity = get(client, identifier)
    opportunity["LifeCycle"]["ReviewStatus"] = status
    pc.seed(opportunities=[_wire(opportunity)])
    return get(client, identifier)


def _wire(opportunity: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in opportunity.items()}


def error_of(excinfo: pytest.ExceptionInfo) -> dict[str, Any]:
    return excinfo.value.response


# ------------------------------------------------------------------ create and validation
def test_valid_create_opportunity_succeeds_pending_submission(pc, client):
    answer = create(client)

    assert answer["Id"].startswith("O") and answer["PartnerOpportunityIdentifier"] == "hs-1234"
    opportunity = get(client, answer["Id"])
    assert opportunity["LifeCycle"]["ReviewStatus"] == "Pending Submission"
    assert opportunity["LastModifiedDate"] == answer["LastModifiedDate"]
    assert opportunity["Customer"] == EXAMPLE_OPPORTUNITY["Customer"]
    assert pc.stats()["by_route"] == {"CreateOpportunity": 1, "GetOpportunity": 1}


def test_invalid_industry_is_a_validation_exception_naming_the_field(client):
    account = {**EXAMPLE_OPPORTUNITY["Customer"]["Account"], "Industry": "Bogus"}
    with pytest.raises(ClientError) as excinfo:
        create(client, Customer={**EXAMPLE_OPPORTUNITY["Customer"], "Account": account})

    error = error_of(excinfo)
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Reason"] == "REQUEST_VALIDATION_FAILED"
    assert error["ErrorList"][0]["FieldName"] == "Customer.Account.Industry"
    assert error["ErrorList"][0]["Code"] == "INVALID_ENUM_VALUE"


def test_max_results_over_the_model_maximum_is_rejected(client):
    with pytest.raises(ClientError) as excinfo:
        client.list_opportunities(Catalog="Sandbox", MaxResults=500)
    assert [e["FieldName"] for e in error_of(excinfo)["ErrorList"]] == ["MaxResults"]


def test_missing_required_member_is_rejected_by_the_service(pc):
    unvalidated = pc.client(parameter_validation=False)  # botocore would stop it client-side
    spend = [{"Amount": "100", "Frequency": "Monthly", "TargetCompany": "AWS"}]
    with pytest.raises(ClientError) as excinfo:
        create(unvalidated, Project={**EXAMPLE_OPPORTUNITY["Project"], "ExpectedCustomerSpend": spend})
    assert error_of(excinfo)["ErrorList"] == [{
        "FieldName": "Project.ExpectedCustomerSpend[0].CurrencyCode",
        "Message": "is required", "Code": "REQUIRED_FIELD_MISSING"}]


def test_aws_catalog_refuses_aws_referral_origin(client):
    with pytest.raises(ClientError) as excinfo:
        create(client, Catalog="AWS", Origin="AWS Referral")
    assert error_of(excinfo)["Reason"] == "BUSINESS_VALIDATION_FAILED"


# ------------------------------------------------------------------ ClientToken
def test_same_client_token_and_body_replays_the_result_without_a_second_opportunity(pc, client):
    first, second = create(client, token="deal-42"), create(client, token="deal-42")

    assert first["Id"] == second["Id"]
    assert len(pc.state()["opportunities"]) == 1


def test_same_client_token_with_another_body_is_a_conflict(client):
    create(client, token="deal-42")
    with pytest.raises(ClientError) as excinfo:
        create(client, token="deal-42", PartnerOpportunityIdentifier="hs-other")
    assert error_of(excinfo)["Error"] == {
        "Code": "ConflictException",
        "Message": "Conflicting client token submitted for a new request body."}


def test_create_retried_after_a_timeout_yields_exactly_one_opportunity(pc):
    impatient = pc.client(read_timeout=0.3)
    pc.faults(timeout_rate=1, timeout_seconds=0.8)
    with pytest.raises(ReadTimeoutError):
        create(impatient, token="deal-7")  # done on the server, answer lost
    pc.faults()

    answer = create(impatient, token="deal-7")

    assert [o["Id"] for o in pc.state()["opportunities"]] == [answer["Id"]]


# ------------------------------------------------------------------ update
def test_update_with_a_stale_last_modified_date_is_a_conflict(client):
    opportunity = get(client, create(client)["Id"])
    stale = update_body(opportunity)
    client.update_opportunity(**update_body(opportunity))

    with pytest.raises(ClientError) as excinfo:
        client.update_opportunity(**stale)
    assert error_of(excinfo)["Error"]["Code"] == "ConflictException"


def test_last_modified_date_is_compared_by_instant_not_text(pc, client):
    identifier = create(client)["Id"]
    stored = pc.state()["opportunities"][0]["LastModifiedDate"]  # "…T10:20:30.123Z"
    body = update_body(get(client, identifier))
    body["LastModifiedDate"] = stored.replace("Z", "+00:00")

    assert client.update_opportunity(**body)["Id"] == identifier


def test_update_is_a_full_replace(client):
    opportunity = get(client, create(client)["Id"])
    body = update_body(opportunity)
    del body["Customer"]["Contacts"]
    del body["Project"]["DeliveryModels"]
    body["LifeCycle"] = {"Stage": "Technical Validation"}

    client.update_opportunity(**body)
    after = get(client, opportunity["Id"])

    assert "Contacts" not in after["Customer"]
    assert "DeliveryModels" not in after["Project"]
    assert after["LifeCycle"] == {"Stage": "Technical Validation", "ReviewStatus": "Pending Submission"}
    assert after["LastModifiedDate"] > opportunity["LastModifiedDate"]
    assert after["CreatedDate"] == opportunity["CreatedDate"]


@pytest.mark.parametrize("status", ["Submitted", "In review", "Rejected"])
def test_opportunity_in_review_cannot_be_updated(pc, client, status):
    opportunity = review(pc, client, create(client)["Id"], status)
    with pytest.raises(ClientError) as excinfo:
        client.update_opportunity(**update_body(opportunity))

    error = error_of(excinfo)
    assert error["Reason"] == "BUSINESS_VALIDATION_FAILED"
    assert error["ErrorList"][0]["Code"] == "INVALID_RESOURCE_STATE"


def test_action_required_allows_whitelisted_edits_and_reenters_review(pc, client):
    opportunity = review(pc, client, create(client)["Id"], "Action Required")
    body = update_body(opportunity)
    body["Customer"]["Account"]["WebsiteUrl"] = "https://www.acme.example"
    body["Project"]["ExpectedCustomerSpend"][0]["Amount"] = "30000"
    body["Project"]["CustomerBusinessProblem"] = "Consolidate 3 warehouses into one governed lake."

    client.update_opportunity(**body)

    after = get(client, opportunity["Id"])
    assert after["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "30000"
    assert after["LifeCycle"]["ReviewStatus"] == "Submitted"


def test_action_required_refuses_edits_outside_the_whitelist(pc, client):
    opportunity = review(pc, client, create(client)["Id"], "Action Required")
    body = update_body(opportunity)
    body["LifeCycle"]["Stage"] = "Committed"
    body["Customer"]["Account"]["WebsiteUrl"] = "https://www.acme.example"

    with pytest.raises(ClientError) as excinfo:
        client.update_opportunity(**body)
    assert error_of(excinfo)["ErrorList"] == [{
        "FieldName": "LifeCycle.Stage", "Code": "ACTION_NOT_PERMITTED",
        "Message": "can't be changed while the opportunity is in Action Required"}]


def test_title_cannot_change_after_submission(pc, client):
    opportunity = review(pc, client, create(client)["Id"], "Approved")
    body = update_body(opportunity)
    body["Project"]["Title"] = "Renamed"
    with pytest.raises(ClientError) as excinfo:
        client.update_opportunity(**body)
    assert error_of(excinfo)["ErrorList"][0]["FieldName"] == "Project.Title"

    body["Project"]["Title"] = opportunity["Project"]["Title"]
    body["LifeCycle"]["Stage"] = "Committed"
    client.update_opportunity(**body)  # an approved opportunity stays editable


def test_seeding_an_existing_opportunity_is_a_change_on_aws_side(pc, client):
    before = get(client, create(client)["Id"])
    after = review(pc, client, before["Id"], "Approved")
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    assert after["CreatedDate"] == before["CreatedDate"]


# ------------------------------------------------------------------ list and paging
def test_list_opportunities_pages_across_next_token(client):
    created = {create(client, token=f"t{i}", PartnerOpportunityIdentifier=f"hs-{i}")["Id"] for i in range(7)}
    seen, token, pages = [], None, 0
    while True:
        page = client.list_opportunities(Catalog="Sandbox", MaxResults=3, **({"NextToken": token} if token else {}))
        seen += [s["Id"] for s in page["OpportunitySummaries"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(created)


def test_list_opportunities_filters_on_or_after_last_modified_date(client):
    old = get(client, create(client, token="old")["Id"])
    new_id = create(client, token="new", PartnerOpportunityIdentifier="hs-new")["Id"]
    after = old["LastModifiedDate"] + timedelta(milliseconds=1)

    page = client.list_opportunities(Catalog="Sandbox", LastModifiedDate={"AfterLastModifiedDate": after})
    assert [s["Id"] for s in page["OpportunitySummaries"]] == [new_id]
    page = client.list_opportunities(
        Catalog="Sandbox", LastModifiedDate={"AfterLastModifiedDate": old["LastModifiedDate"]},
        Sort={"SortBy": "LastModifiedDate", "SortOrder": "ASCENDING"})
    assert [s["Id"] for s in page["OpportunitySummaries"]] == [old["Id"], new_id]


def test_engagement_members_page_by_at_most_ten(pc, client):
    members = [{"CompanyName": f"Member {i}", "AccountId": f"{i:012d}"} for i in range(12)]
    pc.seed(engagements=[{"Id": "eng-test0000000009", "Title": "Big one", "Members": members}])

    pages = list(client.get_paginator("list_engagement_members").paginate(
        Catalog="Sandbox", Identifier="eng-test0000000009", PaginationConfig={"PageSize": 5}))
    assert [len(p["EngagementMemberList"]) for p in pages] == [5, 5, 2]
    assert client.get_engagement(Catalog="Sandbox", Identifier="eng-test0000000009")["MemberCount"] == 12
    with pytest.raises(ClientError):
        client.list_engagement_members(Catalog="Sandbox", Identifier="eng-test0000000009", MaxResults=11)


# ------------------------------------------------------------------ assign, associate, submit
def test_assign_to_an_unknown_user_fails_like_ace(pc, client):
    identifier = create(client)["Id"]
    with pytest.raises(ClientError) as excinfo:
        client.assign_opportunity(Catalog="Sandbox", Identifier=identifier, Assignee=USER)
    assert "User not found for Opportunity Owner email" in error_of(excinfo)["Error"]["Message"]

    pc.seed(users=[USER])
    client.assign_opportunity(Catalog="Sandbox", Identifier=identifier, Assignee=USER)
    assert get(client, identifier)["OpportunityTeam"][0]["Email"] == USER["Email"]


def test_associate_needs_an_existing_solution_and_at_most_ten(pc, client):
    identifier = create(client)["Id"]
    with pytest.raises(ClientError) as excinfo:
        client.associate_opportunity(Catalog="Sandbox", OpportunityIdentifier=identifier,
                                     RelatedEntityType="Solutions", RelatedEntityIdentifier="S-0000001")
    assert error_of(excinfo)["Error"]["Code"] == "ResourceNotFoundException"

    pc.seed(solutions=[{**SOLUTION, "Id": f"S-{i:07d}"} for i in range(1, 12)])
    for i in range(1, 11):
        client.associate_opportunity(Catalog="Sandbox", OpportunityIdentifier=identifier,
                                     RelatedEntityType="Solutions", RelatedEntityIdentifier=f"S-{i:07d}")
    with pytest.raises(ClientError) as excinfo:
        client.associate_opportunity(Catalog="Sandbox", OpportunityIdentifier=identifier,
                                     RelatedEntityType="Solutions", RelatedEntityIdentifier="S-0000011")
    assert error_of(excinfo)["ErrorList"][0]["Code"] == "TOO_MANY_VALUES"
    assert len(get(client, identifier)["RelatedEntityIdentifiers"]["Solutions"]) == 10


def test_engagement_from_opportunity_fails_without_a_solution(client):
    identifier = create(client)["Id"]
    task = client.start_engagement_from_opportunity_task(
        Catalog="Sandbox", Identifier=identifier, AwsSubmission={"InvolvementType": "Co-Sell"})
    assert (task["TaskStatus"], task["ReasonCode"]) == ("FAILED", "OpportunityValidationFailed")
    assert get(client, identifier)["LifeCycle"]["ReviewStatus"] == "Pending Submission"


def test_engagement_from_opportunity_submits_and_creates_engagement_and_snapshot(pc, client):
    pc.seed(solutions=[SOLUTION])
    identifier = create(client)["Id"]
    client.associate_opportunity(Catalog="Sandbox", OpportunityIdentifier=identifier,
                                 RelatedEntityType="Solutions", RelatedEntityIdentifier="S-0000001")
    request = {"Catalog": "Sandbox", "Identifier": identifier, "ClientToken": "submit-1",
               "AwsSubmission": {"InvolvementType": "Co-Sell", "Visibility": "Full"}}

    task = client.start_engagement_from_opportunity_task(**request)
    again = client.start_engagement_from_opportunity_task(**request)

    assert task["TaskStatus"] == "COMPLETE" and again["TaskId"] == task["TaskId"]
    assert get(client, identifier)["LifeCycle"]["ReviewStatus"] == "Submitted"
    engagement = client.get_engagement(Catalog="Sandbox", Identifier=task["EngagementId"])
    assert engagement["Contexts"][0]["Type"] == "CustomerProject"
    snapshots = client.list_resource_snapshots(Catalog="Sandbox", EngagementIdentifier=task["EngagementId"])
    assert [s["ResourceId"] for s in snapshots["ResourceSnapshotSummaries"]] == [identifier]
    listed = client.list_engagement_from_opportunity_tasks(Catalog="Sandbox", OpportunityIdentifier=[identifier])
    assert [t["TaskId"] for t in listed["TaskSummaries"]] == [task["TaskId"]]
    with pytest.raises(ClientError):
        client.update_opportunity(**update_body(get(client, identifier)))  # locked in review


# ------------------------------------------------------------------ invitations
def test_accepting_an_invitation_creates_an_aws_referral_opportunity(pc, client):
    pc.seed(invitations=[INVITATION])
    pending = client.list_engagement_invitations(Catalog="Sandbox", ParticipantType="RECEIVER", Status=["PENDING"])
    assert [i["Id"] for i in pending["EngagementInvitationSummaries"]] == [INVITATION["Id"]]

    task = client.start_engagement_by_accepting_invitation_task(
        Catalog="Sandbox", Identifier=INVITATION["Id"], ClientToken="accept-1")

    assert task["TaskStatus"] == "COMPLETE"
    opportunity = get(client, task["OpportunityId"])
    assert opportunity["Customer"]["Account"]["CompanyName"] == "Initech Ltd"
    assert opportunity["Customer"]["Contacts"][0]["Email"] == "pat@initech.example.com"
    assert opportunity["Project"]["Title"] == "Initech replatform"
    assert pc.emulator.state["opportunities"][task["OpportunityId"]]["Origin"] == "AWS Referral"
    invitation = client.get_engagement_invitation(Catalog="Sandbox", Identifier=INVITATION["Id"])
    assert invitation["Status"] == "ACCEPTED"
    members = client.list_engagement_members(Catalog="Sandbox", Identifier=INVITATION["EngagementId"])
    assert "Sandbox Partner Inc." in [m["CompanyName"] for m in members["EngagementMemberList"]]
    associations = client.list_engagement_resource_associations(
        Catalog="Sandbox", EngagementIdentifier=INVITATION["EngagementId"])
    assert [a["ResourceId"] for a in associations["EngagementResourceAssociationSummaries"]] == [
        task["OpportunityId"]]


def test_accepting_twice_replays_by_token_and_fails_with_a_new_token(pc, client):
    pc.seed(invitations=[INVITATION])
    first = client.start_engagement_by_accepting_invitation_task(
        Catalog="Sandbox", Identifier=INVITATION["Id"], ClientToken="accept-1")
    replay = client.start_engagement_by_accepting_invitation_task(
        Catalog="Sandbox", Identifier=INVITATION["Id"], ClientToken="accept-1")
    fresh = client.start_engagement_by_accepting_invitation_task(
        Catalog="Sandbox", Identifier=INVITATION["Id"], ClientToken="accept-2")

    assert replay["TaskId"] == first["TaskId"]
    assert (fresh["TaskStatus"], fresh["ReasonCode"]) == ("FAILED", "EngagementInvitationConflict")
    assert len(pc.state()["opportunities"]) == 1


def test_rejecting_an_invitation_records_the_reason_once(pc, client):
    pc.seed(invitations=[INVITATION])
    client.reject_engagement_invitation(Catalog="Sandbox", Identifier=INVITATION["Id"],
                                        RejectionReason="Customer not in our territory")
    invitation = client.get_engagement_invitation(Catalog="Sandbox", Identifier=INVITATION["Id"])
    assert (invitation["Status"], invitation["RejectionReason"]) == ("REJECTED", "Customer not in our territory")
    with pytest.raises(ClientError) as excinfo:
        client.reject_engagement_invitation(Catalog="Sandbox", Identifier=INVITATION["Id"])
    assert error_of(excinfo)["Error"]["Code"] == "ConflictException"


# ------------------------------------------------------------------ protocol, faults, admin
def test_unknown_and_unemulated_operations_are_unknown_operation_exceptions(pc):
    headers = {"Content-Type": "application/x-amz-json-1.0",
               "Authorization": "AWS4-HMAC-SHA256 Credential=k/20261122/us-east-1/partnercentral-selling/aws4_request"}
    for target in ("AWSPartnerCentralSelling.DeleteEverything", "AWSPartnerCentralSelling.TagResource"):
        answer = requests.post(pc.url, json={}, headers={**headers, "X-Amz-Target": target}, timeout=5)
        assert (answer.status_code, answer.json()["__type"]) == (400, "UnknownOperationException")
    unsigned = requests.post(pc.url, json={"Catalog": "Sandbox"}, timeout=5, headers={
        "X-Amz-Target": "AWSPartnerCentralSelling.ListSolutions"})
    assert unsigned.status_code == 403


def test_injected_errors_are_internal_server_exceptions(pc, client):
    pc.faults(error_rate=1)
    with pytest.raises(ClientError) as excinfo:
        client.list_solutions(Catalog="Sandbox")
    error = error_of(excinfo)
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("InternalServerException", 500)


def test_a_seed_that_violates_the_model_is_refused(pc):
    answer = requests.post(f"{pc.url}/_sandbox/seed", timeout=5, json={"objects": {
        "opportunities": [{"Customer": {"Account": {"CompanyName": "X", "Industry": "Bogus"}}}]}})
    assert answer.status_code == 400 and "Industry" in answer.json()["error"]
    typo = requests.post(f"{pc.url}/_sandbox/seed", timeout=5, json={"objects": {
        "opportunities": [{"Lifecycle": {"Stage": "Prospect"}}]}})
    assert typo.status_code == 400 and "Lifecycle" in typo.json()["error"]


def test_demo_state_is_valid_in_every_collection(pc, client):
    pc.seed_demo()
    state = pc.state()
    assert {k: len(v) for k, v in state.items()} == {
        "opportunities": 0, "invitations": 2, "engagements": 1, "resource_snapshots": 0,
        "solutions": 4, "users": 3}
    for invitation in state["invitations"]:
        assert ace_model.validate_output("GetEngagementInvitation", invitation) == []
    solutions = client.list_solutions(Catalog="Sandbox", Status=["Active"])["SolutionSummaries"]
    assert [s["Id"] for s in solutions] == ["S-0000001", "S-0000002", "S-0000003"]


def test_reads_and_writes_are_throttled_at_the_documented_quotas():
    limited = PartnerCentralServer(rate_limits=True).start()
    try:
        client = limited.client()
        create(client, token="w1")
        with pytest.raises(ClientError) as excinfo:
            create(client, token="w2")
        error = excinfo.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ThrottlingException", 400)

        answers = []
        for _ in range(11):
            try:
                client.list_solutions(Catalog="Sandbox")
                answers.append("ok")
            except ClientError as failure:
                answers.append(failure.response["Error"]["Code"])
        assert answers[:10] == ["ok"] * 10 and answers[10] == "ThrottlingException"
    finally:
        limited.stop()
