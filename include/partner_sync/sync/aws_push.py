"""HubSpot deals tagged ``#AWS`` → AWS Partner Central opportunities (``hubspot_deal_sync``),
and the replay of edits held back while AWS reviewed an opportunity
(``partner_central_opportunity_poll``).

Per deal, in batches of 100 (deal, company and contacts read in about five HubSpot calls):

- **not linked yet**: the CreateOpportunity body is checked first, against botocore's model
  (:meth:`PartnerCentralHook.preflight`) and ACE's business rules
  (:func:`partner_sync.mapping.ace_rules.business_problems`). A deal that fails gets one
  note listing every problem, ``aws_sync_status=error`` and no Partner Central call at all.
  Otherwise CreateOpportunity runs with a ClientToken reserved in the store per deal, so a
  retry after a timeout or a crash gets the same opportunity back; the token is completed with
  the opportunity id, the link stored, and the pair handed to
  :func:`partner_sync.sync.aws_pair.sync_pair` (solution, submission, ids written back);
- **linked** (or carrying ``aws_opportunity_id``): :func:`sync_pair` — three-way decision,
  full-replace update only when something differs, review lock → deferred edit.

Per-deal failures that a retry cannot fix (ValidationException and friends, or a deal ACE
would reject) land on the deal — status ``error`` and a note in a salesperson's words — and
in the audit; the batch goes on. Transient ones (throttling, 5xx, timeouts) fail the task
after the deals already done are written back, so Airflow's retry redoes only what is left:
every step is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from partner_sync.conflicts import to_utc
from partner_sync.hooks.partner_central import error_code
from partner_sync.mapping.ace_rules import business_problems, problems_note
from partner_sync.mapping.aws import deal_to_opportunity, opportunity_fields_from_deal
from partner_sync.mapping.deals import AWS_TAG, has_tag
from partner_sync.store import LinkConflictError
from partner_sync.sync.aws_pair import (
    SYSTEM,
    AwsSettings,
    DealRejected,
    is_permanent,
    note_html,
    rejection_note,
    sync_pair,
    today_utc,
    version_of,
)
from partner_sync.sync.deals import read_deals
from partner_sync.sync.opportunity_writes import DEFERRED
from partner_sync.sync.writeback import DealWriter

if TYPE_CHECKING:
    from partner_sync.store import Link
    from partner_sync.sync.deals import DealRecord
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)

BATCH = 100
CREATE_OPERATION = "create_opportunity"
#: how far before its reservation a first create attempt may have been registered by AWS
#: (clock skew) when looking for it after a "Conflicting client token" answer
CREATE_LOOKBACK = timedelta(minutes=10)


def push_deals(run: SyncRun, deal_ids: Iterable[str]) -> dict[str, int]:
    """Create or update the opportunity of every ``#AWS`` deal among ``deal_ids``.

    Returns counts by outcome (created, updated, unchanged, deferred, invalid, failed,
    missing, untagged) — a small summary for XCom.
    """
    ids = list(dict.fromkeys(str(deal_id) for deal_id in deal_ids or []))
    if not ids:
        return {}
    settings = AwsSettings.read()
    writer = DealWriter(run, SYSTEM)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        records = read_deals(run.hubspot, chunk)
        links = run.store.links_for_deals(SYSTEM, chunk)
        for deal_id in chunk:
            record = records.get(deal_id)
            if record is None:
                log.info("deal %s does not exist (any more): skipped", deal_id)
                run.count("missing")
                continue
            if not has_tag(record.properties.get("dealname"), AWS_TAG):
                log.info("deal %s is not tagged %s: skipped", deal_id, AWS_TAG)
                run.count("untagged")
                continue
            run.count(push_one(run, writer, record, links.get(deal_id), settings))
        writer.flush()
    log.info("AWS push of %d deals: %s", len(ids), run.counters)
    return dict(run.counters)


def push_one(run: SyncRun, writer: DealWriter, record: DealRecord, link: Link | None, settings: AwsSettings) -> str:
    """Push one tagged deal; returns its outcome. Raises only transient errors (after
    flushing what the batch already wrote)."""
    partner_id = link.partner_id if link else record.properties.get("aws_opportunity_id") or None
    try:
        if link is None and partner_id:
            # the deal names its opportunity but the store has no link (a store restored from
            # an older backup, a crash between deal creation and link): adopt it, never create
            link = run.store.upsert_link(SYSTEM, record.id, partner_id)
        if link is None:
            return create_opportunity(run, writer, record, settings)
        return sync_pair(run, writer, record, link, settings, submit=True)
    except DealRejected as rejected:
        writer.fail(record.id, rejected.note, record.properties, rejected.partner_id or partner_id)
        return "failed"
    except LinkConflictError as error:
        writer.fail(record.id, note_html(f"This deal cannot be linked to its AWS opportunity: {error}"),
                    record.properties, partner_id)
        return "failed"
    except ClientError as error:
        if not is_permanent(error):
            writer.flush()
            raise
        log.warning("Partner Central refused deal %s: %s", record.id, error_code(error))
        writer.fail(record.id, rejection_note(error), record.properties, partner_id)
        return "failed"
    except Exception:
        writer.flush()
        raise


def create_opportunity(run: SyncRun, writer: DealWriter, record: DealRecord, settings: AwsSettings) -> str:
    """Pre-flight, CreateOpportunity (idempotent), link, then the linked-pair steps."""
    deal = record.as_object()
    body = deal_to_opportunity(deal, record.company, record.contacts)
    problems = business_problems(body, today=today_utc())
    model_problems = run.partner_central.preflight("CreateOpportunity", body)
    if problems or model_problems:
        log.info("deal %s fails %d ACE rules and %d model checks: not sent",
                 record.id, len(problems), len(model_problems))
        writer.fail(record.id, note_html(problems_note(problems, model_problems)), record.properties)
        return "invalid"
    answer = create_once(run, record.id, body)
    link = run.store.upsert_link(
        SYSTEM, record.id, answer["Id"], snapshot=opportunity_fields_from_deal(deal),
        partner_version=version_of(answer),
    )
    sync_pair(run, writer, record, link, settings, submit=True, created=True)
    return "created"


def create_once(run: SyncRun, deal_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """CreateOpportunity at most once per deal: ``{"Id", "LastModifiedDate"?}``.

    A completed reservation answers without a call. Otherwise the reserved token is sent;
    AWS answers a repeated token with the first result. If the deal changed between a lost
    first attempt and this one, AWS refuses the token for the new body (ConflictException):
    the first attempt's opportunity is then found by its PartnerOpportunityIdentifier
    among the opportunities created since the reservation.
    """
    reservation = run.store.get_client_token(SYSTEM, deal_id, CREATE_OPERATION)
    if reservation is not None and reservation.completed and reservation.result_id:
        return {"Id": reservation.result_id}
    token = run.store.reserve_client_token(SYSTEM, deal_id, CREATE_OPERATION)
    try:
        answer = run.partner_central.create_opportunity(ClientToken=token, **body)
    except ClientError as error:
        if error_code(error) != "ConflictException" or reservation is None:
            raise
        answer = find_created(run, deal_id, reservation.created_at)
        if answer is None:
            raise
        log.info("deal %s: the first create attempt made %s; adopted", deal_id, answer["Id"])
    run.store.complete_client_token(SYSTEM, deal_id, CREATE_OPERATION, answer["Id"])
    run.audit(
        entity_type="opportunity", entity_id=answer["Id"], deal_id=deal_id, system=SYSTEM,
        action="create_opportunity",
        changes={path: {"before": None, "after": value} for path, value in _create_summary(body).items()},
    )
    return answer


def find_created(run: SyncRun, deal_id: str, reserved_at: Any) -> dict[str, Any] | None:
    """The opportunity a lost first CreateOpportunity made for this deal, if any."""
    since = to_utc(reserved_at)
    filters: dict[str, Any] = {}
    if since is not None:
        filters["CreatedDate"] = {"AfterCreatedDate": since - CREATE_LOOKBACK}
    for summary in run.partner_central.iter_opportunities(**filters):
        if summary.get("PartnerOpportunityIdentifier") == deal_id:
            return {"Id": summary["Id"], "LastModifiedDate": summary.get("LastModifiedDate")}
    return None


def _create_summary(body: dict[str, Any]) -> dict[str, Any]:
    """The members of a create worth an audit line (the whole body is in the opportunity)."""
    project, life_cycle = body.get("Project") or {}, body.get("LifeCycle") or {}
    spend = (project.get("ExpectedCustomerSpend") or [{}])[0]
    return {
        "Project.Title": project.get("Title"),
        "Customer.Account.CompanyName": ((body.get("Customer") or {}).get("Account") or {}).get("CompanyName"),
        "Project.ExpectedCustomerSpend.Amount": spend.get("Amount"),
        "LifeCycle.Stage": life_cycle.get("Stage"),
        "LifeCycle.TargetCloseDate": life_cycle.get("TargetCloseDate"),
    }


def replay_deferred_edits(run: SyncRun) -> dict[str, int]:
    """Send the edits held back while AWS reviewed their opportunity, once it no longer does.

    The deal is read again, so what is sent is its current state (a later edit wins over the
    one deferred), decided three-way against what AWS holds now. A deferred edit is cleared
    (by revision: one merged in meanwhile stays) once its pair synced; a deal deleted or
    unlinked meanwhile drops its edit.
    """
    edits = run.store.pending_deferred_edits(SYSTEM)
    if not edits:
        return {}
    settings = AwsSettings.read()
    writer = DealWriter(run, SYSTEM)
    for start in range(0, len(edits), BATCH):
        chunk = edits[start:start + BATCH]
        deal_ids = [edit.deal_id for edit in chunk]
        records = read_deals(run.hubspot, deal_ids)
        links = run.store.links_for_deals(SYSTEM, deal_ids)
        for edit in chunk:
            record, link = records.get(edit.deal_id), links.get(edit.deal_id)
            if record is None or link is None or link.partner_id != edit.partner_id:
                log.info("deferred edit of deal %s dropped: deal or link gone", edit.deal_id)
                run.store.clear_deferred_edit(SYSTEM, edit.deal_id, edit.revision)
                run.count("dropped")
                continue
            try:
                outcome = sync_pair(run, writer, record, link, settings, pending=edit)
            except DealRejected as rejected:
                writer.fail(record.id, rejected.note, record.properties, link.partner_id)
                run.store.clear_deferred_edit(SYSTEM, edit.deal_id, edit.revision)
                run.count("failed")
                continue
            except ClientError as error:
                if not is_permanent(error):
                    writer.flush()
                    raise
                writer.fail(record.id, rejection_note(error), record.properties, link.partner_id)
                run.store.clear_deferred_edit(SYSTEM, edit.deal_id, edit.revision)
                run.count("failed")
                continue
            if outcome == DEFERRED:
                run.count("still_locked")
                continue
            run.store.clear_deferred_edit(SYSTEM, edit.deal_id, edit.revision)
            run.audit(entity_type="opportunity", entity_id=link.partner_id, deal_id=edit.deal_id,
                      system=SYSTEM, action="replay_deferred_edit",
                      changes={name: {"before": None, "after": value} for name, value in edit.fields.items()})
            run.count(f"replayed_{outcome}")
        writer.flush()
    log.info("replay of %d deferred AWS edits: %s", len(edits), run.counters)
    return dict(run.counters)
