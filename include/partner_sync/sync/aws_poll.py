"""AWS Partner Central → HubSpot (``partner_central_opportunity_poll``): invitations become
deals (:mod:`partner_sync.sync.aws_invitations`), and opportunities changed on AWS's side
(review status, stage, anything synced) update their deals.

:func:`poll_opportunities` lists the opportunities whose ``LastModifiedDate`` falls in the
run's data interval (ListOpportunities' own filter; every opportunity with ``full_sync``) and,
for each one linked to a deal, runs the two-way pair sync
(:func:`partner_sync.sync.aws_pair.sync_pair`): partner-side changes are pulled into the
deal (stage, close date, amount… by the field's conflict strategy), ``aws_review_status`` and
``aws_lifecycle_stage`` mirror the opportunity, and a HubSpot edit that has not reached AWS
yet is sent (or kept while the opportunity is in review). An opportunity whose
``LastModifiedDate`` is the one the store recorded at the last sync is our own write coming
back: skipped without reading anything else (unless ``full_sync``).

Unlinked opportunities are left alone and counted: a partner's own opportunity created in
the Partner Central UI may already have a deal that nobody linked (creating one would
duplicate it), and AWS referrals arrive as invitations, which do create deals.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from partner_sync.sync.aws_invitations import accept_invitations
from partner_sync.sync.aws_pair import SYSTEM, AwsSettings, DealRejected, is_permanent, rejection_note, same_version, sync_pair
from partner_sync.sync.deals import read_deals
from partner_sync.sync.writeback import DealWriter

if TYPE_CHECKING:
    from partner_sync.sync.runtime import SyncRun, SyncWindow

__all__ = ["accept_invitations", "poll_opportunities"]

log = logging.getLogger(__name__)

BATCH = 100
PAGE_SIZE = 100


def list_changed(run: SyncRun, window: SyncWindow) -> Any:
    """Opportunity summaries modified in the window (every one with ``full_sync``)."""
    params: dict[str, Any] = {"MaxResults": PAGE_SIZE}
    if not window.full_sync:
        bounds = {}
        if window.start is not None:
            bounds["AfterLastModifiedDate"] = window.start
        if window.end is not None:
            bounds["BeforeLastModifiedDate"] = window.end
        if bounds:
            params["LastModifiedDate"] = bounds
    return run.partner_central.iter_opportunities(**params)


def poll_opportunities(run: SyncRun, window: SyncWindow) -> dict[str, int]:
    """Bring the deals of opportunities changed in the window up to date (module docstring)."""
    settings = AwsSettings.read()
    writer = DealWriter(run, SYSTEM)
    page: list[dict[str, Any]] = []
    for summary in list_changed(run, window):
        page.append(summary)
        if len(page) >= BATCH:
            _sync_page(run, writer, settings, page, window.full_sync)
            page = []
    if page:
        _sync_page(run, writer, settings, page, window.full_sync)
    log.info("opportunity poll (%s): %s", "full sync" if window.full_sync else f"{window.start} to {window.end}",
             run.counters)
    return dict(run.counters)


def _sync_page(run: SyncRun, writer: DealWriter, settings: AwsSettings, summaries: list[dict[str, Any]],
               full_sync: bool) -> None:
    links = run.store.links_for_partners(SYSTEM, [summary["Id"] for summary in summaries])
    changed = []
    for summary in summaries:
        link = links.get(summary["Id"])
        if link is None:
            log.debug("opportunity %s has no deal: left alone", summary["Id"])
            run.count("unlinked")
        elif not full_sync and same_version(summary.get("LastModifiedDate"), link.partner_version):
            run.count("already_synced")
        else:
            changed.append(link)
    if not changed:
        return
    records = read_deals(run.hubspot, [link.deal_id for link in changed])
    for link in changed:
        record = records.get(link.deal_id)
        if record is None:
            log.warning("deal %s of opportunity %s no longer exists: not updated", link.deal_id, link.partner_id)
            run.count("deal_missing")
            continue
        try:
            run.count(sync_pair(run, writer, record, link, settings))
        except DealRejected as rejected:
            writer.fail(record.id, rejected.note, record.properties, link.partner_id)
            run.count("failed")
        except ClientError as error:
            if not is_permanent(error):
                writer.flush()
                raise
            writer.fail(record.id, rejection_note(error), record.properties, link.partner_id)
            run.count("failed")
    writer.flush()
