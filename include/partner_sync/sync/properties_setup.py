"""``hubspot_properties_setup``: the ``partner_sync`` group and every custom deal property.

Idempotent: the existing deal properties are read once, and only a property that is missing
(created) or differs in label, description, group, field type or options (patched) costs a
call; a re-run against an account that is already right makes two calls in all. Definitions
come from :mod:`partner_sync.mapping.properties` (seed 000's five Microsoft properties, the AWS
ones, and seed 003's).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from partner_sync.mapping.properties import DEAL_PROPERTIES, PROPERTY_GROUP

if TYPE_CHECKING:
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)

OBJECT_TYPE = "deals"
_COMPARED = ("label", "description", "groupName", "fieldType", "type")


def create_properties(run: SyncRun) -> dict[str, Any]:
    """Ensure the group and every property; returns ``{"group": outcome, "created": n, …}``."""
    group = run.hubspot.ensure_property_group(OBJECT_TYPE, PROPERTY_GROUP)
    existing = {prop["name"]: prop for prop in run.hubspot.get_properties(OBJECT_TYPE)}
    outcomes: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    for definition in DEAL_PROPERTIES:
        current = existing.get(definition["name"])
        if current is not None and matches(definition, current):
            outcome = "unchanged"
        else:
            outcome = run.hubspot.ensure_property(OBJECT_TYPE, definition)
        outcomes.setdefault(outcome, []).append(definition["name"])
        if outcome != "unchanged":
            log.info("Deal property %s %s", definition["name"], outcome)
    if not_unique := [d["name"] for d in DEAL_PROPERTIES if d.get("hasUniqueValue")
                          and d["name"] in existing and not existing[d["name"]].get("hasUniqueValue")]:
        log.warning("Properties %s exist without unique values; HubSpot cannot change that: "
                    "recreate them to get idempotent upserts", not_unique)
    summary = {"group": group, **{name: len(names) for name, names in outcomes.items()},
               "changed": outcomes["created"] + outcomes["updated"]}
    log.info("HubSpot deal properties: group %s, %s created, %s updated, %s unchanged",
             group, summary["created"], summary["updated"], summary["unchanged"])
    return summary


def matches(definition: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether an existing property already is as defined (options compared by value and label)."""
    if any(name in definition and current.get(name) != definition[name] for name in _COMPARED):
        return False
    if "options" in definition:
        def options(values: list[dict[str, Any]]) -> list[tuple[str, str]]:
            return [(str(o.get("value")), str(o.get("label", o.get("value")))) for o in values or []]

        return options(definition["options"]) == options(current.get("options", []))
    return True
