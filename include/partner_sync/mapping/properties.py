"""The HubSpot custom deal properties partner-sync creates and writes.

Definitions in the shape of HubSpot's properties API (``POST /crm/v3/properties/deals``):
seed 000's five Microsoft properties, the AWS base properties, and every property seed 003
names. ``hubspot_properties_setup`` creates the group and these, idempotently.
"""

from __future__ import annotations

from typing import Any

PROPERTY_GROUP: dict[str, Any] = {"name": "partner_sync", "label": "Partner Sync", "displayOrder": -1}
GROUP_NAME = PROPERTY_GROUP["name"]

SYNC_STATUS_VALUES = ("not_synced", "synced", "error")
ENGAGEMENT_STATUS_VALUES = ("Active", "Completed", "Cancelled")
CONFLICT_STATUS_VALUES = ("None", "Pending", "Resolved")

#: HubSpot's valid (type, fieldType) pairs for the properties defined here
VALID_FIELD_TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"text", "textarea", "html", "phonenumber", "file"}),
    "number": frozenset({"number", "calculation_equation"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "enumeration": frozenset({"select", "radio", "checkbox", "booleancheckbox"}),
    "bool": frozenset({"booleancheckbox"}),
}


def _options(values: tuple[str, ...], labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    labels = labels or {}
    return [
        {"label": labels.get(value, value), "value": value, "displayOrder": order, "hidden": False}
        for order, value in enumerate(values)
    ]


def _property(
    name: str,
    label: str,
    description: str,
    *,
    type: str = "string",  # noqa: A002 - HubSpot's own key
    field_type: str = "text",
    options: list[dict[str, Any]] | None = None,
    unique: bool = False,
) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": type,
        "fieldType": field_type,
        "groupName": GROUP_NAME,
        "description": description,
    }
    if options is not None:
        definition["options"] = options
    if unique:
        definition["hasUniqueValue"] = True
    return definition


_SYNC_STATUS_LABELS = {"not_synced": "Not synced", "synced": "Synced", "error": "Error"}


def _text(name: str, label: str, description: str, *, unique: bool = False) -> dict[str, Any]:
    return _property(name, label, description, unique=unique)


def _datetime(name: str, label: str, description: str) -> dict[str, Any]:
    return _property(name, label, description, type="datetime", field_type="date")


DEAL_PROPERTIES: tuple[dict[str, Any], ...] = (
    # --- Microsoft Partner Center (seed 000) ---
    _text("microsoft_referral_id", "Microsoft referral ID",
          "Id of the linked Microsoft Partner Center referral.", unique=True),
    _property("microsoft_sync_status", "Microsoft sync status",
              "Whether the deal is in sync with its Microsoft referral.",
              type="enumeration", field_type="select",
              options=_options(SYNC_STATUS_VALUES, _SYNC_STATUS_LABELS)),
    _text("microsoft_status", "Microsoft status", "Referral status: New, Active or Closed."),
    _text("microsoft_substatus", "Microsoft substatus",
          "Referral substatus (Pending, Received, Accepted, Engaged, Won, Lost, ...)."),
    _text("customer_name", "Customer name",
          "Customer organisation name from the partner system (when no company is linked)."),
    # --- AWS Partner Central (base) ---
    _text("aws_opportunity_id", "AWS opportunity ID",
          "Id of the linked AWS Partner Central opportunity (O...).", unique=True),
    _property("aws_sync_status", "AWS sync status",
              "Whether the deal is in sync with its AWS opportunity.",
              type="enumeration", field_type="select",
              options=_options(SYNC_STATUS_VALUES, _SYNC_STATUS_LABELS)),
    _text("aws_review_status", "AWS review status",
          "ACE review status (Pending Submission, Submitted, In review, Approved, ...)."),
    _text("aws_lifecycle_stage", "AWS lifecycle stage",
          "ACE lifecycle stage (Prospect, Qualified, ..., Launched, Closed Lost)."),
    _text("aws_invitation_id", "AWS invitation ID",
          "Id of the AWS engagement invitation this deal was created from.", unique=True),
    # --- seed 003, feature 2: engagement lifecycle ---
    _text("aws_engagement_id", "AWS engagement ID", "Id of the linked ACE engagement."),
    _property("aws_engagement_status", "AWS engagement status",
              "Engagement status derived from the opportunity's stage.",
              type="enumeration", field_type="select", options=_options(ENGAGEMENT_STATUS_VALUES)),
    _property("aws_engagement_team", "AWS engagement team",
              "Engagement members (company names), one per line.", field_type="textarea"),
    _property("aws_engagement_kickoff_date", "AWS engagement kickoff date",
              "When the engagement started.", type="date", field_type="date"),
    _datetime("aws_last_engagement_sync", "AWS last engagement sync",
              "When engagement data was last read from AWS."),
    # --- seed 003, feature 3: assignment and team ---
    _text("aws_assigned_partner_user", "AWS assigned partner user",
          "E-mail of the partner user the opportunity is assigned to in ACE."),
    _property("aws_opportunity_team", "AWS opportunity team",
              "The opportunity's partner team in ACE, one member per line.", field_type="textarea"),
    _datetime("aws_team_last_sync", "AWS team last sync", "When the assignment was last synced."),
    # --- seed 003, feature 4: resources ---
    _property("aws_partner_resources", "AWS partner resources",
              "Resources associated with the engagement (JSON array).", field_type="textarea"),
    _property("aws_total_resources", "AWS total resources",
              "Number of resources associated with the engagement.",
              type="number", field_type="number"),
    _datetime("aws_last_resource_upload", "AWS last resource upload",
              "When a resource snapshot was last created for this opportunity."),
    # --- seed 003, feature 5: conflicts and audit ---
    _property("aws_conflict_status", "AWS conflict status",
              "None, Pending (waiting for a person to choose) or Resolved.",
              type="enumeration", field_type="select", options=_options(CONFLICT_STATUS_VALUES)),
    _datetime("aws_last_conflict_date", "AWS last conflict date", "When the last conflict was detected."),
    _property("aws_version", "AWS version",
              "Sync version of the deal, incremented on every synced change.",
              type="number", field_type="number"),
    _text("aws_last_sync_by", "AWS last sync by",
          "Whose change the last sync carried: hubspot, partner_central, or user:<name> for a conflict decision."),
    _datetime("aws_contact_company_last_sync", "AWS contact/company last sync",
              "When contact and company data were last pushed to the opportunity."),
)

DEAL_PROPERTY_NAMES: tuple[str, ...] = tuple(definition["name"] for definition in DEAL_PROPERTIES)

#: standard deal properties partner-sync writes when a partner-side change arrives
STANDARD_DEAL_PROPERTIES_WRITTEN: frozenset[str] = frozenset({
    "dealname", "description", "dealstage", "amount", "closedate", "deal_currency_code", "pipeline",
})

#: the custom deal properties only partner-sync writes: a ``deal.propertyChange`` event for one
#: of them is an echo of our own write and triggers nothing. The standard properties we also
#: write (``STANDARD_DEAL_PROPERTIES_WRITTEN``) are edited by people too, so they are not here.
MANAGED_DEAL_PROPERTIES: frozenset[str] = frozenset(DEAL_PROPERTY_NAMES)


def property_definition(name: str) -> dict[str, Any]:
    """The definition of one custom deal property (KeyError if it is not ours)."""
    for definition in DEAL_PROPERTIES:
        if definition["name"] == name:
            return definition
    raise KeyError(name)
