"""ACE UpdateOpportunity as a full replace: what this package manages, and what it may change.

UpdateOpportunity clears every field the body omits, so an update starts from the current
opportunity (GetOpportunity output) restricted to UpdateOpportunityRequest's members (read
from botocore's model), and overlays only the managed fields that differ. The review state
decides what may change: nothing while Submitted/In review/Rejected (the sync defers and
replays), never ``Project.Title`` after Pending Submission, and only ACE's whitelist while
Action Required.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from partner_sync.ace_model import (
    ACTION_REQUIRED,
    READ_ONLY_MEMBERS,
    REVIEW_LOCKED_STATUSES,
    action_required_editable,
    update_members,
    update_request_from_opportunity,
)
from partner_sync.mapping.aws_account import account_from_company, contacts_from_hubspot
from partner_sync.mapping.deals import amount_string

DEFAULT_CLOSED_LOST_REASON = "Other"
SPEND_FREQUENCY = "Monthly"
SPEND_TARGET_COMPANY = "AWS"
#: once past this review status, Project.Title is immutable
EDITABLE_TITLE_STATUS = "Pending Submission"

#: the opportunity fields this package writes (dotted paths; ``ExpectedCustomerSpend.*`` is the
#: first spend entry). Everything else in an opportunity is preserved on update.
MANAGED_FIELDS: tuple[str, ...] = (
    "PartnerOpportunityIdentifier",
    "Customer.Account.CompanyName",
    "Customer.Account.Industry",
    "Customer.Account.OtherIndustry",
    "Customer.Account.WebsiteUrl",
    "Customer.Account.Address",
    "Customer.Contacts",
    "Project.Title",
    "Project.CustomerBusinessProblem",
    "Project.ExpectedCustomerSpend.Amount",
    "Project.ExpectedCustomerSpend.CurrencyCode",
    "LifeCycle.Stage",
    "LifeCycle.TargetCloseDate",
    "LifeCycle.ClosedLostReason",
)

#: the managed fields ACE lets a partner change while ReviewStatus is "Action Required"
#: (the whitelist itself lives in ace_model with the other documented service rules)
ACTION_REQUIRED_EDITABLE: frozenset[str] = frozenset(
    path for path in MANAGED_FIELDS
    if action_required_editable(path.replace("ExpectedCustomerSpend.", "ExpectedCustomerSpend[0]."))
)

#: account and contact fields (seed 003 feature 1: company/contact changes)
ACCOUNT_AND_CONTACT_FIELDS: tuple[str, ...] = tuple(
    path for path in MANAGED_FIELDS if path.startswith("Customer.")
)

#: GetOpportunity members AWS sets and partners never send back
READ_ONLY_FIELDS: frozenset[str] = frozenset(READ_ONLY_MEMBERS)


# --- dotted paths -----------------------------------------------------------------------------


def _container(opportunity: dict[str, Any], path: str, create: bool) -> tuple[dict[str, Any] | None, str]:
    parts = path.split(".")
    node: Any = opportunity
    for part in parts[:-1]:
        if part == "ExpectedCustomerSpend":
            spend = node.get(part) if isinstance(node, dict) else None
            if not spend:
                if not create:
                    return None, parts[-1]
                node[part] = spend = [{"Frequency": SPEND_FREQUENCY, "TargetCompany": SPEND_TARGET_COMPANY}]
            node = spend[0]
            continue
        if not isinstance(node, dict):
            return None, parts[-1]
        if part not in node or not isinstance(node[part], dict):
            if not create:
                return None, parts[-1]
            node[part] = {}
        node = node[part]
    return node, parts[-1]


def field_value(opportunity: dict[str, Any] | None, path: str) -> Any:
    """The value at a dotted path of an opportunity (``None`` if absent)."""
    node, key = _container(opportunity or {}, path, create=False)
    return node.get(key) if isinstance(node, dict) else None


def _set_field(opportunity: dict[str, Any], path: str, value: Any) -> None:
    node, key = _container(opportunity, path, create=value is not None)
    if node is None:
        return
    if value is None:
        node.pop(key, None)
    else:
        node[key] = copy.deepcopy(value)


def _comparable(path: str, value: Any) -> Any:
    if path.endswith(".Amount"):
        return amount_string(value)
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        items = [_comparable(path, item) for item in value]
        return sorted(json.dumps(item, sort_keys=True, default=str) for item in items) or None
    if isinstance(value, dict):
        cleaned = {key: _comparable(path, item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item is not None} or None
    return value


# --- review state -----------------------------------------------------------------------------


def review_status(opportunity: dict[str, Any] | None) -> str | None:
    """``LifeCycle.ReviewStatus`` of an opportunity."""
    return field_value(opportunity, "LifeCycle.ReviewStatus")


def is_review_locked(opportunity: dict[str, Any] | None) -> bool:
    """Whether ACE refuses edits now (Submitted, In review, Rejected): defer and replay later."""
    return review_status(opportunity) in REVIEW_LOCKED_STATUSES


def editable_fields(opportunity: dict[str, Any] | None) -> tuple[str, ...]:
    """The managed fields an update may change in the opportunity's current review state."""
    status = review_status(opportunity)
    if status == ACTION_REQUIRED:
        return tuple(path for path in MANAGED_FIELDS if path in ACTION_REQUIRED_EDITABLE)
    fields = MANAGED_FIELDS
    if status not in (None, EDITABLE_TITLE_STATUS):
        fields = tuple(path for path in fields if path != "Project.Title")
    return fields


