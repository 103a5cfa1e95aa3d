"""Seed 003 feature 3: who works an opportunity in Partner Central follows HubSpot.

Two ways in, both in ``hubspot_deal_sync``'s ``assign_opportunities`` task:

- **Owner change.** For each AWS-linked deal whose ``hubspot_owner_id`` changed (webhook), the
  owner is read from HubSpot's owners API and becomes the opportunity's assignee
  (AssignOpportunity: first and last name, e-mail; HubSpot owners carry no job title, so
  :func:`partner_sync.mapping.aws.assignee_from_owner` uses ``DEFAULT_ASSIGNEE_TITLE``).
  An owner who is not a Partner Central user (ACE answers ValidationException "User not
  found…") gets a note on the deal that says so and what to do; the run does not fail.
- **Manual assignment** through the DAG's ``assign`` Params form: ``{"deal_id"`` or
  ``"opportunity_id", "email", "first_name", "last_name", "title"}``. The form is validated by
  the Airflow UI and again here (:class:`ConfError` names the field). A person asked for this
  one assignment, so ACE refusing it fails the task with ACE's message (and a note on the
  deal), instead of passing silently.

An opportunity already assigned to that person is not assigned again (GetOpportunity first:
reads are ten times cheaper than ACE's 1 write/s). After an assignment the opportunity is
read again, its ``OpportunityTeam`` goes to ``aws_opportunity_team`` (one member per line,
``First Last <email> (title)``), the assignee's e-mail to ``aws_assigned_partner_user`` and
the time to ``aws_team_last_sync``; the link's partner version moves to the new
``LastModifiedDate`` so the opportunity poll does not take our own write for AWS's; every
assignment is audited, successful or not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError

from partner_sync.hooks.partner_central import error_code, error_fields
from partner_sync.mapping.aws import assignee_from_owner
from partner_sync.sync.deals import read_deals
from partner_sync.sync.runtime import ConfError
from partner_sync.sync.writeback import DealWriter, now_iso

if TYPE_CHECKING:
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
DEAL_ID = re.compile(r"[0-9]{1,20}")
OPPORTUNITY_ID = re.compile(r"O[0-9]{1,19}")
NAME_LIMIT = 80

ASSIGNED = "assigned"
ALREADY_ASSIGNED = "already_assigned"
NOT_A_USER = "not_a_user"
FAILED = "failed"


def assign_opportunities(
    run: SyncRun, owner_changed_deal_ids: Iterable[str] | None, assign_params: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Owner changes → AssignOpportunity; then the form's manual assignment, if any."""
    writer = DealWriter(run, "aws")
    counts: dict[str, Any] = {ASSIGNED: 0, ALREADY_ASSIGNED: 0, NOT_A_USER: 0, FAILED: 0, "skipped": 0}
    manual = manual_assignment(assign_params)
    try:
        _assign_owners(run, writer, list(owner_changed_deal_ids or []), counts)
        if manual is not None:
            counts["manual"] = _assign_manually(run, writer, manual)
    finally:
        writer.flush()
    log.info("Assignments: %s", counts)
    return counts


# --------------------------------------------------------------------------- owner changes


def _assign_owners(run: SyncRun, writer: DealWriter, deal_ids: list[str], counts: dict[str, Any]) -> None:
    links = run.store.links_for_deals("aws", deal_ids) if deal_ids else {}
    if not links:
        return
    deals = read_deals(run.hubspot, sorted(links), with_associations=False)
    owners: dict[str, dict[str, Any] | None] = {}
    for deal_id, link in sorted(links.items()):
        deal = deals.get(deal_id)
        owner_id = (deal.properties.get("hubspot_owner_id") or "").strip() if deal else ""
        if not owner_id:
            counts["skipped"] += 1  # deal gone, or owner removed: nobody to assign
            continue
        if owner_id not in owners:
            owners[owner_id] = run.hubspot.get_owner(owner_id)
        owner = owners[owner_id]
        assignee = assignee_from_owner(owner) if owner else None
        if not assignee or not EMAIL.fullmatch(assignee["Email"]) or not assignee["FirstName"] or not assignee["LastName"]:
            counts["skipped"] += 1
            writer.note(deal_id, f"AWS Partner Central: opportunity {link.partner_id} was not reassigned: "
                                 f"HubSpot owner {owner_id} has no complete name and e-mail address.")
            continue
        outcome = assign(run, writer, deal_id, link.partner_id, assignee, deal.properties,
                         source=f"HubSpot deal owner {owner_id}")
        counts[outcome] += 1


