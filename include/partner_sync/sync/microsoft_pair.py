"""One linked deal ↔ referral pair, reconciled: what the push and the poll of Microsoft share.

:func:`sync_pair` runs the three-way decision of ``partner_sync.sync.reconcile`` for a deal and
its Partner Center referral and applies it to both sides:

- HubSpot-won fields go to the referral as a JSON Patch of those fields only, sent with
  ``If-Match`` = the eTag just read; a 412 (Microsoft changed the referral meanwhile) re-reads
  it, decides again and retries, a bounded number of times;
- a Closed referral is never patched: the deal gets a note saying why (once per set of
  blocked values, so a re-run or a redelivered push adds no second note);
- partner-won fields, status and substatus go to the deal through the run's
  :class:`~partner_sync.sync.writeback.DealWriter` (batched by the caller);
- the link records what both sides now hold (a field that could not be sent keeps its old
  base, so the deal's value is never taken back by a later poll), and the referral's eTag, so
  an unchanged referral is recognised later without reading its deal.

Every Partner Center write is audited (entity ``referral``, before → after per JSON pointer).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
from typing import TYPE_CHECKING, Any

from partner_sync.conflicts import StrategyConfig, normalise
from partner_sync.hooks.partner_center_errors import (
    PartnerCenterAuthError,
    PartnerCenterError,
    PartnerCenterTransientError,
    PreconditionFailed,
)
from partner_sync.mapping.deals import PARTNER_TAGS, has_tag
from partner_sync.mapping.microsoft import (
    MICROSOFT_TAG,
    SYNCED_DEAL_FIELDS,
    closed_referral_note,
    deal_fields_from_referral,
    deal_to_referral,
    is_closed,
    pointer_get,
    referral_fields_from_deal,
    referral_patch,
)
from partner_sync.sync.reconcile import decide, hubspot_properties, merged_deal, record_pending_conflicts

if TYPE_CHECKING:
    from partner_sync.store.models import Link
    from partner_sync.sync.deals import DealRecord
    from partner_sync.sync.runtime import SyncRun
    from partner_sync.sync.writeback import DealWriter

log = logging.getLogger(__name__)

SYSTEM = "microsoft"
#: re-reads after a 412 before the pair is given up for this run (marked error, retried later)
MAX_PRECONDITION_RETRIES = 3
#: synced deal field → the referral's JSON pointers that carry it
FIELD_POINTERS: dict[str, tuple[str, ...]] = {
    "dealname": ("/name",),
    "description": ("/details/notes",),
    "dealstage": ("/status", "/substatus"),
    "amount": ("/details/dealValue",),
    "closedate": ("/details/closingDateTime",),
}
#: pointers HubSpot owns outright (company and contacts), sent by the push when they differ
PROFILE_POINTERS: tuple[str, ...] = (
    "/externalReferenceId", "/customerProfile/name", "/customerProfile/address",
    "/customerProfile/team", "/details/currency",
)
#: how a pointer is named in a note
POINTER_NAMES: dict[str, str] = {
    **{pointer: name for name, pointers in FIELD_POINTERS.items() for pointer in pointers},
    "/externalReferenceId": "deal id", "/customerProfile/name": "company name",
    "/customerProfile/address": "company address", "/customerProfile/team": "contacts",
    "/details/currency": "currency",
}
#: the link-snapshot key that remembers the blocked values a note was already written for
BLOCKED_KEY = "_closed_note"
#: the link-snapshot key holding a digest of the company/contacts last reconciled by a push
PROFILE_KEY = "_profile"


class PairGaveUp(PartnerCenterError):
    """The referral kept changing under us (412 after every re-read)."""


def is_permanent(error: Exception) -> bool:
    """A refusal that retrying the task cannot fix (validation, closed, not found, 412 loop):
    the deal is marked ``error`` and the run goes on. Throttling, 5xx, timeouts and refused
    credentials are not: the task fails and Airflow retries it."""
    if isinstance(error, (PartnerCenterTransientError, PartnerCenterAuthError)):
        return False
    return isinstance(error, PartnerCenterError) and 400 <= error.status < 500 and error.status != 429


def referral_status_properties(referral: dict[str, Any]) -> dict[str, str]:
    """The deal properties that mirror a referral: id, status, substatus, customer, ``synced``."""
    properties = {
        "microsoft_referral_id": str(referral.get("id")),
        "microsoft_status": referral.get("status"),
        "microsoft_substatus": referral.get("substatus"),
        "microsoft_sync_status": "synced",
        "customer_name": (referral.get("customerProfile") or {}).get("name"),
    }
    return {name: str(value) for name, value in properties.items() if value not in (None, "")}


def note_html(text: str) -> str:
    """Plain text as a HubSpot note body (notes are HTML: escape, newlines as ``<br>``)."""
    return html.escape(text).replace("\n", "<br>")


def failure_note(action: str, error: Exception, referral_id: str | None = None) -> str:
    """The note a deal gets when Microsoft refuses a write (reason from the API's answer)."""
    reason = getattr(error, "message", None) or str(error)
    target = f" referral {referral_id}" if referral_id else " the referral"
    return note_html(f"Microsoft Partner Center sync failed: could not {action}{target}.\nReason: {reason}")



def pointer_values(referral: dict[str, Any]) -> dict[str, Any]:
    """The synced pointers of a referral that hold a value (for audit entries)."""
    pointers = [p for pointers in FIELD_POINTERS.values() for p in pointers] + list(PROFILE_POINTERS)
    return {p: pointer_get(referral, p) for p in pointers if pointer_get(referral, p) is not None}


def audit_referral_write(
    run: SyncRun, action: str, referral_id: str, deal_id: str, changes: dict[str, dict[str, Any]],
    success: bool = True, error: str | None = None,
) -> None:
    run.audit(entity_type="referral", entity_id=str(referral_id), deal_id=str(deal_id), system=SYSTEM,
              action=action, changes=changes, success=success, error=error)


def profile_digest(record: DealRecord) -> str:
    """A digest of what the deal's company and contacts make of the referral's profile."""
    full = deal_to_referral(record.as_object(), record.company, record.contacts)
    values = [(pointer, pointer_get(full, pointer)) for pointer in PROFILE_POINTERS]
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def unchanged_in_hubspot(record: DealRecord, link: Link) -> bool:
    """Nothing on the HubSpot side moved since the pair was last synced: the synced fields hold
    the link's snapshot, company and contacts give the same profile, and the deal carries the
    referral's id and ``synced``. A push then has nothing to send and need not read the
    referral (partner-side changes are the poll's to bring in)."""
    if link.last_synced_at is None or link.snapshot.get(PROFILE_KEY) != profile_digest(record):
        return False
    properties = record.properties
    if properties.get("microsoft_referral_id") != link.partner_id or properties.get("microsoft_sync_status") != "synced":
        return False
    values = referral_fields_from_deal(record.as_object())
    return all(normalise(name, link.snapshot.get(name)) == normalise(name, values.get(name))
               for name in SYNCED_DEAL_FIELDS)


def desired_referral(
    record: DealRecord, decision: Any, partner_values: dict[str, Any], include_profile: bool
) -> dict[str, Any]:
    """The referral fields to send: HubSpot-won synced fields, plus company and contacts when
    ``include_profile`` (the push reads them; the poll does not)."""
    merged = merged_deal(record.as_object(), decision, partner_values)
    full = deal_to_referral(merged, record.company, record.contacts)
    pointers = [p for name in decision.to_partner for p in FIELD_POINTERS.get(name, ())]
    if include_profile:
        pointers += list(PROFILE_POINTERS)
    desired: dict[str, Any] = {}
    for pointer in pointers:
        value = pointer_get(full, pointer)
        if value is None:
            continue
        node = desired
        parts = pointer.strip("/").split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return desired


def sync_pair(
    run: SyncRun,
    writer: DealWriter,
    record: DealRecord,
    link: Link,
    referral: dict[str, Any],
    strategies: StrategyConfig,
    include_profile: bool,
) -> str:
    """Reconcile one pair (see the module docstring); returns the outcome for the counters:
    ``updated`` (something was written), ``unchanged``, ``blocked_closed``.

    Partner Center errors propagate: the caller marks the deal on a permanent one
    (:func:`is_permanent`) and lets the task fail on a transient one.
    """
    referral_id = str(referral["id"])
    base = {name: link.snapshot[name] for name in SYNCED_DEAL_FIELDS if name in link.snapshot} or None
    hubspot_values = referral_fields_from_deal(record.as_object())
    patched = False
    for attempt in range(MAX_PRECONDITION_RETRIES + 1):
        partner_values = deal_fields_from_referral(referral)
        decision = decide(base, hubspot_values, partner_values, strategies,
                          record.modified_at, referral.get("updatedDateTime"), fields=SYNCED_DEAL_FIELDS)
        desired = desired_referral(record, decision, partner_values, include_profile)
        operations = referral_patch(referral, desired) if desired else []
        if not operations or is_closed(referral):
            break
        try:
            updated = run.partner_center.patch_referral(referral_id, operations, etag=referral.get("eTag"))
        except PreconditionFailed:
            run.count("precondition_retries")
            log.info("Referral %s changed since it was read (412); re-reading (attempt %s)", referral_id, attempt + 1)
            referral = run.partner_center.get_referral(referral_id)
            continue
        audit_referral_write(run, "update_referral", referral_id, record.id,
                             {op["path"]: {"before": pointer_get(referral, op["path"]), "after": op["value"]}
                              for op in operations})
        referral = updated
        patched = True
        operations = []
        break
    else:
        raise PairGaveUp(412, "PreconditionFailed",
                         f"referral kept changing: {MAX_PRECONDITION_RETRIES + 1} attempts failed with 412", referral_id)

    blocked = operations if is_closed(referral) else []
    outcome = "updated" if patched else "unchanged"
    if blocked:
        outcome = _note_closed(run, writer, record, link, referral, blocked) or outcome

    # what both sides hold now: partner-won fields are written to the deal below; a field the
    # referral did not take (closed, incoming, status that cannot go back) keeps its old base
    snapshot = dict(decision.snapshot)
    partner_now = deal_fields_from_referral(referral)
    for name in decision.to_partner:
        if normalise(name, partner_now.get(name)) != normalise(name, hubspot_values.get(name)):
            snapshot[name] = base[name] if base and name in base else partner_now.get(name)
    if blocked:
        snapshot[BLOCKED_KEY] = _blocked_digest(blocked)
    elif include_profile:
        snapshot[PROFILE_KEY] = profile_digest(record)
    if decision.pending:
        record_pending_conflicts(run, SYSTEM, record.id, referral_id, decision,
                                 record.modified_at, referral.get("updatedDateTime"))

    properties = {**_pulled_properties(record, decision.to_hubspot), **referral_status_properties(referral)}
    if writer.update(record.id, properties, record.properties, action="update_deal_from_referral"):
        outcome = "updated" if outcome == "unchanged" else outcome
    snapshot_changed = any(link.snapshot.get(k) != v for k, v in snapshot.items())
    if snapshot_changed or link.partner_version != referral.get("eTag") or link.last_synced_at is None:
        run.store.record_sync(SYSTEM, record.id, snapshot=snapshot, partner_version=referral.get("eTag"),
                              bump_version=snapshot_changed or patched)
    return outcome


def _note_closed(
    run: SyncRun, writer: DealWriter, record: DealRecord, link: Link, referral: dict[str, Any],
    blocked: list[dict[str, Any]],
) -> str | None:
    """The closed-referral note, unless this very set of values was already noted."""
    if link.snapshot.get(BLOCKED_KEY) == _blocked_digest(blocked):
        return None
    fields = sorted({POINTER_NAMES.get(op["path"], op["path"]) for op in blocked})
    writer.note(record.id, note_html(closed_referral_note(referral, fields)))
    audit_referral_write(
        run, "update_blocked", str(referral["id"]), record.id,
        {op["path"]: {"before": pointer_get(referral, op["path"]), "after": op["value"]} for op in blocked},
        success=False, error=f"referral is Closed ({referral.get('substatus')}); Partner Center accepts no changes",
    )
    return "blocked_closed"


def _blocked_digest(operations: list[dict[str, Any]]) -> str:
    canonical = json.dumps(sorted((op["path"], op["value"]) for op in operations), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _pulled_properties(record: DealRecord, to_hubspot: dict[str, Any]) -> dict[str, Any]:
    """Partner-won values as deal properties; a renamed deal keeps every tag it carried."""
    properties = hubspot_properties(to_hubspot, MICROSOFT_TAG)
    if "dealname" in properties:
        name = properties["dealname"] or ""
        current = record.properties.get("dealname")
        for tag in PARTNER_TAGS.values():
            if has_tag(current, tag) and not has_tag(name, tag):
                name = f"{name} {tag}".strip()
        properties["dealname"] = name
    return properties
