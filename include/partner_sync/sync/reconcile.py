"""Two-way reconciliation of one linked pair (deal ↔ opportunity or referral), field by field.

Every flow that touches a linked pair — a push after a HubSpot edit, a poll after a partner
edit, a contact change, a human's conflict decision — goes through :func:`decide`, so the
answer does not depend on which DAG happens to run first:

1. the store's snapshot is the *base* (what both sides held after the last sync);
2. :func:`partner_sync.conflicts.detect` classifies each synced field;
3. one-sided changes propagate; a change on both sides is resolved by the field's strategy;
   MANUAL conflicts are stored as pending and the field is left alone on both sides;
4. the new snapshot is what both sides hold once the decision is applied.

Field names and comparable values are the HubSpot deal property names and values
(``mapping.*.deal_fields_from_*``), so one strategy configuration covers both partners.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from partner_sync.conflicts import (
    BOTH_SAME,
    CONFLICT,
    HUBSPOT,
    PARTNER,
    FieldChange,
    Resolution,
    StrategyConfig,
    detect,
    resolve,
)
from partner_sync.mapping.deals import hubspot_date, with_tag

if TYPE_CHECKING:
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)


@dataclass
class PairDecision:
    """What to write where for one pair, and the snapshot to record afterwards."""

    to_partner: dict[str, Any] = field(default_factory=dict)
    to_hubspot: dict[str, Any] = field(default_factory=dict)
    pending: list[FieldChange] = field(default_factory=list)
    resolved_conflicts: list[Resolution] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.to_partner or self.to_hubspot)

    @property
    def snapshot_changed(self) -> bool:
        return bool(self.to_partner or self.to_hubspot or self.resolved_conflicts)


def decide(
    base: dict[str, Any] | None,
    hubspot_values: dict[str, Any],
    partner_values: dict[str, Any],
    strategies: StrategyConfig,
    hubspot_modified_at: Any = None,
    partner_modified_at: Any = None,
    fields: tuple[str, ...] | None = None,
) -> PairDecision:
    """Decide one pair. With no base (never synced), the partner record is taken as the base:
    HubSpot's differing values are pushed (the deal is where the sales team works)."""
    if base is None:
        base = dict(partner_values)
    decision = PairDecision(snapshot=dict(base))
    for change in detect(base, hubspot_values, partner_values, fields):
        resolution = resolve(
            change, strategies.strategy_for(change.field), hubspot_modified_at, partner_modified_at
        )
        if resolution.pending:
            decision.pending.append(change)
            continue
        if change.outcome == CONFLICT:
            decision.resolved_conflicts.append(resolution)
        if resolution.push_to_partner:
            decision.to_partner[change.field] = resolution.value
        elif resolution.pull_to_hubspot:
            decision.to_hubspot[change.field] = resolution.value
        if resolution.winner in (HUBSPOT, PARTNER) or change.outcome == BOTH_SAME:
            decision.snapshot[change.field] = resolution.value
        elif change.field not in decision.snapshot:
            decision.snapshot[change.field] = change.hubspot
    return decision


def hubspot_properties(values: dict[str, Any], tag: str) -> dict[str, str | None]:
    """Comparable field values → HubSpot deal property values (tag re-added to the name)."""
    properties: dict[str, str | None] = {}
    for name, value in values.items():
        if name == "dealname":
            properties[name] = with_tag(value, tag)
        elif name == "closedate":
            properties[name] = hubspot_date(value)
        else:
            properties[name] = None if value is None else str(value)
    return properties


def merged_deal(deal: dict[str, Any], decision: PairDecision, partner_values: dict[str, Any]) -> dict[str, Any]:
    """The deal as it should be sent to the partner: HubSpot's values, except fields the
    partner won or that wait for a human, which keep the partner's current value."""
    properties = dict(deal.get("properties") or {})
    keep_partner = set(decision.to_hubspot) | {change.field for change in decision.pending}
    for name in keep_partner:
        if name in partner_values:
            properties[name] = partner_values[name]
    return {"id": deal.get("id"), "properties": properties}


def record_pending_conflicts(
    run: SyncRun,
    system: str,
    deal_id: str,
    partner_id: str,
    decision: PairDecision,
    hubspot_modified_at: Any = None,
    partner_modified_at: Any = None,
) -> int:
    """Store each MANUAL conflict as pending (idempotent per field) and audit it."""
    for change in decision.pending:
        run.store.add_conflict(
            system=system, deal_id=deal_id, partner_id=partner_id, field=change.field,
            base_value=change.base, hubspot_value=change.hubspot, partner_value=change.partner,
            hubspot_changed_at=_moment(hubspot_modified_at), partner_changed_at=_moment(partner_modified_at),
            hubspot_changed_by="hubspot", partner_changed_by=system, strategy="MANUAL",
        )
        run.audit(
            entity_type="conflict", entity_id=partner_id, deal_id=deal_id, system=system,
            action="conflict_pending",
            changes={change.field: {"before": change.base, "after": {"hubspot": change.hubspot, "partner": change.partner}}},
        )
    return len(decision.pending)


def _moment(value: Any) -> Any:
    from partner_sync.conflicts import to_utc

    return to_utc(value)
