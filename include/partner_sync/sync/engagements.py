"""Seed 003 feature 2: the engagement lifecycle of every linked opportunity, on its deal.

Which engagement an opportunity belongs to: GetOpportunity does not say. The relationship
Partner Central keeps is the engagement's *resource association* (the opportunity is a
resource of type ``Opportunity`` of its engagement: StartEngagementFromOpportunityTask and
StartEngagementByAcceptingInvitationTask both create one), so one paged
ListEngagementResourceAssociations (``ResourceType=Opportunity``, up to 1,000 per page) maps
every opportunity of the catalog to its engagements. When an opportunity has several, the
one the deal already names (``aws_engagement_id``) is kept, else the most recently created;
an opportunity without an association falls back on the deal's ``aws_engagement_id`` (set
from the invitation a deal came from).

Per run, for every AWS link in the store:

- ListEngagements filtered by those engagement ids (summaries: title, ``CreatedAt``) and
  ListEngagementMembers for each (all pages, ≤10 per page);
- ListOpportunities filtered by opportunity ids (20 per call) for the lifecycle stage;
- deal properties: ``aws_engagement_id``; ``aws_engagement_status`` (Active, Completed,
  Cancelled: derived from the opportunity's stage by
  :func:`partner_sync.mapping.aws.engagement_status`, since ACE has no engagement status);
  ``aws_engagement_team`` (member company names, one per line, sorted, so a reordering by the
  API is not a change); ``aws_engagement_kickoff_date`` (the engagement's ``CreatedAt`` day:
  the engagement starts when it is created, and ACE has no other kickoff field);
  ``aws_last_engagement_sync`` (written with any real change);
- a note on the deal when ``aws_engagement_status`` changes from one value to another (the
  first status recorded is not a change, and an unchanged status writes no note, however
  often the sync runs).

Everything is written back in batches through :class:`~partner_sync.sync.writeback.DealWriter`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from partner_sync.hooks.partner_central import error_code
from partner_sync.mapping.aws import engagement_status
from partner_sync.mapping.deals import iso_date, parse_datetime
from partner_sync.sync.deals import read_deals
from partner_sync.sync.writeback import DealWriter, now_iso

if TYPE_CHECKING:
    from partner_sync.store.models import Link
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)

#: links handled per batch (one HubSpot batch read and one batch write each)
CHUNK = 100
#: ListOpportunities takes at most 20 identifiers
OPPORTUNITY_FILTER_MAX = 20
#: ListEngagements takes at most 10 identifiers (botocore model)
ENGAGEMENT_FILTER_MAX = 10
ENGAGEMENT_ID = re.compile(r"eng-[0-9a-z]{14}")
RESOURCE_TYPE_OPPORTUNITY = "Opportunity"


@dataclass
class EngagementView:
    """What the deal shows of one engagement."""

    id: str
    title: str | None = None
    created_at: Any = None
    members: list[dict[str, Any]] = field(default_factory=list)

    @property
    def team(self) -> str:
        names = {(m.get("CompanyName") or m.get("AccountId") or "").strip() for m in self.members}
        return "\n".join(sorted((n for n in names if n), key=str.lower))

    @property
    def kickoff_date(self) -> str | None:
        return iso_date(self.created_at)


def opportunity_engagements(run: SyncRun) -> dict[str, list[tuple[str, Any]]]:
    """``{opportunity id: [(engagement id, created_by), ...]}`` from every Opportunity
    resource association of the catalog (all pages)."""
    engagements: dict[str, list[tuple[str, Any]]] = {}
    for association in run.partner_central.iter_engagement_resource_associations(
        ResourceType=RESOURCE_TYPE_OPPORTUNITY, MaxResults=1000,
    ):
        entry = (association["EngagementId"], association.get("CreatedBy"))
        listed = engagements.setdefault(association["ResourceId"], [])
        if entry not in listed:
            listed.append(entry)
    return engagements


def choose_engagement(candidates: Iterable[str], current: str | None,
                      created: dict[str, Any]) -> str | None:
    """The deal's current engagement when it is among ``candidates``, else the newest one."""
    ids = list(dict.fromkeys(candidates))
    if not ids:
        return current or None
    if current in ids:
        return current
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    return max(ids, key=lambda e: (parse_datetime(created.get(e)) or oldest, e))


def engagement_summaries(run: SyncRun, engagement_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """ListEngagements summaries of the given engagements, by id."""
    ids = sorted({e for e in engagement_ids if e and ENGAGEMENT_ID.fullmatch(e)})
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), ENGAGEMENT_FILTER_MAX):
        chunk = ids[start:start + ENGAGEMENT_FILTER_MAX]
        for summary in run.partner_central.iter_engagements(EngagementIdentifier=chunk, MaxResults=100):
            found[summary["Id"]] = summary
    return found


