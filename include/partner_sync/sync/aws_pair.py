"""One linked HubSpot deal ↔ Partner Central opportunity, synced both ways.

The deal push, the opportunity poll and the replay of deferred edits all end here, so a pair
converges to the same state whichever of them runs first. :func:`sync_pair`:

1. reads the opportunity (GetOpportunity) and decides every synced field three-way
   (:func:`partner_sync.sync.reconcile.decide`: base = the link's snapshot);
2. sends HubSpot's side only when a managed field differs, through
   :func:`partner_sync.sync.opportunity_writes.update_opportunity` (full replace with the
   current ``LastModifiedDate``; ConflictException → re-read, *re-decide*, retry). The body is
   checked against botocore's model and ACE's business rules first; a rejected deal gets a
   note and no call;
3. holds the HubSpot edits back while AWS reviews the opportunity (Submitted, In review,
   Rejected) or while a field is frozen (``Action Required`` whitelist): they go to the store's
   deferred edits and the snapshot does not advance for them, so nothing is lost;
4. never compares ``dealname`` once ``Project.Title`` is frozen (after submission), so a
   renamed deal neither changes the title nor gets the old title back;
5. pulls partner-won fields into the deal, stores MANUAL conflicts as pending, records the
   sync (``aws_version`` bumped when something was applied) and queues the status properties
   (``aws_review_status``, ``aws_lifecycle_stage`` …) on the :class:`DealWriter`.

With ``submit=True`` (the deal push) a not-yet-submitted partner referral also gets the
configured solution (AssociateOpportunity) and, when ``partner_sync_aws_auto_submit`` is on,
StartEngagementFromOpportunityTask with a ClientToken reserved per opportunity version,
polled until it finishes: steps are checked against the opportunity's state, so a retried
task resumes from the step that failed.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from partner_sync.conflicts import StrategyConfig, to_utc
from partner_sync.hooks.partner_central import error_code, error_fields
from partner_sync.mapping.ace_rules import business_problems, problems_note
from partner_sync.mapping.aws import (
    ACTION_REQUIRED,
    EDITABLE_TITLE_STATUS,
    SYNCED_DEAL_FIELDS,
    deal_fields_from_opportunity,
    deal_to_opportunity,
    editable_fields,
    field_value,
    is_review_locked,
    opportunity_changes,
    opportunity_fields_from_deal,
    opportunity_update,
    review_status,
)
from partner_sync.mapping.deals import AWS_TAG
from partner_sync.store.models import iso
from partner_sync.sync.opportunity_writes import DEFERRED, UNCHANGED, UPDATED, update_opportunity
from partner_sync.sync.reconcile import PairDecision, decide, hubspot_properties, merged_deal, record_pending_conflicts
from partner_sync.sync.writeback import now_iso

if TYPE_CHECKING:
    from partner_sync.store import DeferredEdit, Link
    from partner_sync.sync.deals import DealRecord
    from partner_sync.sync.runtime import SyncRun
    from partner_sync.sync.writeback import DealWriter

log = logging.getLogger(__name__)

SYSTEM = "aws"
#: HubSpot deal field → the ACE member it is written to
FIELD_PATHS: dict[str, str] = {
    "dealname": "Project.Title",
    "amount": "Project.ExpectedCustomerSpend.Amount",
    "closedate": "LifeCycle.TargetCloseDate",
    "dealstage": "LifeCycle.Stage",
    "description": "Project.CustomerBusinessProblem",
}
#: ACE errors that retrying cannot fix: the deal is marked and the batch goes on. Anything
#: else (throttling, 5xx, quota, timeouts) fails the task so Airflow retries it.
PERMANENT_ERRORS = frozenset({
    "ValidationException", "AccessDeniedException", "ResourceNotFoundException", "ConflictException",
})
#: seconds between polls of a Start*Task (about a minute in all, then left to the next run)
TASK_POLL_DELAYS: tuple[float, ...] = (0.5, 1, 2, 4, 8, 15, 30)
SUBMISSION = {"InvolvementType": "Co-Sell", "Visibility": "Full"}


@dataclass(frozen=True)
class AwsSettings:
    """The partner_sync_* Variables one run works with (read once per task)."""

    strategies: StrategyConfig = field(default_factory=StrategyConfig)
    solution_id: str | None = None
    auto_submit: bool = False

    @classmethod
    def read(cls) -> AwsSettings:
        from partner_sync import config

        return cls(config.conflict_strategies(), config.aws_solution_id(), config.aws_auto_submit())


class DealRejected(Exception):
    """A per-deal failure that retrying cannot fix; ``note`` (HTML) says what to do."""

    def __init__(self, note: str, partner_id: str | None = None) -> None:
        super().__init__(note)
        self.note = note
        self.partner_id = partner_id


# --- small pieces shared by the AWS flows -----------------------------------------------------


def is_permanent(error: BaseException) -> bool:
    return isinstance(error, ClientError) and error_code(error) in PERMANENT_ERRORS


def note_html(text: str) -> str:
    """Plain text (one line per item) as a HubSpot note body (HTML)."""
    return html.escape(text, quote=False).replace("\n", "<br>")


def rejection_note(error: ClientError) -> str:
    """A ClientError from Partner Central in a salesperson's words (HTML)."""
    message = error.response.get("Error", {}).get("Message") or "no details given"
    lines = [f"AWS Partner Central refused the last sync of this deal ({error_code(error)}): {message}"]
    problems = error_fields(error)
    if problems:
        lines.extend(problems_note([], problems).splitlines()[1:])
    lines.append("Fix the deal in HubSpot; the sync retries after the next change.")
    return note_html("\n".join(lines))


