"""AWS engagement invitations → accepted → HubSpot deals tagged ``#AWS``
(``partner_central_opportunity_poll``, first task).

Every run lists the PENDING opportunity invitations sent to us (``full_sync``: the ACCEPTED
ones too, for invitations accepted in the Partner Central UI that never became a deal) and,
per invitation:

1. GetEngagementInvitation (its payload names the customer and project);
2. StartEngagementByAcceptingInvitationTask with a ClientToken reserved in the store, polled
   (ListEngagementByAcceptingInvitationTasks) until it gives the new opportunity's id;
3. GetOpportunity, then one ``batch_upsert`` per 100 invitations keyed by the unique deal
   property ``aws_opportunity_id``, the link, a note with the invitation's message.

**Never two deals for one invitation.** The reservation is keyed by the *invitation id* (the
store's ``deal_id`` column holds it, operation ``accept_invitation``: no deal exists yet, and
invitation ids ``engi-…`` cannot collide with HubSpot's numeric deal ids). It is completed
only once the deal is linked, so every run first resumes the reservations a crashed or
unfinished run left: the accepting task is looked up (ListEngagementByAcceptingInvitationTasks,
a read) before it is ever started again, and the deal is an upsert by opportunity id, so a
run that repeats, or dies between any two steps, finds the same task, the same opportunity
and the same deal. An opportunity already linked is never given a second deal.

The new deal gets no company or contacts in HubSpot (``customer_name`` names the customer);
the HubSpot deal id reaches the opportunity as ``PartnerOpportunityIdentifier`` with the pair's
first update (a deal edit, or any later change the poll syncs), not with an extra write here.

Lead invitations (``LeadInvitation``) carry no opportunity; they are left for a person to
answer in Partner Central. A task that is still running after about a minute is resumed by
the next run; a FAILED one (expired, already answered) is audited and not retried.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from partner_sync.mapping.aws import deal_fields_from_opportunity, invitation_to_deal_properties, opportunity_to_deal_properties
from partner_sync.sync.aws_pair import SYSTEM, note_html, version_of, wait_for_task

if TYPE_CHECKING:
    from partner_sync.sync.runtime import SyncRun, SyncWindow

log = logging.getLogger(__name__)

BATCH = 100
ACCEPT_OPERATION = "accept_invitation"
PAYLOAD_TYPE = "OpportunityInvitation"


def accept_invitations(run: SyncRun, window: SyncWindow) -> dict[str, int]:
    """Accept pending invitations and give each a deal (see the module docstring)."""
    statuses = ["PENDING", "ACCEPTED"] if window.full_sync else ["PENDING"]
    candidates: dict[str, dict[str, Any]] = {
        token.deal_id: {"Id": token.deal_id, "Resumed": True}
        for token in run.store.pending_client_tokens(SYSTEM)
        if token.operation == ACCEPT_OPERATION
    }
    for summary in run.partner_central.iter_engagement_invitations(
        ParticipantType="RECEIVER", Status=statuses, PayloadType=[PAYLOAD_TYPE]
    ):
        candidates.setdefault(summary["Id"], summary)
    invitation_ids = list(candidates)
    for start in range(0, len(invitation_ids), BATCH):
        accepted: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for invitation_id in invitation_ids[start:start + BATCH]:
            found = accepted_opportunity(run, candidates[invitation_id])
            if found is not None:
                accepted.append(found)
        create_deals(run, accepted)
    log.info("invitations: %s", run.counters)
    return dict(run.counters)


def accepted_opportunity(run: SyncRun, summary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(invitation, opportunity) once the invitation is accepted and has no deal yet."""
    invitation_id = summary["Id"]
    reservation = run.store.get_client_token(SYSTEM, invitation_id, ACCEPT_OPERATION)
    if reservation is not None and reservation.completed:
        run.count("already_done")
        return None
    invitation = run.partner_central.get_engagement_invitation(Identifier=invitation_id)
    if invitation.get("PayloadType") != PAYLOAD_TYPE:
        run.count("not_an_opportunity")
        return None
    # a reservation (an earlier run got this far) or an answered invitation may have a task
    looked_up = reservation is not None or invitation.get("Status") != "PENDING"
    task = earlier_task(run, invitation_id) if looked_up else None
    if task is None and invitation.get("Status") == "PENDING":
        token = run.store.reserve_client_token(SYSTEM, invitation_id, ACCEPT_OPERATION)
        task = run.partner_central.start_engagement_by_accepting_invitation_task(
            ClientToken=token, Identifier=invitation_id,
        )
        run.audit(entity_type="opportunity", entity_id=invitation_id, system=SYSTEM,
                  action="accept_invitation", changes={"Status": {"before": "PENDING", "after": "ACCEPTED"}})
    if task is not None:
        task = wait_for_task(run.partner_central.list_engagement_by_accepting_invitation_tasks, task)
    opportunity_id = task.get("OpportunityId") if task else None
    if opportunity_id is None and invitation.get("Status") == "ACCEPTED" and (task is None or task.get("TaskStatus") == "COMPLETE"):
        opportunity_id = opportunity_from_engagement(run, invitation)  # accepted outside this package
    if opportunity_id is None:
        return _not_accepted(run, invitation, task)
    if run.store.get_link(SYSTEM, partner_id=opportunity_id) is not None:
        run.store.complete_client_token(SYSTEM, invitation_id, ACCEPT_OPERATION, opportunity_id)
        run.count("already_linked")
        return None
    return invitation, run.partner_central.get_opportunity(Identifier=opportunity_id)


