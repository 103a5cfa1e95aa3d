"""ACE business rules: what AWS rejects although botocore's model allows it.

Checked before any Partner Central call, next to the model validation of
:mod:`partner_sync.ace_model`. Each rule names the opportunity field (dotted ACE path), the
HubSpot field a salesperson must fix, and says what is wrong in their words. Sources:
WorkSpan's validation catalogue (anchors §6) and the API reference (api-facts §1.4).
:func:`problems_note` renders every problem, business and model alike, as one HubSpot note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from partner_sync.mapping.deals import parse_amount

#: CustomerBusinessProblem: WorkSpan's catalogue says ≥ 50 characters; the model says 20–2000.
#: AWS reviewers reject the short ones, so the stricter 50 is enforced.
BUSINESS_PROBLEM_MIN = 50
BUSINESS_PROBLEM_MAX = 2000


@dataclass(frozen=True)
class Problem:
    """One business-rule failure: the ACE field, the HubSpot field to fix, what is wrong."""

    field: str
    hubspot_field: str
    message: str


class FieldProblemLike(Protocol):
    """What :func:`problems_note` needs of an ``ace_model.FieldProblem``."""

    field: str
    code: str
    message: str


#: HubSpot fields (``object.property``) as a salesperson sees them in HubSpot
HUBSPOT_FIELD_LABELS: dict[str, str] = {
    "company.name": "Company → Company name",
    "company.industry": "Company → Industry",
    "company.country": "Company → Country/Region",
    "company.zip": "Company → Postal code",
    "company.state": "Company → State/Region",
    "company.city": "Company → City",
    "company.address": "Company → Street address",
    "company.website": "Company → Website URL",
    "contact": "Contacts associated with the deal (name, e-mail, phone, job title)",
    "deal.dealname": "Deal → Deal name",
    "deal.description": "Deal → Deal description",
    "deal.closedate": "Deal → Close date",
    "deal.dealstage": "Deal → Deal stage",
    "deal.amount": "Deal → Amount",
    "deal.deal_currency_code": "Deal → Currency",
    "deal.closed_lost_reason": "Deal → Closed lost reason",
    "deal.hs_object_id": "Deal → Record ID",
    "partner_central": "Partner Central (the opportunity itself; not a HubSpot field)",
}

#: ACE path prefix → HubSpot field (most specific first; list indexes are ignored)
ACE_FIELD_TO_HUBSPOT: tuple[tuple[str, str], ...] = (
    ("Customer.Account.CompanyName", "company.name"),
    ("Customer.Account.Industry", "company.industry"),
    ("Customer.Account.OtherIndustry", "company.industry"),
    ("Customer.Account.WebsiteUrl", "company.website"),
    ("Customer.Account.Address.CountryCode", "company.country"),
    ("Customer.Account.Address.PostalCode", "company.zip"),
    ("Customer.Account.Address.StateOrRegion", "company.state"),
    ("Customer.Account.Address.City", "company.city"),
    ("Customer.Account.Address.StreetAddress", "company.address"),
    ("Customer.Contacts", "contact"),
    ("Project.Title", "deal.dealname"),
    ("Project.CustomerBusinessProblem", "deal.description"),
    ("Project.ExpectedCustomerSpend.Amount", "deal.amount"),
    ("Project.ExpectedCustomerSpend.CurrencyCode", "deal.deal_currency_code"),
    ("Project.ExpectedCustomerSpend", "deal.amount"),
    ("LifeCycle.TargetCloseDate", "deal.closedate"),
    ("LifeCycle.Stage", "deal.dealstage"),
    ("LifeCycle.ClosedLostReason", "deal.closed_lost_reason"),
    ("PartnerOpportunityIdentifier", "deal.hs_object_id"),
)

#: plain words for ACE's ValidationException codes
CODE_WORDS: dict[str, str] = {
    "REQUIRED_FIELD_MISSING": "is required but empty",
    "INVALID_ENUM_VALUE": "is not one of the values AWS accepts",
    "INVALID_STRING_FORMAT": "is not in a format AWS accepts",
    "INVALID_VALUE": "has a value AWS does not accept",
    "VALUE_OUT_OF_RANGE": "is too long, too short or out of range",
    "TOO_MANY_VALUES": "has too many entries",
    "NOT_ENOUGH_VALUES": "has too few entries",
}


def hubspot_field_for(ace_field: str) -> str:
    """The HubSpot field behind a dotted ACE path (``Customer.Contacts[0].Phone`` → contact)."""
    path = re.sub(r"\[\d+\]", "", ace_field)
    for prefix, hubspot_field in ACE_FIELD_TO_HUBSPOT:
        if path == prefix or path.startswith(prefix + "."):
            return hubspot_field
    return "partner_central"


def _get(opportunity: dict[str, Any], path: str) -> Any:
    node: Any = opportunity
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _valid_date(value: Any) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def business_problems(opportunity: dict[str, Any], *, today: date | None = None) -> list[Problem]:
    """Every ACE business rule the opportunity body (create or update) breaks.

    ``today`` (optional) also rejects a target close date in the past for an open opportunity
    (ACE: "Ensure the Target Close Date isn't in the past").
    """
    problems: list[Problem] = []

    def require(path: str, hubspot_field: str, message: str) -> None:
        if _blank(_get(opportunity, path)):
            problems.append(Problem(path, hubspot_field, message))

    account = "Customer.Account"
    require(f"{account}.CompanyName", "company.name",
            "The customer's company name is missing. Associate the customer's company with the "
            "deal and make sure it has a name.")
    require(f"{account}.Industry", "company.industry",
            "The customer's industry is missing. Set the company's Industry.")
    if _get(opportunity, f"{account}.Industry") == "Other":
        require(f"{account}.OtherIndustry", "company.industry",
                "The industry is 'Other' but does not say which industry. Choose a more "
                "specific Industry for the company.")
    country = _get(opportunity, f"{account}.Address.CountryCode")
    require(f"{account}.Address.CountryCode", "company.country",
            "The customer's country is missing or not recognised. Set the company's "
            "Country/Region (for example 'United States' or 'DE').")
    require(f"{account}.Address.PostalCode", "company.zip",
            "The customer's postal code is missing. Set the company's Postal code.")
    if country == "US":
        require(f"{account}.Address.StateOrRegion", "company.state",
                "The customer is in the United States, so AWS needs the state. Set the "
                "company's State/Region.")
    if _get(opportunity, "NationalSecurity") != "Yes":
        require(f"{account}.WebsiteUrl", "company.website",
                "The customer's website is missing or not a valid web address. Set the "
                "company's Website URL (for example https://example.com).")
    aws_account_id = _get(opportunity, f"{account}.AwsAccountId")
    if not _blank(aws_account_id) and not re.fullmatch(r"\d{12}", str(aws_account_id)):
        problems.append(Problem(f"{account}.AwsAccountId", "partner_central",
                                "The customer's AWS account ID must be exactly 12 digits."))

    # Title is optional in the model; whether ACE's business rules require it is UNCONFIRMED,
    # so it is required here (an untitled opportunity is useless to an AWS seller anyway).
    require("Project.Title", "deal.dealname",
            "The deal has no name to use as the opportunity title. Give the deal a name "
            "(besides the #AWS tag).")
    problem_text = _get(opportunity, "Project.CustomerBusinessProblem")
    if _blank(problem_text) or len(problem_text.strip()) < BUSINESS_PROBLEM_MIN:
        have = 0 if _blank(problem_text) else len(problem_text.strip())
        problems.append(Problem(
            "Project.CustomerBusinessProblem", "deal.description",
            f"AWS needs the customer's business problem described in at least "
            f"{BUSINESS_PROBLEM_MIN} characters (it has {have}). Write it in the deal's "
            f"Deal description."))
    elif len(problem_text) > BUSINESS_PROBLEM_MAX:
        problems.append(Problem(
            "Project.CustomerBusinessProblem", "deal.description",
            f"The deal description is {len(problem_text)} characters long; AWS accepts at most "
            f"{BUSINESS_PROBLEM_MAX}. Shorten it."))

    spend = _get(opportunity, "Project.ExpectedCustomerSpend") or []
    amount = parse_amount(spend[0].get("Amount")) if spend and isinstance(spend[0], dict) else None
    if amount is None or amount <= Decimal(0):
        problems.append(Problem(
            "Project.ExpectedCustomerSpend.Amount", "deal.amount",
            "The expected monthly AWS spend is missing or zero. Set the deal's Amount to a "
            "value above zero."))

    stage = _get(opportunity, "LifeCycle.Stage")
    require("LifeCycle.Stage", "deal.dealstage",
            "The deal has no stage AWS understands. Move the deal to one of the pipeline's stages.")
    close_date_text = _get(opportunity, "LifeCycle.TargetCloseDate")
    close_date = _valid_date(close_date_text)
    if close_date is None:
        problems.append(Problem(
            "LifeCycle.TargetCloseDate", "deal.closedate",
            "The deal's close date is missing or not a valid date. Set the deal's Close date."))
    elif today is not None and stage not in ("Launched", "Closed Lost") and close_date < today:
        problems.append(Problem(
            "LifeCycle.TargetCloseDate", "deal.closedate",
            f"The deal's close date ({close_date_text}) is in the past; AWS needs a future date "
            f"for an open opportunity. Move the deal's Close date."))
    if not _blank(_get(opportunity, "LifeCycle.ClosedLostReason")) and stage != "Closed Lost":
        problems.append(Problem(
            "LifeCycle.ClosedLostReason", "deal.closed_lost_reason",
            "A closed-lost reason is only allowed when the deal is Closed lost. Clear the "
            "deal's Closed lost reason or move it to Closed lost."))
    return problems


def _model_line(problem: FieldProblemLike) -> str:
    hubspot_field = hubspot_field_for(problem.field)
    words = CODE_WORDS.get(problem.code, "was rejected")
    label = HUBSPOT_FIELD_LABELS.get(hubspot_field, hubspot_field)
    return f"- {label}: the value sent as {problem.field} {words} ({problem.message})."


def problems_note(
    problems: Iterable[Problem], model_problems: Iterable[FieldProblemLike] = ()
) -> str:
    """One HubSpot note (plain text, one line per problem) listing every problem to fix.

    A model problem on a field that already has a business problem is not repeated.
    """
    business = list(problems)
    covered = {problem.field for problem in business}
    lines = [
        "This deal was not sent to AWS Partner Central because AWS would reject it. "
        "Fix the fields below; the sync retries after the next change."
    ]
    for problem in business:
        label = HUBSPOT_FIELD_LABELS.get(problem.hubspot_field, problem.hubspot_field)
        lines.append(f"- {label}: {problem.message}")
    for model_problem in model_problems:
        if re.sub(r"\[\d+\]", "", model_problem.field) in covered:
            continue
        lines.append(_model_line(model_problem))
    return "\n".join(lines)