def version_of(opportunity: dict[str, Any] | None) -> str | None:
    """The opportunity's ``LastModifiedDate`` as the store keeps it (ISO 8601 UTC)."""
    return iso(to_utc((opportunity or {}).get("LastModifiedDate")))


def same_version(left: Any, right: Any) -> bool:
    """Whether two ``LastModifiedDate`` values are the same instant (strings or datetimes)."""
    try:
        return left is not None and right is not None and to_utc(left) == to_utc(right)
    except ValueError:
        return False


def status_properties(opportunity: dict[str, Any]) -> dict[str, Any]:
    """The deal properties that mirror the opportunity's state."""
    return {
        "aws_opportunity_id": opportunity.get("Id"),
        "aws_sync_status": "synced",
        "aws_review_status": review_status(opportunity),
        "aws_lifecycle_stage": field_value(opportunity, "LifeCycle.Stage"),
    }


def wait_for_task(list_tasks: Callable[..., dict[str, Any]], task: dict[str, Any]) -> dict[str, Any]:
    """Poll a Start*Task through its List*Tasks operation until COMPLETE or FAILED (bounded:
    an unfinished task is returned as it is, IN_PROGRESS)."""
    for delay in TASK_POLL_DELAYS:
        if task.get("TaskStatus") != "IN_PROGRESS":
            return task
        time.sleep(delay)
        summaries = list_tasks(TaskIdentifier=[task["TaskId"]]).get("TaskSummaries") or []
        if summaries:
            task = {**task, **summaries[0]}
    return task


def today_utc() -> date:
    """Today in UTC (ACE rejects a target close date before it)."""
    return datetime.now(timezone.utc).date()


# --- the pair ---------------------------------------------------------------------------------


@dataclass
class _Decided:
    """What the last ``desired_for(opportunity)`` decided (re-run after a ConflictException)."""

    opportunity: dict[str, Any] = field(default_factory=dict)
    decision: PairDecision = field(default_factory=PairDecision)
    base: dict[str, Any] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)


def compared_fields(opportunity: dict[str, Any]) -> tuple[str, ...]:
    """The synced fields to decide: ``dealname`` only while ``Project.Title`` may change."""
    if review_status(opportunity) in (None, EDITABLE_TITLE_STATUS):
        return SYNCED_DEAL_FIELDS
    return tuple(name for name in SYNCED_DEAL_FIELDS if name != "dealname")