def opportunity_summaries(run: SyncRun, opportunity_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """ListOpportunities summaries (lifecycle stage and review status) by id, 20 ids per call."""
    ids = sorted(set(opportunity_ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), OPPORTUNITY_FILTER_MAX):
        chunk = ids[start:start + OPPORTUNITY_FILTER_MAX]
        for summary in run.partner_central.iter_opportunities(Identifier=chunk, MaxResults=100):
            found[summary["Id"]] = summary
    return found


def engagement_members(run: SyncRun, engagement_id: str) -> list[dict[str, Any]]:
    """Every member of an engagement (ListEngagementMembers, all pages)."""
    return list(run.partner_central.iter_engagement_members(engagement_id, MaxResults=10))


def sync_engagements(run: SyncRun) -> dict[str, int]:
    """Engagement id, status, team, kickoff date of every linked opportunity → its deal."""
    counts = {"linked": 0, "with_engagement": 0, "updated": 0, "status_changes": 0, "missing": 0}
    associations: dict[str, list[tuple[str, Any]]] | None = None
    writer = DealWriter(run, "aws")
    for links in link_batches(run.store.all_links("aws"), CHUNK):
        counts["linked"] += len(links)
        if associations is None:
            associations = opportunity_engagements(run)
        _sync_chunk(run, writer, links, associations, counts)
    writer.flush()
    log.info("Engagement sync: %s (%d deal(s) written)", counts, writer.written)
    return counts


def _sync_chunk(run: SyncRun, writer: DealWriter, links: list[Link],
                associations: dict[str, list[tuple[str, Any]]], counts: dict[str, int]) -> None:
    deals = read_deals(run.hubspot, [link.deal_id for link in links], with_associations=False)
    candidates = {
        link.partner_id: [e for e, _ in associations.get(link.partner_id, [])] for link in links
    }
    summaries = engagement_summaries(run, {e for ids in candidates.values() for e in ids}
                                     | {d.properties.get("aws_engagement_id") for d in deals.values()
                                        if d.properties.get("aws_engagement_id")})
    created = {e: s.get("CreatedAt") for e, s in summaries.items()}
    opportunities = opportunity_summaries(run, [link.partner_id for link in links])
    for link in links:
        deal = deals.get(link.deal_id)
        if deal is None:
            counts["missing"] += 1
            continue
        current_id = deal.properties.get("aws_engagement_id") or None
        engagement_id = choose_engagement(candidates[link.partner_id], current_id, created)
        if engagement_id is None or engagement_id not in summaries:
            continue  # not engaged yet (or the engagement is gone): nothing to show
        opportunity = opportunities.get(link.partner_id)
        if opportunity is None:
            log.info("opportunity %s of deal %s was not found; skipped", link.partner_id, link.deal_id)
            continue
        counts["with_engagement"] += 1
        try:
            members = engagement_members(run, engagement_id)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            continue
        summary = summaries[engagement_id]
        view = EngagementView(engagement_id, summary.get("Title"), summary.get("CreatedAt"), members)
        status = engagement_status(opportunity)
        previous = deal.properties.get("aws_engagement_status") or None
        changed = writer.update(link.deal_id, {
            "aws_engagement_id": view.id,
            "aws_engagement_status": status,
            "aws_engagement_team": view.team,
            "aws_engagement_kickoff_date": view.kickoff_date,
            "aws_last_engagement_sync": now_iso(),
        }, deal.properties, action="engagement_sync")
        counts["updated"] += int(changed)
        if previous is not None and previous != status:
            counts["status_changes"] += 1
            writer.note(link.deal_id, status_change_note(view, link.partner_id, previous, status, opportunity))


def status_change_note(view: EngagementView, opportunity_id: str, previous: str, status: str,
                       opportunity: dict[str, Any]) -> str:
    """The deal note for an engagement status change."""
    stage = (opportunity.get("LifeCycle") or {}).get("Stage") or "unknown"
    title = f' "{view.title}"' if view.title else ""
    return (f"AWS engagement {view.id}{title}: status changed from {previous} to {status} "
            f"(opportunity {opportunity_id} is at stage {stage}).")


def link_batches(links: Iterable[Link], size: int) -> Iterator[list[Link]]:
    """The links in lists of ``size`` (the store pages through them; so do we)."""
    batch: list[Link] = []
    for link in links:
        batch.append(link)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
