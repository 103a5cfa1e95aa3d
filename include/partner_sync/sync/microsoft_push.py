"""HubSpot → Microsoft Partner Center: ``#Microsoft`` deals become or update referrals.

For each hundred deals: one :func:`~partner_sync.sync.deals.read_deals` (deal, company,
contacts), one store read of the links, and, for the deals without a link, one list call per
twenty deals that finds referrals already made for them (``externalReferenceId`` = deal id).

- **Linked, nothing changed in HubSpot since the last sync** (a redelivered webhook, the echo
  of the poll's own write): no call at all.
- **Linked** (or found): the referral is read and the pair reconciled
  (:func:`partner_sync.sync.microsoft_pair.sync_pair`): a JSON Patch of the HubSpot-won fields
  and of company/contacts that differ, ``If-Match`` with 412 → re-read and retry; a Closed
  referral is never changed and the deal gets a note saying why.
- **New**: the referral is created with an ``MS-RequestId`` reserved per deal in the store
  (a retry after a timeout replays the first create instead of making a second referral),
  then linked at once.

Ids, status, substatus and ``microsoft_sync_status`` go back to the deals in batches
(:class:`~partner_sync.sync.writeback.DealWriter`). A deal Microsoft refuses (validation,
closed, gone) is marked ``error`` with a note giving the reason and the run goes on; a
transient failure (throttling, 5xx, timeouts after the hook's retries) fails the task so Airflow
retries it, and the links make the retry skip what was already done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from partner_sync.config import conflict_strategies
from partner_sync.hooks.partner_center_errors import PartnerCenterError, ReferralNotFound
from partner_sync.mapping.deals import has_tag
from partner_sync.mapping.microsoft import MICROSOFT_TAG, deal_fields_from_referral, deal_to_referral
from partner_sync.store.links import LinkConflictError
from partner_sync.sync.deals import read_deals
from partner_sync.sync.microsoft_pair import (
    PROFILE_KEY,
    SYSTEM,
    audit_referral_write,
    failure_note,
    is_permanent,
    note_html,
    pointer_values,
    profile_digest,
    referral_status_properties,
    sync_pair,
    unchanged_in_hubspot,
)
from partner_sync.sync.writeback import DealWriter

if TYPE_CHECKING:
    from partner_sync.conflicts import StrategyConfig
    from partner_sync.store.models import Link
    from partner_sync.sync.deals import DealRecord
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)

CHUNK = 100
#: deal ids per ``externalReferenceId eq … or …`` lookup (keeps the URL short)
LOOKUP_BATCH = 20
CREATE_OPERATION = "create_referral"
OUTCOMES = ("created", "updated", "unchanged", "blocked_closed", "failed", "skipped")


def push_deals(run: SyncRun, deal_ids: Iterable[str]) -> dict[str, Any]:
    """Push the deals; returns counts and the ids of the deals that failed (at most 20)."""
    ids = list(dict.fromkeys(str(deal_id) for deal_id in deal_ids))
    failed: dict[str, str] = {}
    if ids:
        strategies = conflict_strategies()
        for start in range(0, len(ids), CHUNK):
            failed.update(_push_chunk(run, ids[start:start + CHUNK], strategies))
    summary: dict[str, Any] = {"deals": len(ids), **{o: run.counters.get(o, 0) for o in OUTCOMES}}
    summary["precondition_retries"] = run.counters.get("precondition_retries", 0)
    summary["failed_ids"] = sorted(failed)[:20]
    log.info("Microsoft push: %s", summary)
    return summary


def _push_chunk(run: SyncRun, deal_ids: list[str], strategies: StrategyConfig) -> dict[str, str]:
    records = read_deals(run.hubspot, deal_ids)
    tagged = [records[i] for i in deal_ids if i in records and has_tag(records[i].properties.get("dealname"), MICROSOFT_TAG)]
    run.count("skipped", len(deal_ids) - len(tagged))
    links = run.store.links_for_deals(SYSTEM, [record.id for record in tagged])
    writer = DealWriter(run, SYSTEM)
    try:
        unlinked = [record for record in tagged if record.id not in links]
        existing = find_existing_referrals(run, unlinked)
        for record in tagged:
            referral: dict[str, Any] | None = existing.get(record.id)
            try:
                link = links.get(record.id)
                if link is None and referral is not None:
                    link = run.store.upsert_link(SYSTEM, record.id, str(referral["id"]))
                    log.info("Deal %s adopted existing referral %s", record.id, referral["id"])
                if link is None:
                    _create(run, writer, record)
                    run.count("created")
                    continue
                if referral is None and unchanged_in_hubspot(record, link):
                    run.count("unchanged")
                    continue
                if referral is None:
                    referral = run.partner_center.get_referral(link.partner_id)
                run.count(sync_pair(run, writer, record, link, referral, strategies, include_profile=True))
            except (PartnerCenterError, LinkConflictError) as error:
                if isinstance(error, PartnerCenterError) and not is_permanent(error):
                    raise
                _fail(run, writer, record, error, links.get(record.id), referral)
    finally:
        writer.flush()
    return dict(writer.failed)


def _create(run: SyncRun, writer: DealWriter, record: DealRecord) -> None:
    """Create the deal's referral (idempotent per deal), link it, queue the write-back."""
    body = deal_to_referral(record.as_object(), record.company, record.contacts)
    request_id = run.store.reserve_client_token(SYSTEM, record.id, CREATE_OPERATION)
    referral = run.partner_center.create_referral(body, request_id=request_id)
    referral_id = str(referral["id"])
    run.store.complete_client_token(SYSTEM, record.id, CREATE_OPERATION, referral_id)
    snapshot = {**deal_fields_from_referral(referral), PROFILE_KEY: profile_digest(record)}
    run.store.upsert_link(SYSTEM, record.id, referral_id, snapshot=snapshot, partner_version=referral.get("eTag"))
    run.store.record_sync(SYSTEM, record.id, snapshot=None, partner_version=None, bump_version=True)
    audit_referral_write(run, "create_referral", referral_id, record.id,
                         {pointer: {"before": None, "after": value} for pointer, value in pointer_values(referral).items()})
    writer.update(record.id, referral_status_properties(referral), record.properties, action="link_referral")
    log.info("Deal %s: created referral %s (%s/%s)", record.id, referral_id, referral.get("status"), referral.get("substatus"))