def sync_pair(
    run: SyncRun,
    writer: DealWriter,
    record: DealRecord,
    link: Link,
    settings: AwsSettings,
    *,
    submit: bool = False,
    created: bool = False,
    pending: DeferredEdit | None = None,
) -> str:
    """Sync one linked pair (see the module docstring); returns updated/unchanged/deferred.

    ``created``: the opportunity was just created (counts as an applied change: version +1).
    Raises :class:`DealRejected` for a deal ACE would refuse (nothing sent), ClientError for
    what Partner Central refused, anything else for transient failures.
    """
    deal = record.as_object()
    hubspot_values = opportunity_fields_from_deal(deal)
    decided = _Decided()

    def desired_for(opportunity: dict[str, Any]) -> dict[str, Any]:
        partner_values = deal_fields_from_opportunity(opportunity)
        base = dict(link.snapshot) if link.snapshot else dict(partner_values)
        decision = decide(
            base, hubspot_values, partner_values, settings.strategies,
            hubspot_modified_at=record.modified_at,
            partner_modified_at=opportunity.get("LastModifiedDate"),
            fields=compared_fields(opportunity),
        )
        editable = editable_fields(opportunity)
        locked = is_review_locked(opportunity)
        decided.opportunity, decided.decision, decided.base = opportunity, decision, base
        decided.held = {name for name in decision.to_partner if locked or FIELD_PATHS[name] not in editable}
        return deal_to_opportunity(merged_deal(deal, decision, partner_values), record.company, record.contacts)

    def checked(opportunity: dict[str, Any]) -> dict[str, Any]:
        desired = desired_for(opportunity)
        check_update(run, opportunity, desired, link.partner_id)
        return desired

    current = run.partner_central.get_opportunity(Identifier=link.partner_id)
    desired = desired_for(current)
    changes = opportunity_changes(current, desired)
    status = UNCHANGED
    if is_review_locked(current):
        status = DEFERRED if (changes or decided.held) else UNCHANGED
    elif changes:
        outcome = update_opportunity(run, link.partner_id, checked, deal_id=record.id)
        status, current = outcome.status, outcome.opportunity
        if status == DEFERRED:  # locked between our read and the write: re-decide on that state
            desired_for(current)
        elif status == UPDATED and review_status(current) == ACTION_REQUIRED:
            # AWS puts an answered opportunity back into review: show the deal what it is now
            current = run.partner_central.get_opportunity(Identifier=link.partner_id)
    if status == DEFERRED or decided.held:
        _defer(run, writer, record, link, decided, hubspot_values, desired, pending)

    decision = decided.decision
    snapshot = dict(decision.snapshot)
    for name in decided.held | (set(decision.to_partner) if status == DEFERRED else set()):
        snapshot[name] = decided.base.get(name)  # not sent yet: the base stays the base
    applied = created or status == UPDATED or bool(decision.to_hubspot)
    stored = run.store.record_sync(SYSTEM, record.id, snapshot, version_of(current), bump_version=applied)

    properties: dict[str, Any] = {**status_properties(current), "aws_version": stored.version}
    properties.update(hubspot_properties(decision.to_hubspot, AWS_TAG))
    if applied:
        # which side's change this sync carried (a person's decision says user:<name> instead)
        properties["aws_last_sync_by"] = "hubspot" if (created or status == UPDATED) else "partner_central"
    if record_pending_conflicts(run, SYSTEM, record.id, link.partner_id, decision, record.modified_at,
                                current.get("LastModifiedDate")):
        properties["aws_conflict_status"] = "Pending"
        if record.properties.get("aws_conflict_status") != "Pending":
            properties["aws_last_conflict_date"] = now_iso()
    elif decision.resolved_conflicts:
        properties["aws_conflict_status"] = "Resolved"
        properties["aws_last_conflict_date"] = now_iso()
    writer.update(record.id, properties, record.properties, action="update_deal_from_opportunity")
    if submit and status != DEFERRED:
        submitted = submit_if_configured(run, record.id, current, settings)  # may raise DealRejected
        if submitted is not None:
            run.store.record_sync(SYSTEM, record.id, None, version_of(submitted), bump_version=False)
            writer.update(record.id, status_properties(submitted), record.properties,
                          action="update_deal_from_opportunity")
    return status


def _defer(
    run: SyncRun,
    writer: DealWriter,
    record: DealRecord,
    link: Link,
    decided: _Decided,
    hubspot_values: dict[str, Any],
    desired: dict[str, Any],
    pending: DeferredEdit | None,
) -> None:
    """Keep the HubSpot edits the opportunity cannot take now; tell the deal once."""
    opportunity = decided.opportunity
    locked = is_review_locked(opportunity)
    held = set(decided.decision.to_partner) if locked else decided.held
    fields: dict[str, Any] = {name: hubspot_values.get(name) for name in sorted(held)}
    if locked:  # account and contact edits wait too (everything is read-only in review)
        for path, change in opportunity_changes(opportunity, desired).items():
            if path not in FIELD_PATHS.values():
                fields[path] = change["after"]
    if not fields or (pending is not None and pending.fields == fields):
        return
    edit = run.store.defer_edit(SYSTEM, record.id, link.partner_id, fields)
    run.audit(entity_type="opportunity", entity_id=link.partner_id, deal_id=record.id, system=SYSTEM,
              action="defer_edit", changes={name: {"before": None, "after": value} for name, value in fields.items()})
    log.info("opportunity %s is %s: edit of deal %s held back (%s)", link.partner_id,
             review_status(opportunity), record.id, ", ".join(fields))
    if edit.revision == 1:
        writer.note(record.id, note_html(
            f"AWS Partner Central does not accept changes to this opportunity right now "
            f"(review status: {review_status(opportunity) or 'unknown'}). Your changes "
            f"({', '.join(fields)}) are kept and sent automatically when AWS finishes the review."))


