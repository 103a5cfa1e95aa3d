"""HubSpot deals ↔ AWS Partner Central (ACE) opportunities: the AWS field and stage tables.

Create: deal + company + contacts → a CreateOpportunity body (the hook adds ``Catalog`` and
``ClientToken``). Update: UpdateOpportunity is a full replace (an omitted field is cleared), so
:func:`opportunity_update` starts from the current opportunity as GetOpportunity returns it and
overlays only the fields this package manages. Back: opportunities and invitations → deal
properties. Customer account/contact normalisation lives in :mod:`.aws_account`, the full-replace update
rules in :mod:`.aws_update` (re-exported here).

Documented choices:

- ``HUBSPOT_STAGE_TO_ACE`` is one-to-one over HubSpot's seven default stages; ``closedwon`` is
  ``Launched`` (ACE has no "won": Launched is the won-and-live stage) and ``closedlost`` is
  ``Closed Lost``. An unknown stage is sent as ``Prospect`` with a warning.
- New opportunities are ``Origin="Partner Referral"``, ``OpportunityType="Net New Business"``,
  ``NationalSecurity="No"``, ``DeliveryModels=["SaaS or PaaS"]`` and
  ``PrimaryNeedsFromAws=["Co-Sell - Architectural Validation"]`` (HubSpot has no field for
  them; a partner changes them in Partner Central and updates keep their choice).
- ``SalesActivities`` default to the activities implied by the stage (``STAGE_SALES_ACTIVITIES``).
- The deal ``amount`` is sent as the expected *monthly* AWS spend (the only frequency ACE has).
- ``ClosedLostReason`` is the deal's ``closed_lost_reason`` when it is one of ACE's values,
  else ``Other``; it is removed whenever the stage is not ``Closed Lost``.
- The engagement status (``Active``/``Completed``/``Cancelled``, seed 003) does not exist in the
  API; :func:`engagement_status` derives it from the linked opportunity's stage.
"""

from __future__ import annotations

import logging
from typing import Any

from partner_sync.mapping.aws_account import (
    account_from_company,
    contacts_from_hubspot,
    enum_values,
    max_length,
)
from partner_sync.mapping.aws_update import (  # noqa: F401 - re-exported: the AWS mapping API
    ACCOUNT_AND_CONTACT_FIELDS,
    ACTION_REQUIRED,
    ACTION_REQUIRED_EDITABLE,
    DEFAULT_CLOSED_LOST_REASON,
    EDITABLE_TITLE_STATUS,
    MANAGED_FIELDS,
    READ_ONLY_FIELDS,
    REVIEW_LOCKED_STATUSES,
    SPEND_FREQUENCY,
    SPEND_TARGET_COMPANY,
    apply_account_and_contacts,
    editable_fields,
    field_value,
    is_review_locked,
    opportunity_changes,
    opportunity_update,
    review_status,
    update_request_members,
)
from partner_sync.mapping.deals import (
    AWS_TAG,
    amount_string,
    amount_two_decimals,
    clean_text,
    hubspot_date,
    id_of,
    iso_date,
    properties_of,
    strip_tags,
    truncate,
    with_tag,
)

log = logging.getLogger(__name__)

# --- stage tables -----------------------------------------------------------------------------

#: HubSpot dealstage → ACE LifeCycle.Stage
HUBSPOT_STAGE_TO_ACE: dict[str, str] = {
    "appointmentscheduled": "Prospect",
    "qualifiedtobuy": "Qualified",
    "presentationscheduled": "Technical Validation",
    "decisionmakerboughtin": "Business Validation",
    "contractsent": "Committed",
    "closedwon": "Launched",
    "closedlost": "Closed Lost",
}

