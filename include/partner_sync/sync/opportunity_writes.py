"""The one way this package changes an existing Partner Central opportunity.

UpdateOpportunity is a full replace guarded by ``LastModifiedDate``. Every flow that edits an
opportunity (deal push, contact/company propagation, conflict decisions, replay of deferred
edits) calls :func:`update_opportunity`, which:

1. reads the current opportunity (GetOpportunity);
2. if it is locked in review (Submitted, In review, Rejected), sends nothing and keeps the
   edit in the store's deferred edits, replayed by ``partner_central_opportunity_poll`` once
   review ends;
3. builds the desired state with the caller's ``change`` function and sends nothing when no
   managed field differs;
4. sends current-plus-changes with the current ``LastModifiedDate``; on ConflictException
   (someone wrote in between) it starts again from 1, a bounded number of times;
5. audits the write, successful or not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from partner_sync.hooks.partner_central import error_code
from partner_sync.mapping.aws import is_review_locked, opportunity_changes, opportunity_update

if TYPE_CHECKING:
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)

CONFLICT_ATTEMPTS = 4

UPDATED = "updated"
UNCHANGED = "unchanged"
DEFERRED = "deferred"


@dataclass
class UpdateOutcome:
    status: str  # updated | unchanged | deferred
    opportunity: dict[str, Any]  # the opportunity as read (and, when updated, as written)
    changes: dict[str, Any]


class OpportunityConflictError(RuntimeError):
    """The opportunity kept changing under us (ConflictException on every attempt)."""


def update_opportunity(
    run: SyncRun,
    opportunity_id: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    deal_id: str | None = None,
    action: str = "update_opportunity",
    defer_fields: dict[str, Any] | None = None,
) -> UpdateOutcome:
    """Apply ``change(current) -> desired`` to the opportunity, safely (see module docstring).

    ``defer_fields`` is what to keep in the store if the opportunity is locked in review
    (HubSpot-side field values, replayed later); without it a locked opportunity is skipped.
    """
    #: changes of an attempt whose request was retried by botocore before its ConflictException:
    #: an earlier HTTP attempt may have been applied (its answer lost to a timeout)
    maybe_applied: dict[str, Any] | None = None
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        current = run.partner_central.get_opportunity(Identifier=opportunity_id)
        if is_review_locked(current):
            if deal_id and defer_fields:
                run.store.defer_edit("aws", deal_id, opportunity_id, defer_fields)
                log.info("opportunity %s is in review; edit of deal %s deferred", opportunity_id, deal_id)
            return UpdateOutcome(DEFERRED, current, {})
        desired = change(current)
        changes = opportunity_changes(current, desired)
        if not changes and maybe_applied:
            # our own write landed (the retry of it conflicted with itself): a write all the same
            run.audit(
                entity_type="opportunity", entity_id=opportunity_id, deal_id=deal_id, system="aws",
                action=action, changes=maybe_applied,
            )
            return UpdateOutcome(UPDATED, current, maybe_applied)
        if not changes:
            return UpdateOutcome(UNCHANGED, current, {})
        body = opportunity_update(current, desired)
        try:
            answer = run.partner_central.update_opportunity(**body)
        except ClientError as error:
            if error_code(error) == "ConflictException" and attempt < CONFLICT_ATTEMPTS:
                log.info("opportunity %s changed meanwhile (attempt %d); re-reading", opportunity_id, attempt)
                retried = (error.response.get("ResponseMetadata") or {}).get("RetryAttempts") or 0
                maybe_applied = changes if retried else None
                continue
            if error_code(error) == "ConflictException":
                raise OpportunityConflictError(
                    f"opportunity {opportunity_id} changed on every one of {CONFLICT_ATTEMPTS} attempts"
                ) from error
            run.audit(
                entity_type="opportunity", entity_id=opportunity_id, deal_id=deal_id, system="aws",
                action=action, changes=changes, success=False, error=str(error)[:2000],
            )
            raise
        written = _as_written(current, body, answer)
        run.audit(
            entity_type="opportunity", entity_id=opportunity_id, deal_id=deal_id, system="aws",
            action=action, changes=changes,
        )
        return UpdateOutcome(UPDATED, written, changes)
    raise AssertionError("unreachable")


def _as_written(current: dict[str, Any], body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The opportunity after the full replace: the body sent, plus what an update never
    changes (ids, dates, related entities, the review fields AWS owns), new LastModifiedDate."""
    written = {key: value for key, value in current.items() if key not in body}
    written.update({key: value for key, value in body.items() if key != "Identifier"})
    life_cycle = dict(body.get("LifeCycle") or {})
    for name, value in (current.get("LifeCycle") or {}).items():
        if name in ("ReviewStatus", "ReviewComments", "ReviewStatusReason", "NextStepsHistory"):
            life_cycle.setdefault(name, value)
    written["LifeCycle"] = life_cycle
    written["LastModifiedDate"] = answer.get("LastModifiedDate", current.get("LastModifiedDate"))
    return written