def check_update(run: SyncRun, opportunity: dict[str, Any], desired: dict[str, Any], partner_id: str) -> None:
    """Refuse (:class:`DealRejected`) an update botocore's model or ACE's rules would reject.

    Business rules are applied to the members being changed only: an opportunity that AWS
    created with gaps (an AWS referral without a postal code) still takes a new amount.
    """
    changed = list(opportunity_changes(opportunity, desired))
    if not changed:
        return
    body = opportunity_update(opportunity, desired)
    model = run.partner_central.preflight("UpdateOpportunity", body)
    business = [
        problem for problem in business_problems(body, today=today_utc())
        if any(problem.field.startswith(path) or path.startswith(problem.field) for path in changed)
    ]
    if model or business:
        raise DealRejected(note_html(problems_note(business, model)), partner_id)


# --- association and submission ---------------------------------------------------------------


def submit_if_configured(
    run: SyncRun, deal_id: str, opportunity: dict[str, Any], settings: AwsSettings
) -> dict[str, Any] | None:
    """Associate the configured solution and submit (auto-submit), for a partner referral
    still in Pending Submission. Returns the opportunity re-read if anything was done."""
    if review_status(opportunity) != EDITABLE_TITLE_STATUS:
        return None
    opportunity_id = opportunity["Id"]
    acted = False
    solutions = field_value(opportunity, "RelatedEntityIdentifiers.Solutions") or []
    if settings.solution_id and settings.solution_id not in solutions:
        run.partner_central.associate_opportunity(
            OpportunityIdentifier=opportunity_id, RelatedEntityType="Solutions",
            RelatedEntityIdentifier=settings.solution_id,
        )
        run.audit(entity_type="opportunity", entity_id=opportunity_id, deal_id=deal_id, system=SYSTEM,
                  action="associate_solution",
                  changes={"RelatedEntityIdentifiers.Solutions": {"before": solutions, "after": [*solutions, settings.solution_id]}})
        acted = True
    if settings.auto_submit:
        if acted:
            opportunity = run.partner_central.get_opportunity(Identifier=opportunity_id)
        start_engagement(run, deal_id, opportunity)
        acted = True
    return run.partner_central.get_opportunity(Identifier=opportunity_id) if acted else None


def start_engagement(run: SyncRun, deal_id: str, opportunity: dict[str, Any]) -> dict[str, Any]:
    """StartEngagementFromOpportunityTask (submission to AWS), polled until it ends.

    The ClientToken is reserved per (deal, opportunity version): a retry after a crash or a
    timeout replays the same task; a later attempt, after the deal changed, is a new one.
    """
    opportunity_id = opportunity["Id"]
    operation = f"start_engagement:{version_of(opportunity)}"
    token = run.store.reserve_client_token(SYSTEM, deal_id, operation)
    task = run.partner_central.start_engagement_from_opportunity_task(
        ClientToken=token, Identifier=opportunity_id, AwsSubmission=dict(SUBMISSION),
    )
    task = wait_for_task(run.partner_central.list_engagement_from_opportunity_tasks, task)
    run.store.complete_client_token(SYSTEM, deal_id, operation, task.get("TaskId"))
    failed = task.get("TaskStatus") == "FAILED"
    run.audit(entity_type="opportunity", entity_id=opportunity_id, deal_id=deal_id, system=SYSTEM,
              action="submit_opportunity", success=not failed,
              changes={"TaskStatus": {"before": None, "after": task.get("TaskStatus")}},
              error=f"{task.get('ReasonCode')}: {task.get('Message')}" if failed else None)
    if failed:
        raise DealRejected(note_html(
            f"The opportunity {opportunity_id} was created in AWS Partner Central but AWS did not "
            f"accept its submission ({task.get('ReasonCode')}): {task.get('Message')}\n"
            "Fix the deal in HubSpot; the submission is retried after the next change."), opportunity_id)
    if task.get("TaskStatus") == "IN_PROGRESS":
        log.info("submission of opportunity %s still in progress; the poll will report its review status",
                 opportunity_id)
    return task
