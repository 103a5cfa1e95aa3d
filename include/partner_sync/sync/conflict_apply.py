"""Writing a person's conflict decision to both systems: the deal and the partner record.

:func:`apply_value` writes one field's chosen value (in its HubSpot form, as the conflict
stores it) to the Partner Central opportunity (:func:`~partner_sync.sync.opportunity_writes.
update_opportunity`: read-modify-write, review lock → deferred edit) or the Partner Center
referral (JSON Patch with ``If-Match``; 412 → re-read and retry), then to the deal through
:class:`~partner_sync.sync.writeback.DealWriter` with the seed-003 conflict properties, and
records the value as the new last-synced snapshot (``version`` + 1 = the deal's
``aws_version``). Every write is audited with the person as the actor (:class:`ActingRun`).

Writes only set values, so applying the same decision again after a failure is harmless. A
write the partner refuses for good (a value ACE's rules or Partner Center reject) raises
:class:`DecisionRejected` before anything else is written: the caller leaves the conflict
pending and tells the deal why; transient failures propagate so the task is retried.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from partner_sync.conflicts import normalise
from partner_sync.hooks.partner_center_errors import PartnerCenterError, PreconditionFailed
from partner_sync.mapping.aws import (
    HUBSPOT_STAGE_TO_ACE,
    deal_fields_from_opportunity,
    deal_to_opportunity,
    field_value,
)
from partner_sync.mapping.deals import (
    PARTNER_TAGS,
    parse_amount,
    partner_systems,
    strip_tags,
    with_tag,
)
from partner_sync.mapping.microsoft import (
    closed_referral_note,
    deal_fields_from_referral,
    deal_to_referral,
    is_closed,
    referral_patch,
)
from partner_sync.store import Conflict
from partner_sync.sync import aws_pair, microsoft_pair
from partner_sync.sync.deals import DEAL_PROPERTIES
from partner_sync.sync.opportunity_writes import DEFERRED, UPDATED, update_opportunity
from partner_sync.sync.reconcile import hubspot_properties
from partner_sync.sync.writeback import DealWriter, now_iso

log = logging.getLogger(__name__)

ACTION = "resolve_conflict"
PATCH_ATTEMPTS = 4
TEXT_LIMITS = {"dealname": 255, "description": 2000}
PARTNER_NAMES = {"aws": "AWS Partner Central", "microsoft": "Microsoft Partner Center"}


class InvalidValueError(ValueError):
    """A value typed by a person that the field cannot hold; the message says why."""


class DecisionRejected(Exception):
    """The partner refuses the chosen value for good; ``note`` (plain text) says why."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


class ActingRun:
    """A :class:`~partner_sync.sync.runtime.SyncRun` acting for a person: the same hooks and
    store, with the person as the actor of every audit entry it writes."""

    def __init__(self, run: Any, actor: str) -> None:
        self._run = run
        self.actor = actor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)

    def audit(self, **entry: Any) -> None:
        entry.setdefault("actor", self.actor)
        self._run.audit(**entry)


def check_value(field: str, raw: Any) -> str:
    """A typed value as the HubSpot form of ``field`` holds it; :class:`InvalidValueError` if not."""
    if raw is None or isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise InvalidValueError(f"no value was entered for {field}")
    text = str(raw).strip()
    if not text:
        raise InvalidValueError(f"no value was entered for {field}")
    if field == "amount":
        amount = parse_amount(text)
        if amount is None or not amount.is_finite() or amount < 0:
            raise InvalidValueError(f"amount must be a non-negative number, got {text!r}")
        return text
    if field == "closedate":
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError as error:
            raise InvalidValueError(f"closedate must be a date YYYY-MM-DD, got {text!r}") from error
    if field == "dealstage":
        if text not in HUBSPOT_STAGE_TO_ACE:
            raise InvalidValueError(f"dealstage must be one of {sorted(HUBSPOT_STAGE_TO_ACE)}, got {text!r}")
        return text
    if field == "dealname":
        text = strip_tags(text)
        if not text:
            raise InvalidValueError("dealname cannot be only partner tags")
    limit = TEXT_LIMITS.get(field)
    if limit and len(text) > limit:
        raise InvalidValueError(f"{field} is limited to {limit} characters, got {len(text)}")
    return text