def earlier_task(run: SyncRun, invitation_id: str) -> dict[str, Any] | None:
    """The accepting task an earlier run (or a person) started, newest first, if any."""
    summaries = run.partner_central.list_engagement_by_accepting_invitation_tasks(
        EngagementInvitationIdentifier=[invitation_id],
    ).get("TaskSummaries") or []
    for wanted in ("COMPLETE", "IN_PROGRESS"):
        for task in summaries:
            if task.get("TaskStatus") == wanted:
                return task
    return None


def opportunity_from_engagement(run: SyncRun, invitation: dict[str, Any]) -> str | None:
    """The opportunity the engagement holds for us (an invitation accepted in the UI)."""
    engagement_id = invitation.get("EngagementId")
    if not engagement_id:
        return None
    for association in run.partner_central.iter_engagement_resource_associations(EngagementIdentifier=engagement_id):
        if association.get("ResourceType") == "Opportunity" and association.get("ResourceId"):
            return association["ResourceId"]
    return None


def _not_accepted(run: SyncRun, invitation: dict[str, Any], task: dict[str, Any] | None) -> None:
    invitation_id = invitation["Id"]
    if task is not None and task.get("TaskStatus") == "IN_PROGRESS":
        log.info("invitation %s: acceptance still running; the next run resumes it", invitation_id)
        run.count("accept_in_progress")
        return None
    reason = f"{task.get('ReasonCode')}: {task.get('Message')}" if task else f"invitation is {invitation.get('Status')}"
    log.warning("invitation %s was not accepted (%s)", invitation_id, reason)
    if task is not None:
        run.audit(entity_type="opportunity", entity_id=invitation_id, system=SYSTEM, action="accept_invitation",
                  success=False, error=reason)
    if task is not None or invitation.get("Status") in ("REJECTED", "EXPIRED"):
        # settled for good: the reservation is closed so later runs stop looking at it
        run.store.complete_client_token(SYSTEM, invitation_id, ACCEPT_OPERATION, None)
    run.count("not_accepted")
    return None