def opportunity_changes(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Managed fields whose desired value differs: ``{path: {"before": …, "after": …}}``.

    Fields the review state freezes (Title after submission, everything outside the Action
    Required whitelist) are not changes. A field absent from ``desired`` is left alone, except
    ``OtherIndustry``/``ClosedLostReason``, which follow Industry and Stage. Empty = no call.
    """
    changes: dict[str, dict[str, Any]] = {}
    for path in editable_fields(current):
        after = _desired_value(current, desired, path)
        if after is _KEEP:
            continue
        before = field_value(current, path)
        if _comparable(path, before) != _comparable(path, after):
            changes[path] = {"before": before, "after": after}
    return changes


_KEEP = object()


def _desired_value(current: dict[str, Any], desired: dict[str, Any], path: str) -> Any:
    value = field_value(desired, path)
    if path == "Customer.Account.OtherIndustry":
        industry = field_value(desired, "Customer.Account.Industry") or field_value(
            current, "Customer.Account.Industry"
        )
        if industry != "Other":
            return None
        return _KEEP if value is None else value
    if path == "LifeCycle.ClosedLostReason":
        stage = field_value(desired, "LifeCycle.Stage") or field_value(current, "LifeCycle.Stage")
        if stage != "Closed Lost":
            return None
        return value or field_value(current, path) or DEFAULT_CLOSED_LOST_REASON
    return _KEEP if value is None else value


def update_request_members() -> tuple[str, ...]:
    """Top-level members of UpdateOpportunityRequest (from botocore's model)."""
    return tuple(sorted(update_members()))


def opportunity_update(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The UpdateOpportunity body: the current opportunity with the managed changes applied.

    ``current`` is GetOpportunity output; the body keeps every member UpdateOpportunityRequest
    accepts (read-only review fields dropped), sets ``Identifier`` and ``LastModifiedDate`` from
    it, and overlays :func:`opportunity_changes`. Defaults the partner never set (delivery
    models, primary needs, sales activities, opportunity type) are filled from ``desired``.
    """
    body = copy.deepcopy(update_request_from_opportunity(
        {**current, "Id": current.get("Id") or current.get("Identifier")}
    ))
    for path, change in opportunity_changes(current, desired).items():
        _set_field(body, path, change["after"])
    for path in ("OpportunityType", "PrimaryNeedsFromAws", "NationalSecurity",
                 "Project.DeliveryModels", "Project.SalesActivities"):
        if field_value(body, path) in (None, [], "") and field_value(desired, path):
            if review_status(current) in (None, EDITABLE_TITLE_STATUS, "Approved"):
                _set_field(body, path, field_value(desired, path))
    if field_value(body, "LifeCycle.Stage") != "Closed Lost":
        _set_field(body, "LifeCycle.ClosedLostReason", None)
    return {key: value for key, value in body.items() if value is not None}


def apply_account_and_contacts(
    current_opportunity: dict[str, Any],
    company: dict[str, Any] | None,
    contacts: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """Seed 003 feature 1: the UpdateOpportunity body carrying the company's account (name,
    industry, website, address) and the contacts, every other field preserved.

    ``contacts=None`` leaves the opportunity's contacts as they are; ``company=None`` its account.
    """
    desired: dict[str, Any] = {"Customer": {}}
    if company is not None:
        fallback = field_value(current_opportunity, "Customer.Account.CompanyName")
        desired["Customer"]["Account"] = account_from_company(company, fallback_name=fallback)
    if contacts is not None:
        desired["Customer"]["Contacts"] = contacts_from_hubspot(contacts) or None
    return opportunity_update(current_opportunity, desired)
