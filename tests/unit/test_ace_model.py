"""ace_model: request/response validation and shape facts, all derived from botocore's model."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import botocore.loaders
import pytest
from botocore.model import ServiceModel

from partner_sync import ace_model

EXAMPLE = {
    "Catalog": "Sandbox", "ClientToken": "token-1", "Origin": "Partner Referral",
    "OpportunityType": "Net New Business", "PartnerOpportunityIdentifier": "hs-1234",
    "Customer": {
        "Account": {"CompanyName": "Acme", "Industry": "Software and Internet",
                    "WebsiteUrl": "https://acme.example",
                    "Address": {"CountryCode": "US", "PostalCode": "98101"}},
        "Contacts": [{"Email": "jane@acme.example", "FirstName": "Jane", "LastName": "Doe",
                      "Phone": "+12065550100"}],
    },
    "Project": {"Title": "Lake migration",
                "CustomerBusinessProblem": "Consolidate 3 warehouses into one lake.",
                "DeliveryModels": ["Professional Services"],
                "ExpectedCustomerSpend": [{"Amount": "25000", "CurrencyCode": "USD",
                                           "Frequency": "Monthly", "TargetCompany": "AWS"}]},
    "LifeCycle": {"Stage": "Qualified", "TargetCloseDate": "2026-12-31"},
}


def example(**changes: object) -> dict:
    """The api-facts §1.4 example with dotted-path changes (None deletes)."""
    body = copy.deepcopy(EXAMPLE)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = body
        for step in parents:
            target = target[int(step)] if step.isdigit() else target[step]
        if value is None:
            del target[leaf]
        else:
            target[leaf] = value
    return body


def codes(problems: list[ace_model.FieldProblem]) -> dict[str, str]:
    return {p.field: p.code for p in problems}


def test_valid_example_request_has_no_problems():
    assert ace_model.validate_input("CreateOpportunity", EXAMPLE) == []


def test_unknown_enum_value_is_invalid_enum_value_named_by_path():
    problems = ace_model.validate_input("CreateOpportunity", example(Customer__Account__Industry="Bogus"))
    assert codes(problems) == {"Customer.Account.Industry": "INVALID_ENUM_VALUE"}


def test_pattern_mismatch_in_a_list_item_is_invalid_string_format():
    problems = ace_model.validate_input("CreateOpportunity", example(Customer__Contacts__0__Phone="555-0100"))
    assert codes(problems) == {"Customer.Contacts[0].Phone": "INVALID_STRING_FORMAT"}


def test_missing_required_members_are_reported_at_every_depth():
    body = example(Catalog=None, Project__ExpectedCustomerSpend__0__CurrencyCode=None)
    assert codes(ace_model.validate_input("CreateOpportunity", body)) == {
        "Catalog": "REQUIRED_FIELD_MISSING",
        "Project.ExpectedCustomerSpend[0].CurrencyCode": "REQUIRED_FIELD_MISSING",
    }


@pytest.mark.parametrize("max_results", [0, 101, 500])
def test_max_results_outside_the_model_range_is_value_out_of_range(max_results):
    problems = ace_model.validate_input("ListOpportunities", {"Catalog": "Sandbox", "MaxResults": max_results})
    assert codes(problems) == {"MaxResults": "VALUE_OUT_OF_RANGE"}


def test_string_longer_than_its_length_pattern_is_value_out_of_range():
    problems = ace_model.validate_input("CreateOpportunity", example(Customer__Account__CompanyName="x" * 121))
    assert codes(problems) == {"Customer.Account.CompanyName": "VALUE_OUT_OF_RANGE"}
    assert "120" in problems[0].message


def test_list_sizes_are_checked_both_ways():
    team = [{"Email": f"m{i}@partner.example"} for i in range(11)]
    problems = ace_model.validate_input("CreateOpportunity", example(OpportunityTeam=team, Tags=[]))
    assert codes(problems) == {"OpportunityTeam": "TOO_MANY_VALUES", "Tags": "NOT_ENOUGH_VALUES"}


def test_unknown_member_is_rejected():
    problems = ace_model.validate_input("CreateOpportunity", example(Customer__Account__Colour="blue"))
    assert codes(problems) == {"Customer.Account.Colour": "INVALID_VALUE"}


@pytest.mark.parametrize("value", ["20", True, 2.5])
def test_wrong_type_for_an_integer_is_invalid_value(value):
    problems = ace_model.validate_input("ListSolutions", {"Catalog": "Sandbox", "MaxResults": value})
    assert codes(problems) == {"MaxResults": "INVALID_VALUE"}


@pytest.mark.parametrize(
    "moment",
    ["2026-11-22T10:20:30Z", "2026-11-22T10:20:30.123000Z", "2026-11-22T10:20:30+02:00",
     datetime(2026, 11, 22, tzinfo=timezone.utc), 1764000000],
)
def test_timestamps_accept_what_botocore_sends_or_callers_pass(moment):
    body = {"Catalog": "Sandbox", "LastModifiedDate": {"AfterLastModifiedDate": moment}}
    assert ace_model.validate_input("ListOpportunities", body) == []


def test_malformed_timestamp_is_invalid_string_format():
    body = {"Catalog": "Sandbox", "LastModifiedDate": {"AfterLastModifiedDate": "yesterday"}}
    assert codes(ace_model.validate_input("ListOpportunities", body)) == {
        "LastModifiedDate.AfterLastModifiedDate": "INVALID_STRING_FORMAT"
    }


def test_union_must_set_exactly_one_member():
    payload = {"OpportunityInvitation": {}, "LeadInvitation": {}}
    problems = ace_model.validate_shape("Payload", payload, "Payload")
    assert ("Payload", "INVALID_VALUE") in {(p.field, p.code) for p in problems}


def test_unicode_property_patterns_of_the_model_are_supported():
    tags = [{"Key": "Kostenstelle Über", "Value": "Équipe 7"}]
    assert ace_model.validate_input("CreateOpportunity", example(Tags=tags)) == []
    bad = [{"Key": "semi;colon", "Value": "v"}]
    assert codes(ace_model.validate_input("CreateOpportunity", example(Tags=bad))) == {
        "Tags[0].Key": "INVALID_STRING_FORMAT"
    }


def test_output_validation_catches_missing_required_response_members():
    problems = ace_model.validate_output("CreateOpportunity", {"PartnerOpportunityIdentifier": "hs-1"})
    assert codes(problems) == {"Id": "REQUIRED_FIELD_MISSING"}


def test_output_validation_of_an_empty_output_allows_only_empty_bodies():
    assert ace_model.validate_output("AssignOpportunity", {}) == []
    assert codes(ace_model.validate_output("AssignOpportunity", {"Id": "O1"})) == {"Id": "INVALID_VALUE"}


def test_problem_codes_are_values_the_model_defines():
    used = {"REQUIRED_FIELD_MISSING", "INVALID_ENUM_VALUE", "INVALID_STRING_FORMAT", "INVALID_VALUE",
            "TOO_MANY_VALUES", "NOT_ENOUGH_VALUES", "VALUE_OUT_OF_RANGE", "INVALID_RESOURCE_STATE",
            "ACTION_NOT_PERMITTED"}
    assert used <= set(ace_model.validation_error_codes())


def test_every_industry_in_the_live_model_is_accepted():
    for industry in ace_model.enum_values("CreateOpportunity", "Customer.Account.Industry"):
        assert ace_model.validate_input("CreateOpportunity", example(Customer__Account__Industry=industry)) == []


def _model_with_changed_industries(add: str, remove: str) -> ServiceModel:
    raw = botocore.loaders.create_loader().load_service_model(ace_model.SERVICE_NAME, "service-2")
    raw = copy.deepcopy(raw)
    enum = raw["shapes"]["Industry"]["enum"]
    enum.remove(remove)
    enum.append(add)
    return ServiceModel(raw, service_name=ace_model.SERVICE_NAME)


def test_enums_come_from_the_model_so_botocore_changes_are_picked_up(monkeypatch):
    drifted = _model_with_changed_industries(add="Space Exploration", remove="Aerospace")
    monkeypatch.setattr(ace_model, "service_model", lambda: drifted)

    assert "Space Exploration" in ace_model.enum_values("CreateOpportunity", "Customer.Account.Industry")
    assert ace_model.validate_input(
        "CreateOpportunity", example(Customer__Account__Industry="Space Exploration")) == []
    assert codes(ace_model.validate_input(
        "CreateOpportunity", example(Customer__Account__Industry="Aerospace"))) == {
        "Customer.Account.Industry": "INVALID_ENUM_VALUE"}


def test_update_members_are_the_update_request_members():
    members = ace_model.update_members()
    assert members == set(ace_model.input_shape("UpdateOpportunity").members)
    assert {"Identifier", "LastModifiedDate", "Customer", "Project", "LifeCycle"} <= members
    assert not members & {"ClientToken", "Origin", "OpportunityTeam", "Tags"}


def test_update_request_from_an_opportunity_keeps_every_updatable_member_and_drops_read_only():
    opportunity = {
        **{k: v for k, v in EXAMPLE.items() if k not in ("ClientToken", "Origin")},
        "Id": "O123", "Arn": "arn:aws:partnercentral:…", "CreatedDate": "2026-11-01T00:00:00Z",
        "LastModifiedDate": "2026-11-02T00:00:00.123Z", "RelatedEntityIdentifiers": {},
        "LifeCycle": {"Stage": "Qualified", "ReviewStatus": "Approved",
                      "NextStepsHistory": [{"Value": "call", "Time": "2026-11-01T00:00:00Z"}]},
        "OpportunityTeam": [{"Email": "owner@partner.example"}],
    }
    update = ace_model.update_request_from_opportunity(opportunity)

    assert update["Identifier"] == "O123"
    assert update["LastModifiedDate"] == "2026-11-02T00:00:00.123Z"
    assert update["Customer"] == EXAMPLE["Customer"]
    assert update["LifeCycle"] == {"Stage": "Qualified"}
    assert not update.keys() & {"Id", "Arn", "CreatedDate", "RelatedEntityIdentifiers", "OpportunityTeam"}
    assert ace_model.validate_input("UpdateOpportunity", update) == []


def test_shape_facts_for_mapping_code():
    assert ace_model.length_limits("CreateOpportunity", "Customer.Account.CompanyName") == (0, 120)
    assert "Professional Services" in ace_model.enum_values("CreateOpportunity", "Project.DeliveryModels")
    assert ace_model.enum_values("CreateOpportunity", "Customer.Account.CompanyName") == ()
    assert ace_model.required_members("CreateOpportunity", "Project.ExpectedCustomerSpend") == (
        "CurrencyCode", "Frequency", "TargetCompany")
    with pytest.raises(KeyError):
        ace_model.member_shape("CreateOpportunity", "Customer.Account.Colour")


def test_project_drops_members_a_shape_does_not_define():
    summary = ace_model.project("OpportunitySummary", {**EXAMPLE, "Id": "O1"})
    assert "Contacts" not in summary["Customer"]
    assert "ClientToken" not in summary and "Origin" not in summary
    assert summary["Id"] == "O1"


@pytest.mark.parametrize(
    ("path", "editable"),
    [("Customer.Account.Address.City", True), ("Project.ExpectedCustomerSpend[0].Amount", True),
     ("Project.ExpectedCustomerSpend[1].Frequency", False), ("LifeCycle.Stage", False),
     ("PartnerOpportunityIdentifier", True), ("Project.Title", False)],
)
def test_action_required_whitelist(path, editable):
    assert ace_model.action_required_editable(path) is editable


def test_pacing_classes_follow_the_documented_quotas_and_verbs():
    assert ace_model.pacing_class("UpdateOpportunity") == "write"
    assert ace_model.pacing_class("ListEngagementInvitations") == "read"
    assert ace_model.pacing_class("ListEngagementMembers") == "read"
    assert ace_model.pacing_class("CreateResourceSnapshot") == "write"
    assert ace_model.quota_class("CreateResourceSnapshot") is None
