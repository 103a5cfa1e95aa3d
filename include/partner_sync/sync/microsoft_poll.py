"""Microsoft Partner Center → HubSpot: referrals changed in the run's window become or update deals.

The run lists the referrals updated in its data interval (``updatedDateTime`` in
``[start, end)``), whatever their status, or every referral with ``full_sync``, following every
``@odata.nextLink`` (no cap), and works through them a hundred at a time, holding no more than
one page in memory:

- **Unchanged** — the link's eTag is the referral's and its snapshot holds the referral's
  values: nothing to do, not even a HubSpot read. A re-run or a backfill of a window already
  synced makes no HubSpot call at all.
- **New** — one ``batch/upsert`` per hundred on ``microsoft_referral_id`` (a unique property,
  so a retried run updates the deal it made instead of making a second one) creates the deals,
  tagged ``#Microsoft``; then one bulk link write. A referral we created ourselves whose link
  was lost (``externalReferenceId`` names a ``#Microsoft`` deal) is linked back to that deal.
- **Changed** — one batch read of the deals (no associations), the three-way decision per
  pair, one batch update of the deals that change; a HubSpot-won field goes back to the
  referral (rare: the push normally sends it first).

First sync: about one HubSpot call per hundred referrals; unchanged re-run: none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from partner_sync.config import conflict_strategies
from partner_sync.conflicts import normalise
from partner_sync.hooks.partner_center import updated_window_filter
from partner_sync.hooks.partner_center_errors import PartnerCenterError
from partner_sync.mapping.deals import has_tag
from partner_sync.mapping.microsoft import (
    MICROSOFT_TAG,
    SYNCED_DEAL_FIELDS,
    deal_fields_from_referral,
    referral_to_deal_properties,
)
from partner_sync.store.links import LinkConflictError
from partner_sync.sync.deals import read_deals
from partner_sync.sync.microsoft_pair import (
    SYSTEM,
    failure_note,
    is_permanent,
    note_html,
    referral_status_properties,
    sync_pair,
)
from partner_sync.sync.writeback import DealWriter

if TYPE_CHECKING:
    from partner_sync.conflicts import StrategyConfig
    from partner_sync.store.models import Link
    from partner_sync.sync.runtime import SyncRun, SyncWindow

log = logging.getLogger(__name__)

CHUNK = 100
OUTCOMES = ("created", "relinked", "updated", "unchanged", "blocked_closed", "failed", "deal_missing", "malformed")
#: what the mapping raises on a referral of a shape the API should never return
MALFORMED = (AttributeError, KeyError, TypeError, ValueError)


def poll_referrals(run: SyncRun, window: SyncWindow) -> dict[str, Any]:
    """Sync every referral of the window; returns counts (and the window) for the run's XCom."""
    query = None if window.full_sync else updated_window_filter(window.start, window.end)
    strategies = conflict_strategies()
    seen: set[str] = set()
    for chunk in _chunks(run.partner_center.iter_referrals(filter=query, top=CHUNK), CHUNK, seen):
        sync_chunk(run, chunk, strategies)
    summary: dict[str, Any] = {
        "window": "full_sync" if window.full_sync else f"{window.start.isoformat()}/{window.end.isoformat()}",
        "referrals": len(seen),
        **{outcome: run.counters.get(outcome, 0) for outcome in OUTCOMES},
        "precondition_retries": run.counters.get("precondition_retries", 0),
    }
    log.info("Partner Center poll: %s", summary)
    return summary


def sync_chunk(run: SyncRun, referrals: list[dict[str, Any]], strategies: StrategyConfig) -> None:
    """Sync up to a hundred referrals (see the module docstring)."""
    links = run.store.links_for_partners(SYSTEM, [str(r["id"]) for r in referrals])
    writer = DealWriter(run, SYSTEM)
    try:
        referrals = readable_referrals(run, writer, referrals, links)
        unlinked = [r for r in referrals if str(r["id"]) not in links]
        if unlinked:
            links.update(_relink_own_referrals(run, unlinked))
            _create_deals(run, [r for r in unlinked if str(r["id"]) not in links])
        changed = [(r, links[str(r["id"])]) for r in referrals
                   if str(r["id"]) in links and not in_sync(r, links[str(r["id"])])]
        run.count("unchanged", sum(1 for r in referrals if str(r["id"]) in links) - len(changed))
        if changed:
            _reconcile(run, writer, changed, strategies)
    finally:
        writer.flush()


