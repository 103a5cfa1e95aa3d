"""Planning a ``hubspot_deal_sync`` run: which deals go to which partner system.

The run's conf (``deal_ids``, or the HubSpot webhook ``events`` the receiver forwards, and the
form's manual ``assign``) is validated first — a bad conf fails the run at once with a
:class:`~partner_sync.sync.runtime.ConfError` naming the field, never retried — then the deals'
names are read in batches of 100 and split by tag: ``#Microsoft`` deals to the referral push,
``#AWS`` deals to the opportunity push (a deal tagged for both goes to both). Only ids travel
on (XCom carries ids, not payloads).

Events are routed with the webhook receiver's own rules (``partner_sync.webhooks.route_event``),
so a run triggered by hand with events behaves like one the receiver triggered. A deal-owner
change is a ``deal.propertyChange`` of ``hubspot_owner_id``; ``owner_changed`` lists the
``#AWS`` deals that had one (AssignOpportunity exists only on the AWS side).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from partner_sync.mapping.deals import partner_systems
from partner_sync.sync.runtime import ConfError, SyncRun
from partner_sync.webhooks import DEAL_SYNC_DAG, event_type, route_event

log = logging.getLogger(__name__)

#: the same cap as the DAG's ``deal_ids`` Param
MAX_DEAL_IDS = 10_000
MAX_EVENTS = 1_000
OWNER_PROPERTY = "hubspot_owner_id"
_DEAL_ID = re.compile(r"^[0-9]{1,20}$")


def plan_push(run: SyncRun, params: Mapping[str, Any]) -> dict[str, Any]:
    """``{"microsoft": [ids], "aws": [ids], "owner_changed": [ids], "assign": dict | None}``."""
    requested = deal_ids_from_conf(params)
    events = events_from_conf(params)
    event_ids, owner_changes = deal_ids_from_events(events)
    assign = assignment_from_conf(params)
    if not requested and not events and assign is None:
        raise ConfError("conf: give deal_ids, events or assign (all are empty)")

    wanted = list(dict.fromkeys([*requested, *event_ids]))
    names = read_deal_names(run, wanted)
    missing = [deal_id for deal_id in wanted if deal_id not in names]
    if missing:
        log.warning("%s deal(s) not found in HubSpot (deleted or archived): %s", len(missing), missing[:20])
    systems = {deal_id: partner_systems(name) for deal_id, name in names.items()}
    plan = {
        "microsoft": [deal_id for deal_id in wanted if "microsoft" in systems.get(deal_id, ())],
        "aws": [deal_id for deal_id in wanted if "aws" in systems.get(deal_id, ())],
        "owner_changed": [deal_id for deal_id in owner_changes if "aws" in systems.get(deal_id, ())],
        "assign": assign,
    }
    untagged = [deal_id for deal_id in names if not systems[deal_id]]
    log.info(
        "Push plan: %s deal(s) asked, %s #Microsoft, %s #AWS, %s owner change(s), %s untagged, %s missing%s",
        len(wanted), len(plan["microsoft"]), len(plan["aws"]), len(plan["owner_changed"]),
        len(untagged), len(missing), ", manual assignment" if assign else "",
    )
    return plan


def deal_ids_from_conf(params: Mapping[str, Any]) -> list[str]:
    """``conf.deal_ids`` as strings of digits, de-duplicated in order."""
    raw = params.get("deal_ids")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfError(f"conf.deal_ids must be a list of HubSpot deal ids, got {type(raw).__name__}")
    if len(raw) > MAX_DEAL_IDS:
        raise ConfError(f"conf.deal_ids holds {len(raw)} ids; at most {MAX_DEAL_IDS} per run")
    ids = []
    for index, value in enumerate(raw):
        text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if text is None or not _DEAL_ID.match(text):
            raise ConfError(f"conf.deal_ids[{index}] is not a HubSpot deal id (digits): {value!r}")
        ids.append(text)
    return list(dict.fromkeys(ids))


def events_from_conf(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``conf.events``: a list of HubSpot webhook events, each with a type and an ``objectId``."""
    raw = params.get("events")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfError(f"conf.events must be a list of HubSpot webhook events, got {type(raw).__name__}")
    if len(raw) > MAX_EVENTS:
        raise ConfError(f"conf.events holds {len(raw)} events; at most {MAX_EVENTS} per run")
    for index, event in enumerate(raw):
        if not isinstance(event, dict):
            raise ConfError(f"conf.events[{index}] must be an object")
        kind = event_type(event)
        if not isinstance(kind, str) or "." not in kind:
            raise ConfError(f"conf.events[{index}].subscriptionType is missing or not of the form object.action")
        object_id = event.get("objectId")
        if isinstance(object_id, bool) or not _DEAL_ID.match(str(object_id if object_id is not None else "")):
            raise ConfError(f"conf.events[{index}].objectId is not a HubSpot object id: {object_id!r}")
        if kind.endswith(".propertyChange") and not isinstance(event.get("propertyName"), str):
            raise ConfError(f"conf.events[{index}].propertyName is required for a propertyChange event")
    return raw


def deal_ids_from_events(events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(deal ids to push, deal ids whose owner changed), each de-duplicated in order.

    Only events the receiver would route to this DAG count (deal creations, synced property
    changes, association changes, restores); deletions and echoes of our own writes do not.
    """
    deal_ids: list[str] = []
    owner_changes: list[str] = []
    for event in events:
        decision = route_event(event)
        if decision.dag_id != DEAL_SYNC_DAG:
            log.info("Event %s on %s ignored: %s", event.get("eventId"), event.get("objectId"), decision.reason)
            continue
        deal_id = str(event["objectId"])
        deal_ids.append(deal_id)
        if event_type(event) == "deal.propertyChange" and event.get("propertyName") == OWNER_PROPERTY:
            owner_changes.append(deal_id)
    return list(dict.fromkeys(deal_ids)), list(dict.fromkeys(owner_changes))


def assignment_from_conf(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The form's manual assignment, checked by the assignment step's own rules (so a bad form
    fails the plan, before anything is pushed); ``None`` when not asked for."""
    from partner_sync.sync.assignment import manual_assignment

    return manual_assignment(params.get("assign"))


def read_deal_names(run: SyncRun, deal_ids: list[str]) -> dict[str, str]:
    """``{deal id: dealname}`` of the deals that exist, one batch read per 100."""
    if not deal_ids:
        return {}
    deals = run.hubspot.batch_read("deals", deal_ids, ["dealname"])
    return {str(deal["id"]): (deal.get("properties") or {}).get("dealname") or "" for deal in deals}
