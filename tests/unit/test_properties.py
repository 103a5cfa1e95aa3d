"""The custom HubSpot deal properties: every one the SPEC and seeds name, valid definitions."""

from __future__ import annotations

import pytest

from partner_sync.mapping import properties

# SPEC §3 and seed 000 (Microsoft), SPEC §3 (AWS base), seed 003 (all five features).
SEED_000 = ["microsoft_referral_id", "microsoft_sync_status", "microsoft_status", "microsoft_substatus",
            "customer_name"]
AWS_BASE = ["aws_opportunity_id", "aws_sync_status", "aws_review_status", "aws_lifecycle_stage",
            "aws_invitation_id"]
SEED_003 = [
    "aws_engagement_id", "aws_engagement_status", "aws_engagement_team", "aws_engagement_kickoff_date",
    "aws_last_engagement_sync",
    "aws_assigned_partner_user", "aws_opportunity_team", "aws_team_last_sync",
    "aws_partner_resources", "aws_total_resources", "aws_last_resource_upload",
    "aws_conflict_status", "aws_last_conflict_date", "aws_version", "aws_last_sync_by",
    "aws_contact_company_last_sync",
]
REQUIRED = SEED_000 + AWS_BASE + SEED_003


def by_name(name: str) -> dict:
    return properties.property_definition(name)


@pytest.mark.parametrize("name", REQUIRED)
def test_every_named_property_is_defined(name):
    definition = by_name(name)
    assert definition["groupName"] == "partner_sync"
    assert definition["label"] and definition["description"]


def test_names_are_unique():
    assert len(properties.DEAL_PROPERTY_NAMES) == len(set(properties.DEAL_PROPERTY_NAMES))
    assert set(REQUIRED) <= set(properties.DEAL_PROPERTY_NAMES)


@pytest.mark.parametrize("definition", properties.DEAL_PROPERTIES, ids=lambda d: d["name"])
def test_type_and_field_type_are_valid(definition):
    assert definition["type"] in properties.VALID_FIELD_TYPES
    assert definition["fieldType"] in properties.VALID_FIELD_TYPES[definition["type"]]
    assert set(definition) <= {"name", "label", "type", "fieldType", "groupName", "description",
                               "options", "hasUniqueValue"}
    if definition["type"] == "enumeration":
        values = [option["value"] for option in definition["options"]]
        assert values and len(values) == len(set(values))
    else:
        assert "options" not in definition


@pytest.mark.parametrize(("name", "values"), [
    ("microsoft_sync_status", ["not_synced", "synced", "error"]),
    ("aws_sync_status", ["not_synced", "synced", "error"]),
    ("aws_engagement_status", ["Active", "Completed", "Cancelled"]),
    ("aws_conflict_status", ["None", "Pending", "Resolved"]),
])
def test_enumerations(name, values):
    assert [option["value"] for option in by_name(name)["options"]] == values


@pytest.mark.parametrize("name", ["microsoft_referral_id", "aws_opportunity_id", "aws_invitation_id"])
def test_partner_ids_are_unique_values(name):
    assert by_name(name)["hasUniqueValue"] is True


@pytest.mark.parametrize(("name", "type_", "field_type"), [
    ("aws_engagement_kickoff_date", "date", "date"),
    ("aws_last_engagement_sync", "datetime", "date"),
    ("aws_team_last_sync", "datetime", "date"),
    ("aws_last_resource_upload", "datetime", "date"),
    ("aws_last_conflict_date", "datetime", "date"),
    ("aws_contact_company_last_sync", "datetime", "date"),
    ("aws_partner_resources", "string", "textarea"),
    ("aws_total_resources", "number", "number"),
    ("aws_version", "number", "number"),
])
def test_types_from_the_seed(name, type_, field_type):
    assert (by_name(name)["type"], by_name(name)["fieldType"]) == (type_, field_type)


def test_group():
    assert properties.PROPERTY_GROUP["name"] == "partner_sync"
    assert properties.PROPERTY_GROUP["label"] == "Partner Sync"


def test_managed_properties_are_ours_only():
    assert properties.MANAGED_DEAL_PROPERTIES == frozenset(properties.DEAL_PROPERTY_NAMES)
    assert not properties.MANAGED_DEAL_PROPERTIES & {"dealname", "amount", "closedate", "dealstage"}


def test_mapping_writes_only_defined_or_standard_properties():
    from partner_sync.mapping import aws, microsoft

    written = set(microsoft.referral_to_deal_properties({"id": "r", "name": "n", "status": "New",
                                                         "substatus": "Pending",
                                                         "customerProfile": {"name": "c"},
                                                         "details": {"dealValue": 1, "currency": "USD",
                                                                     "notes": "x",
                                                                     "closingDateTime": "2026-01-01"}}))
    written |= set(aws.opportunity_to_deal_properties({
        "Id": "O1", "Project": {"Title": "t", "CustomerBusinessProblem": "p",
                                "ExpectedCustomerSpend": [{"Amount": "1", "CurrencyCode": "USD"}]},
        "LifeCycle": {"Stage": "Qualified", "ReviewStatus": "Approved", "TargetCloseDate": "2026-01-01"},
        "Customer": {"Account": {"CompanyName": "c"}}}))
    written |= set(aws.invitation_to_deal_properties({"Id": "engi-1", "EngagementId": "eng-1"}))
    assert written <= set(properties.DEAL_PROPERTY_NAMES) | properties.STANDARD_DEAL_PROPERTIES_WRITTEN