def readable_referrals(run: SyncRun, writer: DealWriter, referrals: list[dict[str, Any]],
                       links: dict[str, Link]) -> list[dict[str, Any]]:
    """The referrals the mapping can read. Any other one (a shape the API should never return)
    is recorded — in the audit, and on its deal (status ``error`` and a note) when it has one —
    and skipped, so one odd record never stops the poll of the others."""
    readable = []
    for referral in referrals:
        try:
            referral_to_deal_properties(referral)
            deal_fields_from_referral(referral)
            referral_status_properties(referral)
        except MALFORMED as error:
            referral_id = str(referral.get("id"))
            reason = (f"Microsoft Partner Center returned referral {referral_id} in a shape this package "
                      f"cannot read ({type(error).__name__}: {error}); it was not synced.")
            log.warning("%s", reason)
            run.count("malformed")
            link = links.get(referral_id)
            if link is not None:
                writer.fail(link.deal_id, note_html(reason), None, partner_id=referral_id)
            else:
                run.audit(entity_type="referral", entity_id=referral_id, system=SYSTEM, action="sync_failed",
                          success=False, error=reason[:2000])
            continue
        readable.append(referral)
    return readable


def in_sync(referral: dict[str, Any], link: Link) -> bool:
    """The referral is as the link last recorded it (same eTag, same synced values)."""
    if not link.partner_version or link.partner_version != referral.get("eTag"):
        return False
    values = deal_fields_from_referral(referral)
    return all(normalise(name, link.snapshot.get(name)) == normalise(name, values.get(name)) for name in SYNCED_DEAL_FIELDS)


def _reconcile(run: SyncRun, writer: DealWriter, pairs: list[tuple[dict[str, Any], Link]],
               strategies: StrategyConfig) -> None:
    records = read_deals(run.hubspot, [link.deal_id for _, link in pairs], with_associations=False)
    for referral, link in pairs:
        record = records.get(link.deal_id)
        if record is None:
            log.warning("Referral %s is linked to deal %s, which no longer exists in HubSpot", referral["id"], link.deal_id)
            run.count("deal_missing")
            continue
        try:
            run.count(sync_pair(run, writer, record, link, referral, strategies, include_profile=False))
        except PartnerCenterError as error:
            if not is_permanent(error):
                raise
            log.warning("Deal %s: referral %s not updated: %s", record.id, referral["id"], error)
            writer.fail(record.id, failure_note("update", error, str(referral["id"])), record.properties,
                        partner_id=str(referral["id"]))
            run.count("failed")


def _relink_own_referrals(run: SyncRun, referrals: list[dict[str, Any]]) -> dict[str, Link]:
    """Links for referrals we created (``externalReferenceId`` = a ``#Microsoft`` deal of ours
    that is not linked to another referral), by referral id. Snapshots stay empty, so the next
    step reconciles them with the referral as the base."""
    candidates = {str(r["externalReferenceId"]): str(r["id"]) for r in referrals
                  if str(r.get("externalReferenceId") or "").isdigit()}
    if not candidates:
        return {}
    deals = {str(d["id"]): d.get("properties") or {} for d in
             run.hubspot.batch_read("deals", list(candidates), ["dealname", "microsoft_referral_id"])}
    taken = run.store.links_for_deals(SYSTEM, list(deals))
    relinked: dict[str, Link] = {}
    for deal_id, properties in deals.items():
        referral_id = candidates[deal_id]
        if deal_id in taken or not has_tag(properties.get("dealname"), MICROSOFT_TAG):
            continue
        if properties.get("microsoft_referral_id") not in (None, "", referral_id):
            continue
        try:
            relinked[referral_id] = run.store.upsert_link(SYSTEM, deal_id, referral_id)
        except LinkConflictError as error:
            log.warning("Referral %s not linked back to deal %s: %s", referral_id, deal_id, error)
            continue
        run.count("relinked")
        log.info("Referral %s linked back to deal %s (externalReferenceId)", referral_id, deal_id)
    return relinked


