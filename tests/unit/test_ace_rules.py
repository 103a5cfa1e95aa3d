"""ACE business rules: each rule fires on its own, and one note lists every problem."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date

import pytest

from partner_sync.mapping import ace_rules

VALID = {
    "Origin": "Partner Referral",
    "NationalSecurity": "No",
    "Customer": {"Account": {
        "CompanyName": "Acme Corp",
        "Industry": "Software and Internet",
        "WebsiteUrl": "https://acme.example",
        "Address": {"City": "Seattle", "StateOrRegion": "WA", "PostalCode": "98101", "CountryCode": "US"},
    }},
    "Project": {
        "Title": "Data lake migration",
        "CustomerBusinessProblem": "Consolidate three regional warehouses into one governed data lake.",
        "ExpectedCustomerSpend": [{"Amount": "25000.00", "CurrencyCode": "USD", "Frequency": "Monthly",
                                   "TargetCompany": "AWS"}],
    },
    "LifeCycle": {"Stage": "Qualified", "TargetCloseDate": "2026-12-31"},
}


def changed(path: str, value) -> dict:
    """VALID with the member at a dotted path set (``None`` deletes it)."""
    opportunity = copy.deepcopy(VALID)
    *parents, key = path.split(".")
    node = opportunity
    for part in parents:
        node = node[part]
    if value is None:
        node.pop(key, None)
    else:
        node[key] = value
    return opportunity


def fields(problems) -> set[str]:
    return {problem.field for problem in problems}


def test_a_valid_opportunity_has_no_problems():
    assert ace_rules.business_problems(VALID) == []


@pytest.mark.parametrize(("path", "value", "field", "hubspot_field"), [
    ("Customer.Account.CompanyName", None, "Customer.Account.CompanyName", "company.name"),
    ("Customer.Account.CompanyName", "  ", "Customer.Account.CompanyName", "company.name"),
    ("Customer.Account.Industry", None, "Customer.Account.Industry", "company.industry"),
    ("Customer.Account.Industry", "Other", "Customer.Account.OtherIndustry", "company.industry"),
    ("Customer.Account.Address.CountryCode", None, "Customer.Account.Address.CountryCode", "company.country"),
    ("Customer.Account.Address.PostalCode", None, "Customer.Account.Address.PostalCode", "company.zip"),
    ("Customer.Account.Address.StateOrRegion", None, "Customer.Account.Address.StateOrRegion", "company.state"),
    ("Customer.Account.WebsiteUrl", None, "Customer.Account.WebsiteUrl", "company.website"),
    ("Customer.Account.AwsAccountId", "12345", "Customer.Account.AwsAccountId", "partner_central"),
    ("Project.Title", None, "Project.Title", "deal.dealname"),
    ("Project.CustomerBusinessProblem", "Too short to explain anything.", "Project.CustomerBusinessProblem",
     "deal.description"),
    ("Project.CustomerBusinessProblem", None, "Project.CustomerBusinessProblem", "deal.description"),
    ("Project.CustomerBusinessProblem", "x" * 2001, "Project.CustomerBusinessProblem", "deal.description"),
    ("Project.ExpectedCustomerSpend", None, "Project.ExpectedCustomerSpend.Amount", "deal.amount"),
    ("Project.ExpectedCustomerSpend", [{"Amount": "0", "CurrencyCode": "USD", "Frequency": "Monthly",
                                        "TargetCompany": "AWS"}], "Project.ExpectedCustomerSpend.Amount",
     "deal.amount"),
    ("LifeCycle.TargetCloseDate", None, "LifeCycle.TargetCloseDate", "deal.closedate"),
    ("LifeCycle.TargetCloseDate", "2026-02-30", "LifeCycle.TargetCloseDate", "deal.closedate"),
    ("LifeCycle.TargetCloseDate", "31/12/2026", "LifeCycle.TargetCloseDate", "deal.closedate"),
    ("LifeCycle.Stage", None, "LifeCycle.Stage", "deal.dealstage"),
    ("LifeCycle.ClosedLostReason", "Price", "LifeCycle.ClosedLostReason", "deal.closed_lost_reason"),
])
def test_each_rule_fires(path, value, field, hubspot_field):
    problems = ace_rules.business_problems(changed(path, value))
    assert fields(problems) == {field}
    assert problems[0].hubspot_field == hubspot_field
    assert problems[0].message


def test_state_only_required_in_the_us():
    opportunity = changed("Customer.Account.Address.StateOrRegion", None)
    opportunity["Customer"]["Account"]["Address"]["CountryCode"] = "DE"
    assert ace_rules.business_problems(opportunity) == []


def test_website_not_required_for_national_security():
    opportunity = changed("Customer.Account.WebsiteUrl", None)
    opportunity["NationalSecurity"] = "Yes"
    assert ace_rules.business_problems(opportunity) == []


def test_other_industry_named_is_fine():
    opportunity = changed("Customer.Account.Industry", "Other")
    opportunity["Customer"]["Account"]["OtherIndustry"] = "Space tourism"
    assert ace_rules.business_problems(opportunity) == []


def test_closed_lost_reason_allowed_when_closed_lost():
    opportunity = changed("LifeCycle.ClosedLostReason", "Price")
    opportunity["LifeCycle"]["Stage"] = "Closed Lost"
    assert ace_rules.business_problems(opportunity) == []


def test_business_problem_needs_fifty_characters():
    assert ace_rules.BUSINESS_PROBLEM_MIN == 50
    assert ace_rules.business_problems(changed("Project.CustomerBusinessProblem", "y" * 50)) == []
    assert fields(ace_rules.business_problems(changed("Project.CustomerBusinessProblem", "y" * 49))) == {
        "Project.CustomerBusinessProblem"}


def test_past_close_date_only_with_today():
    opportunity = changed("LifeCycle.TargetCloseDate", "2020-01-01")
    assert ace_rules.business_problems(opportunity) == []
    assert fields(ace_rules.business_problems(opportunity, today=date(2026, 1, 1))) == {"LifeCycle.TargetCloseDate"}
    opportunity["LifeCycle"]["Stage"] = "Launched"
    assert ace_rules.business_problems(opportunity, today=date(2026, 1, 1)) == []


def test_empty_opportunity_lists_every_required_field():
    problems = ace_rules.business_problems({})
    assert fields(problems) >= {
        "Customer.Account.CompanyName", "Customer.Account.Industry", "Customer.Account.Address.CountryCode",
        "Customer.Account.Address.PostalCode", "Customer.Account.WebsiteUrl", "Project.Title",
        "Project.CustomerBusinessProblem", "Project.ExpectedCustomerSpend.Amount",
        "LifeCycle.TargetCloseDate", "LifeCycle.Stage",
    }


@dataclass(frozen=True)
class ModelProblem:
    field: str
    code: str
    message: str


def test_note_lists_every_business_and_model_problem():
    opportunity = changed("Customer.Account.Industry", None)
    opportunity["Project"]["CustomerBusinessProblem"] = "short"
    problems = ace_rules.business_problems(opportunity)
    model_problems = [
        ModelProblem("Customer.Contacts[0].Phone", "INVALID_STRING_FORMAT", "must match \\+[1-9]\\d{1,14}"),
        ModelProblem("Project.CustomerBusinessProblem", "VALUE_OUT_OF_RANGE", "length 5 is below 20"),
    ]
    note = ace_rules.problems_note(problems, model_problems)
    assert "Company → Industry" in note
    assert "Deal → Deal description" in note
    assert "Contacts associated with the deal" in note and "Customer.Contacts[0].Phone" in note
    assert "is not in a format AWS accepts" in note
    # the model's complaint about the description is covered by the business rule already
    assert "length 5 is below 20" not in note
    assert note.count("\n- ") == len(problems) + 1


def test_note_with_model_problems_only():
    note = ace_rules.problems_note([], [ModelProblem("LifeCycle.Stage", "INVALID_ENUM_VALUE", "Bogus")])
    assert "Deal → Deal stage" in note and "not one of the values AWS accepts" in note


@pytest.mark.parametrize(("ace_field", "hubspot_field"), [
    ("Customer.Contacts[3].Email", "contact"),
    ("Customer.Account.Address.City", "company.city"),
    ("Project.ExpectedCustomerSpend[0].CurrencyCode", "deal.deal_currency_code"),
    ("Marketing.Source", "partner_central"),
])
def test_hubspot_field_for(ace_field, hubspot_field):
    assert ace_rules.hubspot_field_for(ace_field) == hubspot_field