def apply_value(run: ActingRun, conflict: Conflict, value: Any) -> None:
    """Write ``value`` of ``conflict.field`` to the partner record and the deal, then record it.

    The snapshot becomes ``value`` where the partner took it; where it could not (an
    opportunity in review, a frozen title, a Closed referral) it becomes what the partner
    holds, so the next sync sees the deal's value as a HubSpot-side change and sends it when
    the partner accepts changes again, instead of taking the partner's value back.
    """
    link = run.store.get_link(conflict.system, deal_id=conflict.deal_id)
    partner_id = link.partner_id if link else conflict.partner_id
    deal = run.hubspot.get_object("deals", conflict.deal_id, properties=list(DEAL_PROPERTIES))
    current = dict((deal or {}).get("properties") or {})
    properties = deal_properties(conflict.field, value, current.get("dealname"), conflict.system)
    merged = {"id": conflict.deal_id, "properties": {**current, **properties}}
    written = PartnerWrite()
    try:
        if partner_id and conflict.system == "aws":
            written = _write_opportunity(run, conflict, partner_id, merged, properties)
        elif partner_id:
            written = _write_referral(run, conflict, partner_id, merged)
    except aws_pair.DealRejected as rejected:
        raise DecisionRejected(html.unescape(rejected.note.replace("<br>", "\n"))) from rejected
    except (ClientError, PartnerCenterError) as error:
        system_rules = aws_pair if isinstance(error, ClientError) else microsoft_pair
        if not system_rules.is_permanent(error):
            raise
        message = getattr(error, "message", None) or str(error)
        raise DecisionRejected(f"{PARTNER_NAMES[conflict.system]} refused the value: {message}") from error
    version = None
    if link is not None:
        took = normalise(conflict.field, written.holds) == normalise(conflict.field, value)
        snapshot = {conflict.field: value if took or written.holds is None else written.holds}
        version = run.store.record_sync(conflict.system, conflict.deal_id, snapshot, written.version,
                                        bump_version=True).version
    if deal is None:
        log.warning("deal %s no longer exists: only the partner side was written", conflict.deal_id)
        return
    notes = [(
        f"Sync conflict on {conflict.field} resolved by {run.actor}: {_quoted(value)} chosen "
        f"(HubSpot had {_quoted(conflict.hubspot_value)}, {PARTNER_NAMES[conflict.system]} "
        f"{_quoted(conflict.partner_value)})."
    )[:500]]
    if written.note:
        notes.append(written.note)
    _write_deal(run, conflict, current, properties, version, notes)


@dataclass
class PartnerWrite:
    """What the partner side holds for the field after the write, and its version."""

    holds: Any = None
    version: str | None = None
    note: str | None = None


def deal_properties(field: str, value: Any, current_name: str | None, system: str) -> dict[str, str | None]:
    """``{field: HubSpot property value}``; a name keeps every partner tag the deal has."""
    if field != "dealname":
        return hubspot_properties({field: value}, PARTNER_TAGS[system])
    name = strip_tags(value)
    for tagged in sorted(partner_systems(current_name) | {system}):
        name = with_tag(name, PARTNER_TAGS[tagged])
    return {"dealname": name}


def _write_opportunity(
    run: ActingRun, conflict: Conflict, opportunity_id: str, merged: dict[str, Any], properties: dict[str, Any]
) -> PartnerWrite:
    full = deal_to_opportunity(merged, None, None)
    desired: dict[str, Any] = {}
    path = aws_pair.FIELD_PATHS[conflict.field]  # Stage brings ClosedLostReason along (mapping rules)
    _put(desired, path, field_value(full, path))

    def change(current: dict[str, Any]) -> dict[str, Any]:
        if conflict.field == "amount" and not field_value(current, "Project.ExpectedCustomerSpend.CurrencyCode"):
            _put(desired, "Project.ExpectedCustomerSpend.CurrencyCode",
                 field_value(full, "Project.ExpectedCustomerSpend.CurrencyCode"))
        aws_pair.check_update(run, current, desired, opportunity_id)  # model and ACE rules, before any call
        return desired

    outcome = update_opportunity(
        run, opportunity_id, change, deal_id=conflict.deal_id, action=ACTION, defer_fields=properties
    )
    log.info("opportunity %s: %s (%s)", opportunity_id, outcome.status, conflict.field)
    opportunity = outcome.opportunity
    if outcome.status == UPDATED:
        opportunity = run.partner_central.get_opportunity(Identifier=opportunity_id)
    version = aws_pair.version_of(opportunity) if outcome.status != DEFERRED else None
    return PartnerWrite(deal_fields_from_opportunity(opportunity).get(conflict.field), version)