# --------------------------------------------------------------------------- manual form


def manual_assignment(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The validated ``assign`` form, or ``None`` when it is empty. :class:`ConfError` names
    the field at fault."""
    if params in (None, {}):
        return None
    if not isinstance(params, Mapping):
        raise ConfError("assign must be an object with deal_id or opportunity_id, email, first_name, last_name, title")
    form = {key: params.get(key) for key in ("deal_id", "opportunity_id", "email", "first_name", "last_name", "title")}
    for key, value in form.items():
        if value is not None and not isinstance(value, str):
            raise ConfError(f"assign.{key} must be a string, got {type(value).__name__}")
    deal_id = (form["deal_id"] or "").strip()
    opportunity_id = (form["opportunity_id"] or "").strip()
    if not deal_id and not opportunity_id:
        raise ConfError("assign.deal_id or assign.opportunity_id is required")
    if deal_id and not DEAL_ID.fullmatch(deal_id):
        raise ConfError(f"assign.deal_id must be a HubSpot deal id (digits), got {deal_id!r}")
    if opportunity_id and not OPPORTUNITY_ID.fullmatch(opportunity_id):
        raise ConfError(f"assign.opportunity_id must be a Partner Central id (O followed by digits), got {opportunity_id!r}")
    email = (form["email"] or "").strip().lower()
    if not EMAIL.fullmatch(email) or len(email) > NAME_LIMIT:
        raise ConfError(f"assign.email must be an e-mail address of at most {NAME_LIMIT} characters, got {form['email']!r}")
    cleaned = {"deal_id": deal_id, "opportunity_id": opportunity_id, "email": email}
    for key in ("first_name", "last_name", "title"):
        value = (form[key] or "").strip()
        if not value or len(value) > NAME_LIMIT:
            raise ConfError(f"assign.{key} is required (1 to {NAME_LIMIT} characters)")
        cleaned[key] = value
    return cleaned


def _assign_manually(run: SyncRun, writer: DealWriter, form: dict[str, str]) -> str:
    link = None
    if form["deal_id"]:
        link = run.store.get_link("aws", deal_id=form["deal_id"])
        if link is None:
            raise ConfError(f"assign.deal_id {form['deal_id']} is not linked to an AWS opportunity")
        if form["opportunity_id"] and form["opportunity_id"] != link.partner_id:
            raise ConfError(f"assign.opportunity_id {form['opportunity_id']} is not the opportunity of deal "
                            f"{form['deal_id']} ({link.partner_id})")
    else:
        link = run.store.get_link("aws", partner_id=form["opportunity_id"])
    opportunity_id = link.partner_id if link else form["opportunity_id"]
    deal_id = link.deal_id if link else None
    current = {}
    if deal_id:
        deal = read_deals(run.hubspot, [deal_id], with_associations=False).get(deal_id)
        current = deal.properties if deal else {}
    assignee = {"FirstName": form["first_name"], "LastName": form["last_name"], "Email": form["email"],
                "BusinessTitle": form["title"]}
    try:
        outcome = assign(run, writer, deal_id, opportunity_id, assignee, current, source="manual assignment")
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise ConfError(f"assign.opportunity_id {opportunity_id} does not exist in Partner Central") from error
        raise
    if outcome in (NOT_A_USER, FAILED):
        raise AirflowFailException(
            f"assign.email: Partner Central refused to assign opportunity {opportunity_id} to {form['email']} "
            "(see the note on the deal and the audit)"
        )
    return outcome


# --------------------------------------------------------------------------- one assignment


def assign(run: SyncRun, writer: DealWriter, deal_id: str | None, opportunity_id: str,
           assignee: dict[str, str], current: dict[str, Any], source: str) -> str:
    """Assign one opportunity (unless already assigned to that person) and record it."""
    opportunity = run.partner_central.get_opportunity(Identifier=opportunity_id)
    team = opportunity.get("OpportunityTeam") or []
    outcome = ALREADY_ASSIGNED
    if not team or (team[0].get("Email") or "").lower() != assignee["Email"].lower():
        before = _member_text(team[0]) if team else None
        try:
            run.partner_central.assign_opportunity(Identifier=opportunity_id, Assignee=assignee)
        except ClientError as error:
            code = error_code(error)
            if code not in ("ValidationException", "AccessDeniedException", "ResourceNotFoundException"):
                raise  # throttling, server errors: the task retries
            message = error.response.get("Error", {}).get("Message", "")
            run.audit(entity_type="opportunity", entity_id=opportunity_id, deal_id=deal_id, system="aws",
                      action="assign_opportunity", success=False, error=f"{code}: {message}"[:2000],
                      changes={"Assignee": {"before": before, "after": _member_text(assignee)}})
            not_a_user = code == "ValidationException" and _is_unknown_user(error)
            if deal_id:
                writer.note(deal_id, _refusal_note(opportunity_id, assignee, source, error, not_a_user))
            return NOT_A_USER if not_a_user else FAILED
        run.audit(entity_type="opportunity", entity_id=opportunity_id, deal_id=deal_id, system="aws",
                  action="assign_opportunity",
                  changes={"Assignee": {"before": before, "after": _member_text(assignee)}})
        opportunity = run.partner_central.get_opportunity(Identifier=opportunity_id)
        team = opportunity.get("OpportunityTeam") or []
        outcome = ASSIGNED
        if deal_id:  # deal ids here always come from a link
            modified = opportunity.get("LastModifiedDate")
            run.store.record_sync("aws", deal_id, None,
                                  modified.isoformat() if hasattr(modified, "isoformat") else modified,
                                  bump_version=False)
    if deal_id:
        writer.update(deal_id, {
            "aws_assigned_partner_user": (team[0].get("Email") if team else assignee["Email"]),
            "aws_opportunity_team": team_text(team) or _member_text(assignee),
            "aws_team_last_sync": now_iso(),
        }, current, action="assignment_sync")
    log.info("opportunity %s → %s (%s): %s", opportunity_id, assignee["Email"], source, outcome)
    return outcome


def team_text(team: list[dict[str, Any]]) -> str:
    """``aws_opportunity_team``: one member per line, the assignee (first member) first."""
    return "\n".join(_member_text(member) for member in team)


def _member_text(member: Mapping[str, Any]) -> str:
    name = " ".join(part for part in (member.get("FirstName"), member.get("LastName")) if part)
    text = f"{name} <{member.get('Email')}>" if member.get("Email") else name
    return f"{text} ({member['BusinessTitle']})" if member.get("BusinessTitle") else text


def _is_unknown_user(error: ClientError) -> bool:
    texts = [error.response.get("Error", {}).get("Message", "")]
    texts += [problem.message for problem in error_fields(error)]
    fields = {problem.field for problem in error_fields(error)}
    return any("user not found" in text.lower() for text in texts) or "Assignee.Email" in fields


def _refusal_note(opportunity_id: str, assignee: dict[str, str], source: str, error: ClientError,
                  not_a_user: bool) -> str:
    person = f"{assignee['FirstName']} {assignee['LastName']} <{assignee['Email']}>"
    if not_a_user:
        return (f"AWS Partner Central: opportunity {opportunity_id} was not assigned to {person} ({source}): "
                f"{assignee['Email']} is not a user of this partner's Partner Central account. "
                "Invite them to Partner Central (or change the deal owner), then change the owner again "
                "or assign the opportunity with the hubspot_deal_sync form. The previous assignee is kept.")
    message = error.response.get("Error", {}).get("Message", "")
    return (f"AWS Partner Central refused to assign opportunity {opportunity_id} to {person} ({source}): "
            f"{error_code(error)}: {message}")