def _create_deals(run: SyncRun, referrals: list[dict[str, Any]]) -> None:
    """Deals for new referrals, idempotently (upsert on ``microsoft_referral_id``), then links."""
    if not referrals:
        return
    pipeline = run.hubspot.default_pipeline
    inputs = [
        {"id": str(r["id"]), "properties": {**referral_to_deal_properties(r), "pipeline": pipeline}}
        for r in referrals
    ]
    result = run.hubspot.batch_upsert("deals", inputs, id_property="microsoft_referral_id")
    by_id = {str(r["id"]): r for r in referrals}
    written = {record["id"]: record["properties"] for record in inputs}
    entries: list[tuple[str, str, dict[str, Any], str | None]] = []
    audits: list[dict[str, Any]] = []  # appended in one store transaction for the batch
    for deal in result.results:
        referral_id = _referral_id_of(deal, inputs)
        if referral_id not in by_id:
            log.warning("Upserted deal %s matches no referral of the batch", deal.get("id"))
            continue
        referral = by_id[referral_id]
        entries.append((str(deal["id"]), referral_id, deal_fields_from_referral(referral), referral.get("eTag")))
        created = bool(deal.get("new", True))
        run.count("created" if created else "updated")
        audits.append(dict(
            entity_type="deal", entity_id=str(deal["id"]), deal_id=str(deal["id"]), system="hubspot",
            action="create_deal_from_referral" if created else "update_deal_from_referral",
            changes={name: {"before": None, "after": value}
                     for name, value in written[referral_id].items()},
        ))
    for error in result.errors:
        referral_id = str(error.get("id") or "")
        run.count("failed")
        log.warning("No deal for referral %s: %s", referral_id, error.get("message"))
        audits.append(dict(entity_type="referral", entity_id=referral_id or "unknown", system="hubspot",
                           action="create_deal_from_referral", success=False,
                           error=str(error.get("message"))[:2000]))
    run.audit_many(audits)
    _store_links(run, entries)


def _store_links(run: SyncRun, entries: list[tuple[str, str, dict[str, Any], str | None]]) -> None:
    """One bulk link write; on a conflict (all or nothing), link one by one and log the odd one."""
    try:
        run.store.upsert_links(SYSTEM, entries)
    except LinkConflictError:
        for entry in entries:
            try:
                run.store.upsert_links(SYSTEM, [entry])
            except LinkConflictError as error:
                run.count("failed")
                log.warning("Deal %s not linked to referral %s: %s", entry[0], entry[1], error)
                run.audit(entity_type="referral", entity_id=entry[1], deal_id=entry[0], system=SYSTEM,
                          action="link_deal", success=False, error=str(error)[:2000])


def _referral_id_of(deal: dict[str, Any], inputs: list[dict[str, Any]]) -> str:
    referral_id = (deal.get("properties") or {}).get("microsoft_referral_id")
    if referral_id:
        return str(referral_id)
    trace = deal.get("objectWriteTraceId")
    if trace is not None and str(trace).isdigit() and int(trace) < len(inputs):
        return inputs[int(trace)]["id"]
    return ""


def _chunks(referrals: Iterable[dict[str, Any]], size: int, seen: set[str]) -> Iterator[list[dict[str, Any]]]:
    """Referrals in lists of ``size``, each id once (a referral that changes while the pages are
    read may be listed twice)."""
    chunk: list[dict[str, Any]] = []
    for referral in referrals:
        referral_id = str(referral.get("id"))
        if referral_id in seen:
            continue
        seen.add(referral_id)
        chunk.append(referral)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