def _write_referral(run: ActingRun, conflict: Conflict, referral_id: str, merged: dict[str, Any]) -> PartnerWrite:
    full = deal_to_referral(merged, None, None)
    desired: dict[str, Any] = {}
    for pointer in microsoft_pair.FIELD_POINTERS[conflict.field]:
        _put(desired, pointer.strip("/").replace("/", "."), microsoft_pair.pointer_get(full, pointer))
    for attempt in range(1, PATCH_ATTEMPTS + 1):
        current = run.partner_center.get_referral(referral_id)
        holds = deal_fields_from_referral(current).get(conflict.field)
        if is_closed(current):
            run.audit(entity_type="referral", entity_id=referral_id, deal_id=conflict.deal_id, system="microsoft",
                      action=ACTION, success=False, error="the referral is Closed: Partner Center refuses updates")
            return PartnerWrite(holds, current.get("eTag"), closed_referral_note(current, [conflict.field]))
        operations = referral_patch(current, desired)
        if not operations:
            return PartnerWrite(holds, current.get("eTag"))
        try:
            written = run.partner_center.patch_referral(referral_id, operations, etag=current.get("eTag"))
        except PreconditionFailed:
            if attempt == PATCH_ATTEMPTS:
                raise
            log.info("referral %s changed meanwhile (attempt %d); re-reading", referral_id, attempt)
            continue
        run.audit(
            entity_type="referral", entity_id=referral_id, deal_id=conflict.deal_id, system="microsoft",
            action=ACTION,
            changes={op["path"]: {"before": microsoft_pair.pointer_get(current, op["path"]), "after": op["value"]}
                     for op in operations},
        )
        return PartnerWrite(deal_fields_from_referral(written).get(conflict.field), written.get("eTag"))
    raise AssertionError("unreachable")


def _write_deal(
    run: ActingRun, conflict: Conflict, current: dict[str, Any], properties: dict[str, Any],
    version: int | None, notes: list[str],
) -> None:
    wanted = dict(properties)
    if conflict.system == "aws":
        still_pending = [c for c in run.store.list_conflicts(status="pending", deal_id=conflict.deal_id)
                         if c["system"] == "aws" and c["id"] != conflict.id]
        wanted["aws_conflict_status"] = "Pending" if still_pending else "Resolved"
        wanted["aws_last_sync_by"] = run.actor
        wanted["aws_last_conflict_date"] = now_iso()
        if version is not None:
            wanted["aws_version"] = str(version)
    writer = DealWriter(run, conflict.system)
    writer.update(conflict.deal_id, wanted, current, action=ACTION)
    for note in notes:
        writer.note(conflict.deal_id, html.escape(note).replace("\n", "<br>"))
    writer.flush()
    if writer.failed:
        raise RuntimeError(f"deal {conflict.deal_id} was not updated: {writer.failed[conflict.deal_id]}")


def _put(document: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted path, creating parents (``ExpectedCustomerSpend`` is a one-entry list)."""
    if value is None:
        return
    parts = dotted.split(".")
    node = document
    for part in parts[:-1]:
        if part == "ExpectedCustomerSpend":
            node = node.setdefault(part, [{}])[0]
        else:
            node = node.setdefault(part, {})
    node[parts[-1]] = value


def _quoted(value: Any) -> str:
    return "(empty)" if value in (None, "") else f'"{value}"'