def _fail(
    run: SyncRun, writer: DealWriter, record: DealRecord, error: Exception, link: Link | None,
    referral: dict[str, Any] | None,
) -> None:
    referral_id = (link.partner_id if link else None) or (str(referral["id"]) if referral else None)
    if isinstance(error, LinkConflictError):
        message = note_html(f"Microsoft Partner Center sync failed: {error}")
    elif isinstance(error, ReferralNotFound):
        message = note_html(f"Microsoft Partner Center sync failed: the linked referral {referral_id} "
                            "no longer exists in Partner Center.")
    else:
        action = "update" if referral_id else "create"
        message = failure_note(action, error, referral_id)
    log.warning("Deal %s not synced to Microsoft: %s", record.id, error)
    writer.fail(record.id, message, record.properties, partner_id=referral_id)
    run.count("failed")


def find_existing_referrals(run: SyncRun, records: list[DealRecord]) -> dict[str, dict[str, Any]]:
    """Referrals that already exist for unlinked deals, by deal id: the one the deal's
    ``microsoft_referral_id`` names, else the oldest whose ``externalReferenceId`` is the deal id
    (a create whose link was lost, or a referral made by another tool)."""
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        named = record.properties.get("microsoft_referral_id")
        if named:
            try:
                found[record.id] = run.partner_center.get_referral(str(named))
            except ReferralNotFound:
                log.warning("Deal %s names referral %s, which does not exist", record.id, named)
    lookup = [record.id for record in records if record.id not in found]
    for batch in _batches(lookup, LOOKUP_BATCH):
        query = " or ".join(f"externalReferenceId eq '{deal_id}'" for deal_id in batch)
        for referral in run.partner_center.iter_referrals(filter=query, top=100):
            deal_id = str(referral.get("externalReferenceId") or "")
            if deal_id not in batch:
                continue
            current = found.get(deal_id)
            if current is None or str(referral.get("createdDateTime")) < str(current.get("createdDateTime")):
                if current is not None:
                    log.warning("Deal %s has more than one referral (%s, %s); linking the oldest",
                                deal_id, current["id"], referral["id"])
                found[deal_id] = referral
    return found


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