def deal_properties(invitation: dict[str, Any], opportunity: dict[str, Any], pipeline: str) -> dict[str, str]:
    """The new deal: the opportunity's fields, the invitation's ids, the tag in the name."""
    properties = {**invitation_to_deal_properties(invitation), **opportunity_to_deal_properties(opportunity)}
    properties["pipeline"] = pipeline
    return properties


def create_deals(run: SyncRun, accepted: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """One upsert (by ``aws_opportunity_id``) for the batch, then links, notes, audit, and
    the reservations completed."""
    if not accepted:
        return
    pipeline = run.hubspot.default_pipeline
    inputs = [{"id": opportunity["Id"], "properties": deal_properties(invitation, opportunity, pipeline)}
              for invitation, opportunity in accepted]
    result = run.hubspot.batch_upsert("deals", inputs, id_property="aws_opportunity_id")
    deals_by_opportunity: dict[str, dict[str, Any]] = {}
    for deal in result.results:
        trace = deal.get("objectWriteTraceId")
        opportunity_id = (inputs[int(trace)]["id"] if trace is not None and str(trace).isdigit()
                          else (deal.get("properties") or {}).get("aws_opportunity_id"))
        if opportunity_id:
            deals_by_opportunity[str(opportunity_id)] = deal
    for error in result.errors:
        log.warning("deal for invitation not written: %s", error.get("message"))
        run.count("deal_failed")
    entries, notes = [], []
    for invitation, opportunity in accepted:
        deal = deals_by_opportunity.get(opportunity["Id"])
        if deal is None:
            continue  # reservation left open: the next run retries the upsert
        deal_id = str(deal["id"])
        entries.append((deal_id, opportunity["Id"], deal_fields_from_opportunity(opportunity), version_of(opportunity)))
        if deal.get("new", True):
            notes.append((deal_id, invitation_note(invitation, opportunity)))
    if not entries:
        return
    if notes:  # before the links: a retry finds the deal no longer new and adds no second note
        run.hubspot.create_notes(notes)
    run.store.upsert_links(SYSTEM, entries)
    by_deal = {entry[0]: entry for entry in entries}
    invitations = {opportunity["Id"]: invitation for invitation, opportunity in accepted}
    properties = {opportunity["Id"]: inputs[index]["properties"] for index, (_, opportunity) in enumerate(accepted)}
    for deal_id, (_, opportunity_id, _, _) in by_deal.items():
        new = deals_by_opportunity[opportunity_id].get("new", True)
        run.audit(entity_type="deal", entity_id=deal_id, deal_id=deal_id, system="hubspot",
                  action="create_deal_from_invitation" if new else "update_deal_from_invitation",
                  changes={name: {"before": None, "after": value} for name, value in properties[opportunity_id].items()})
        run.store.complete_client_token(SYSTEM, invitations[opportunity_id]["Id"], ACCEPT_OPERATION, opportunity_id)
        run.count("deal_created" if new else "deal_updated")


def invitation_note(invitation: dict[str, Any], opportunity: dict[str, Any]) -> str:
    """The note a deal created from an invitation starts with: who invited us, and why."""
    offer = (invitation.get("Payload") or {}).get(PAYLOAD_TYPE) or {}
    lines = [
        f"Created from AWS engagement invitation {invitation['Id']} "
        f"(from {invitation.get('SenderCompanyName') or 'AWS'}), accepted automatically; "
        f"AWS Partner Central opportunity {opportunity['Id']}."
    ]
    if invitation.get("InvitationMessage"):
        lines.append(f"Message: {invitation['InvitationMessage']}")
    if offer.get("ReceiverResponsibilities"):
        lines.append("Expected of us: " + ", ".join(offer["ReceiverResponsibilities"]))
    for contact in offer.get("SenderContacts") or []:
        name = " ".join(part for part in (contact.get("FirstName"), contact.get("LastName")) if part)
        lines.append(f"AWS contact: {name} <{contact.get('Email')}> {contact.get('BusinessTitle') or ''}".rstrip())
    return note_html("\n".join(lines))