#: ACE LifeCycle.Stage → HubSpot dealstage
ACE_STAGE_TO_HUBSPOT: dict[str, str] = {
    "Prospect": "appointmentscheduled",
    "Qualified": "qualifiedtobuy",
    "Technical Validation": "presentationscheduled",
    "Business Validation": "decisionmakerboughtin",
    "Committed": "contractsent",
    "Launched": "closedwon",
    "Closed Lost": "closedlost",
}

DEFAULT_ACE_STAGE = "Prospect"
DEFAULT_HUBSPOT_STAGE = "appointmentscheduled"

#: ACE stage → the sales activities it implies (cumulative)
STAGE_SALES_ACTIVITIES: dict[str, tuple[str, ...]] = {
    "Prospect": ("Initialized discussions with customer",),
    "Qualified": ("Initialized discussions with customer", "Customer has shown interest in solution"),
    "Technical Validation": (
        "Initialized discussions with customer", "Customer has shown interest in solution",
        "Conducted POC / Demo",
    ),
    "Business Validation": (
        "Initialized discussions with customer", "Customer has shown interest in solution",
        "Conducted POC / Demo", "In evaluation / planning stage",
    ),
    "Committed": (
        "Initialized discussions with customer", "Customer has shown interest in solution",
        "Conducted POC / Demo", "In evaluation / planning stage",
        "Agreed on solution to Business Problem",
    ),
    "Launched": (
        "Initialized discussions with customer", "Customer has shown interest in solution",
        "Conducted POC / Demo", "In evaluation / planning stage",
        "Agreed on solution to Business Problem", "SOW Signed",
    ),
    "Closed Lost": ("Initialized discussions with customer",),
}

DEFAULT_ORIGIN = "Partner Referral"
DEFAULT_OPPORTUNITY_TYPE = "Net New Business"
DEFAULT_NATIONAL_SECURITY = "No"
DEFAULT_DELIVERY_MODELS = ("SaaS or PaaS",)
DEFAULT_PRIMARY_NEEDS = ("Co-Sell - Architectural Validation",)
DEFAULT_CURRENCY = "USD"
#: BusinessTitle for AssignOpportunity when the HubSpot owner has no title (the API requires one)
DEFAULT_ASSIGNEE_TITLE = "Partner Sales"

#: HubSpot deal properties synced both ways (three-way conflict detection)
SYNCED_DEAL_FIELDS: tuple[str, ...] = ("dealname", "amount", "closedate", "dealstage", "description")


def ace_stage(dealstage: str | None) -> str:
    """ACE stage for a HubSpot stage; unknown → ``Prospect`` with a warning."""
    if dealstage in HUBSPOT_STAGE_TO_ACE:
        return HUBSPOT_STAGE_TO_ACE[dealstage]
    log.warning("Unknown HubSpot deal stage %r: sent to ACE as %s", dealstage, DEFAULT_ACE_STAGE)
    return DEFAULT_ACE_STAGE


def hubspot_stage(stage: str | None) -> str:
    """HubSpot stage for an ACE stage; unknown → ``appointmentscheduled`` with a warning."""
    if stage in ACE_STAGE_TO_HUBSPOT:
        return ACE_STAGE_TO_HUBSPOT[stage]
    log.warning("Unknown ACE stage %r: deal set to %s", stage, DEFAULT_HUBSPOT_STAGE)
    return DEFAULT_HUBSPOT_STAGE


def closed_lost_reason(value: str | None) -> str:
    """An ACE ``ClosedLostReason`` from HubSpot's free-text ``closed_lost_reason``."""
    allowed = enum_values("CreateOpportunity", "LifeCycle.ClosedLostReason")
    text = clean_text(value)
    return text if text in allowed else DEFAULT_CLOSED_LOST_REASON


# --- HubSpot → ACE ----------------------------------------------------------------------------


def deal_to_opportunity(
    deal: dict[str, Any], company: dict[str, Any] | None, contacts: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """A CreateOpportunity body (without ``Catalog``/``ClientToken``) for a tagged deal."""
    props = properties_of(deal)
    stage = ace_stage(props.get("dealstage"))
    customer: dict[str, Any] = {
        "Account": account_from_company(company, fallback_name=props.get("customer_name"))
    }
    customer_contacts = contacts_from_hubspot(contacts)
    if customer_contacts:
        customer["Contacts"] = customer_contacts
    project: dict[str, Any] = {
        "Title": truncate(strip_tags(props.get("dealname")), max_length("CreateOpportunity", "Project.Title") or 255),
        "CustomerBusinessProblem": truncate(clean_text(props.get("description")), 2000),
        "DeliveryModels": list(DEFAULT_DELIVERY_MODELS),
        "SalesActivities": list(STAGE_SALES_ACTIVITIES[stage]),
    }
    amount = amount_two_decimals(props.get("amount"))
    if amount is not None:
        project["ExpectedCustomerSpend"] = [{
            "Amount": amount,
            "CurrencyCode": clean_text(props.get("deal_currency_code")) or DEFAULT_CURRENCY,
            "Frequency": SPEND_FREQUENCY,
            "TargetCompany": SPEND_TARGET_COMPANY,
        }]
    life_cycle: dict[str, Any] = {"Stage": stage, "TargetCloseDate": iso_date(props.get("closedate"))}
    if stage == "Closed Lost":
        life_cycle["ClosedLostReason"] = closed_lost_reason(props.get("closed_lost_reason"))
    body: dict[str, Any] = {
        "Origin": DEFAULT_ORIGIN,
        "OpportunityType": DEFAULT_OPPORTUNITY_TYPE,
        "NationalSecurity": DEFAULT_NATIONAL_SECURITY,
        "PartnerOpportunityIdentifier": id_of(deal),
        "PrimaryNeedsFromAws": list(DEFAULT_PRIMARY_NEEDS),
        "Customer": customer,
        "Project": {key: value for key, value in project.items() if value},
        "LifeCycle": {key: value for key, value in life_cycle.items() if value},
    }
    return {key: value for key, value in body.items() if value}


# --- ACE → HubSpot ----------------------------------------------------------------------------


def _spend(opportunity: dict[str, Any] | None) -> dict[str, Any]:
    spend = field_value(opportunity, "Project.ExpectedCustomerSpend")
    if isinstance(spend, list) and spend and isinstance(spend[0], dict):
        return spend[0]
    return {}


def opportunity_to_deal_properties(opportunity: dict[str, Any]) -> dict[str, str]:
    """HubSpot deal properties for an opportunity (deals created from ACE, and status updates)."""
    project = opportunity.get("Project") or {}
    life_cycle = opportunity.get("LifeCycle") or {}
    account = (opportunity.get("Customer") or {}).get("Account") or {}
    spend = _spend(opportunity)
    properties = {
        "dealname": with_tag(project.get("Title") or account.get("CompanyName") or opportunity.get("Id"), AWS_TAG),
        "description": project.get("CustomerBusinessProblem"),
        "amount": amount_string(spend.get("Amount")),
        "deal_currency_code": spend.get("CurrencyCode"),
        "closedate": hubspot_date(life_cycle.get("TargetCloseDate")),
        "dealstage": hubspot_stage(life_cycle.get("Stage")) if life_cycle.get("Stage") else None,
        "customer_name": account.get("CompanyName"),
        "aws_opportunity_id": opportunity.get("Id"),
        "aws_review_status": life_cycle.get("ReviewStatus"),
        "aws_lifecycle_stage": life_cycle.get("Stage"),
        "aws_sync_status": "synced",
    }
    return {key: str(value) for key, value in properties.items() if value not in (None, "")}


def invitation_to_deal_properties(invitation: dict[str, Any]) -> dict[str, str]:
    """HubSpot deal properties for an engagement invitation (GetEngagementInvitation output)."""
    payload = invitation.get("Payload") or {}
    opportunity = payload.get("OpportunityInvitation") or {}
    lead = payload.get("LeadInvitation") or {}
    project = opportunity.get("Project") or {}
    customer = opportunity.get("Customer") or lead.get("Customer") or {}
    spend = (project.get("ExpectedCustomerSpend") or [{}])[0]
    title = project.get("Title") or invitation.get("EngagementTitle") or customer.get("CompanyName")
    properties = {
        "dealname": with_tag(title or invitation.get("Id"), AWS_TAG),
        "description": project.get("BusinessProblem") or invitation.get("InvitationMessage"),
        "amount": amount_string(spend.get("Amount")),
        "deal_currency_code": spend.get("CurrencyCode"),
        "closedate": hubspot_date(project.get("TargetCompletionDate")),
        "dealstage": DEFAULT_HUBSPOT_STAGE,
        "customer_name": customer.get("CompanyName"),
        "aws_invitation_id": invitation.get("Id"),
        "aws_engagement_id": invitation.get("EngagementId"),
        "aws_sync_status": "synced",
    }
    return {key: str(value) for key, value in properties.items() if value not in (None, "")}


def assignee_from_owner(owner: dict[str, Any]) -> dict[str, str]:
    """AssignOpportunity ``Assignee`` from a HubSpot owner (``firstName``, ``lastName``, ``email``).

    HubSpot owners carry no job title; ``jobTitle``/``title`` is used when present, else
    ``DEFAULT_ASSIGNEE_TITLE``. Names and title are cut to ACE's 80 characters.
    """
    def cut(value: Any) -> str:
        return (clean_text(value) or "")[:80]

    return {
        "FirstName": cut(owner.get("firstName") or owner.get("firstname")),
        "LastName": cut(owner.get("lastName") or owner.get("lastname")),
        "Email": cut(owner.get("email")).lower(),
        "BusinessTitle": cut(owner.get("jobTitle") or owner.get("title")) or DEFAULT_ASSIGNEE_TITLE,
    }


#: ACE stage → derived engagement status (seed 003's Active/Completed/Cancelled)
ENGAGEMENT_STATUS_BY_STAGE: dict[str, str] = {"Launched": "Completed", "Closed Lost": "Cancelled"}


def engagement_status(opportunity: dict[str, Any] | None) -> str:
    """``Active``, ``Completed`` (Launched) or ``Cancelled`` (Closed Lost) for an opportunity."""
    return ENGAGEMENT_STATUS_BY_STAGE.get(field_value(opportunity, "LifeCycle.Stage"), "Active")


# --- three-way comparison ---------------------------------------------------------------------


def deal_fields_from_opportunity(opportunity: dict[str, Any]) -> dict[str, str | None]:
    """Comparable values of :data:`SYNCED_DEAL_FIELDS` as the opportunity holds them."""
    project = opportunity.get("Project") or {}
    life_cycle = opportunity.get("LifeCycle") or {}
    stage = life_cycle.get("Stage")
    return {
        "dealname": clean_text(strip_tags(project.get("Title"))),
        "amount": amount_string(_spend(opportunity).get("Amount")),
        "closedate": iso_date(life_cycle.get("TargetCloseDate")),
        "dealstage": hubspot_stage(stage) if stage else None,
        "description": clean_text(project.get("CustomerBusinessProblem")),
    }


def opportunity_fields_from_deal(deal: dict[str, Any]) -> dict[str, str | None]:
    """Comparable values of :data:`SYNCED_DEAL_FIELDS` as the deal would be sent to ACE."""
    props = properties_of(deal)
    stage = props.get("dealstage")
    return {
        "dealname": clean_text(truncate(strip_tags(props.get("dealname")), 255)),
        "amount": amount_string(amount_two_decimals(props.get("amount"))),
        "closedate": iso_date(props.get("closedate")),
        "dealstage": hubspot_stage(ace_stage(stage)) if stage else None,
        "description": clean_text(truncate(clean_text(props.get("description")), 2000)),
    }
