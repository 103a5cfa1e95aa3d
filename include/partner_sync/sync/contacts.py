"""Seed 003 feature 1: contact and company changes reach every linked opportunity and referral.

``contact_company_sync`` runs in three tasks:

1. :func:`find_affected_deals`: which contacts and companies changed — the ids of the conf
   (``contact_ids``/``company_ids``), the objects of webhook ``events`` (a merge counts under
   its surviving id; an association change between a contact/company and a deal names the deal
   directly), or, when the conf names nothing, a HubSpot search on the last-modified date over
   the data interval (the hourly reconciliation: it catches what no webhook announced, and a
   backfill re-syncs its window). Contacts are searched on ``lastmodifieddate`` (HubSpot's
   documented property for contacts), companies on ``hs_lastmodifieddate``. Then two batch
   association reads map them to deals, and the store keeps the deals linked to a partner.
   ``full_sync`` takes every linked deal. Only ids travel through XCom.
2. :func:`update_opportunities`: for each AWS-linked deal, the deal's company and contacts
   (one batched read for all) are applied to its opportunity through
   :func:`~partner_sync.sync.opportunity_writes.update_opportunity`: full replace with every
   other field preserved, ``LastModifiedDate`` retry, review-lock deferral (the deferred edit
   is ``{"contact_company": <when>}``: replay the deal's company and contacts), audit. Phones
   become E.164, websites are normalised, names cut to ACE's limits and industries mapped by
   :mod:`partner_sync.mapping.aws_account`. A deal whose opportunity changed gets
   ``aws_contact_company_last_sync``, ``aws_version`` and ``aws_last_sync_by``.
3. :func:`update_referrals`: for each Microsoft-linked deal, the referral's ``customerProfile``
   (name, address, team) is patched where it differs, with ``If-Match`` (412 → re-read and
   retry); a Closed referral is not touched and the deal gets a note saying why.

Per-record failures (validation, a record deleted meanwhile) land on the deal and in the
audit without stopping the rest; transient ones fail the task after the others are written,
so Airflow retries it (the writes already made are then no-ops).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from partner_sync.hooks.partner_center_errors import PreconditionFailed, ReferralNotFound
from partner_sync.hooks.partner_central import error_code, error_fields
from partner_sync.mapping.aws import apply_account_and_contacts
from partner_sync.mapping.microsoft import (
    closed_referral_note,
    deal_to_referral,
    is_closed,
    pointer_get,
    referral_patch,
)
from partner_sync.sync.deals import read_deals
from partner_sync.sync.opportunity_writes import UPDATED, DEFERRED, update_opportunity
from partner_sync.sync.runtime import ConfError, SyncWindow
from partner_sync.sync.writeback import DealWriter, now_iso

if TYPE_CHECKING:
    from partner_sync.sync.deals import DealRecord
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)

#: the last-modified property HubSpot search filters on, per object type
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}
HUBSPOT_ID = re.compile(r"[0-9]{1,20}")
#: ACE errors that concern one record and will not go away on retry
PERMANENT_AWS_ERRORS = frozenset({"ValidationException", "ResourceNotFoundException", "AccessDeniedException"})
PATCH_ATTEMPTS = 4
SYNCED_BY = "hubspot"


# --------------------------------------------------------------------------- 1. affected deals


def find_affected_deals(run: SyncRun, params: Mapping[str, Any], window: SyncWindow) -> dict[str, Any]:
    """``{"deal_ids": [...]}``: the partner-linked deals whose contacts or company changed."""
    contact_ids, company_ids, deal_ids = changed_objects(params)
    explicit = bool(contact_ids or company_ids or deal_ids or params.get("events"))
    if not explicit:
        if window.full_sync:
            linked = sorted({link.deal_id for system in ("aws", "microsoft") for link in run.store.all_links(system)})
            log.info("Full sync: %d linked deal(s)", len(linked))
            return {"deal_ids": linked}
        contact_ids = modified_in_window(run, "contacts", window)
        company_ids = modified_in_window(run, "companies", window)
        log.info("Window %s – %s: %d contact(s) and %d company(ies) changed",
                 window.start, window.end, len(contact_ids), len(company_ids))
    candidates = set(deal_ids)
    for object_type, ids in (("contacts", contact_ids), ("companies", company_ids)):
        if ids:
            for linked_deals in run.hubspot.batch_read_associations(object_type, "deals", sorted(ids)).values():
                candidates.update(linked_deals)
    linked = {
        deal_id
        for system in ("aws", "microsoft")
        for deal_id in run.store.links_for_deals(system, sorted(candidates))
    } if candidates else set()
    log.info("%d contact(s), %d company(ies) → %d deal(s), %d linked to a partner record",
             len(contact_ids), len(company_ids), len(candidates), len(linked))
    return {"deal_ids": sorted(linked, key=int)}


def changed_objects(params: Mapping[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(contact ids, company ids, deal ids) named by the conf; :class:`ConfError` names the
    field at fault."""
    contact_ids = set(_id_list(params.get("contact_ids"), "contact_ids"))
    company_ids = set(_id_list(params.get("company_ids"), "company_ids"))
    deal_ids: set[str] = set()
    events = params.get("events") or []
    if not isinstance(events, list):
        raise ConfError("events must be a list of HubSpot webhook events")
    for index, event in enumerate(events):
        where = f"events[{index}]"
        if not isinstance(event, Mapping):
            raise ConfError(f"{where} must be an object (a HubSpot webhook event)")
        kind = event.get("subscriptionType") or event.get("eventType")
        if not isinstance(kind, str) or "." not in kind:
            raise ConfError(f"{where}.subscriptionType must be 'object.action', got {kind!r}")
        object_type, action = kind.split(".", 1)
        if object_type not in ("contact", "company"):
            log.info("%s: %s is not a contact or company event; ignored", where, kind)
            continue
        if action in ("deletion", "privacyDeletion"):
            continue
        object_id = _event_id(event, "objectId", where)
        if action == "merge":
            for key in ("newObjectId", "primaryObjectId"):
                if event.get(key) is not None:
                    object_id = _event_id(event, key, where)
                    break
        (contact_ids if object_type == "contact" else company_ids).add(object_id)
        if action == "associationChange" and "DEAL" in str(event.get("associationType", "")).upper():
            # the contact/company was linked to or unlinked from a deal: that deal changed too
            for key in ("fromObjectId", "toObjectId"):
                if event.get(key) is not None and _event_id(event, key, where) != object_id:
                    deal_ids.add(_event_id(event, key, where))
    return contact_ids, company_ids, deal_ids


def _id_list(value: Any, field: str) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ConfError(f"{field} must be a list of HubSpot ids, got {type(value).__name__}")
    ids = []
    for index, item in enumerate(value):
        text = str(item) if isinstance(item, (str, int)) and not isinstance(item, bool) else ""
        if not HUBSPOT_ID.fullmatch(text):
            raise ConfError(f"{field}[{index}] must be a HubSpot id (digits), got {item!r}")
        ids.append(text)
    return ids


def _event_id(event: Mapping[str, Any], key: str, where: str) -> str:
    value = event.get(key)
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not HUBSPOT_ID.fullmatch(text):
        raise ConfError(f"{where}.{key} must be a HubSpot id, got {value!r}")
    return text


def modified_in_window(run: SyncRun, object_type: str, window: SyncWindow) -> set[str]:
    """Ids of the ``object_type`` records modified in ``[window.start, window.end)``."""
    prop = MODIFIED_PROPERTY[object_type]
    filters = []
    if window.start is not None:
        filters.append({"propertyName": prop, "operator": "GTE", "value": str(_epoch_ms(window.start))})
    if window.end is not None:
        filters.append({"propertyName": prop, "operator": "LT", "value": str(_epoch_ms(window.end))})
    groups = [{"filters": filters}] if filters else []
    return {str(record["id"]) for record in run.hubspot.search(object_type, groups, [prop])}


def _epoch_ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


# --------------------------------------------------------------------------- 2. opportunities


def update_opportunities(run: SyncRun, affected: Mapping[str, Any]) -> dict[str, int]:
    """Apply each AWS-linked deal's company and contacts to its opportunity."""
    links = run.store.links_for_deals("aws", affected.get("deal_ids") or [])
    if not links:
        return {"linked": 0}
    deals = read_deals(run.hubspot, sorted(links))
    writer = DealWriter(run, "aws")
    counts = {"linked": len(links), "updated": 0, "unchanged": 0, "deferred": 0, "failed": 0, "missing": 0}
    transient: Exception | None = None
    for deal_id, link in sorted(links.items()):
        record = deals.get(deal_id)
        if record is None:
            counts["missing"] += 1
            log.info("deal %s no longer exists in HubSpot; opportunity %s left alone", deal_id, link.partner_id)
            continue
        try:
            outcome = update_opportunity(
                run, link.partner_id, _account_and_contacts(record), deal_id=deal_id,
                action="propagate_contact_company", defer_fields={"contact_company": now_iso()},
            )
        except ClientError as error:
            if error_code(error) not in PERMANENT_AWS_ERRORS:
                transient = transient or error
                continue
            counts["failed"] += 1
            writer.fail(deal_id, _aws_failure_note(link.partner_id, error), record.properties, link.partner_id)
            continue
        except Exception as error:  # noqa: BLE001 - the rest of the batch still goes; raised below
            transient = transient or error
            continue
        if outcome.status == UPDATED:
            counts["updated"] += 1
            synced = run.store.record_sync(
                "aws", deal_id, None, _stamp(outcome.opportunity.get("LastModifiedDate")), bump_version=True,
            )
            writer.update(deal_id, {
                "aws_contact_company_last_sync": now_iso(),
                "aws_version": synced.version,
                "aws_last_sync_by": SYNCED_BY,
            }, record.properties, action="contact_company_synced")
        elif outcome.status == DEFERRED:
            counts["deferred"] += 1
        else:
            counts["unchanged"] += 1
    writer.flush()
    log.info("Contact/company propagation to opportunities: %s", counts)
    if transient is not None:
        raise transient
    return counts


def _account_and_contacts(record: DealRecord):
    def change(current: dict[str, Any]) -> dict[str, Any]:
        return apply_account_and_contacts(current, record.company, record.contacts or None)

    return change


def _stamp(value: Any) -> str | None:
    """A LastModifiedDate (datetime from boto3, or text) as an ISO string for the store."""
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _aws_failure_note(opportunity_id: str, error: ClientError) -> str:
    problems = error_fields(error)
    lines = [f"AWS Partner Central refused the contact/company update of opportunity {opportunity_id} "
             f"({error_code(error)}): {error.response.get('Error', {}).get('Message', '')}"]
    lines += [f"- {problem.field}: {problem.message}" for problem in problems]
    return "\n".join(lines)


# --------------------------------------------------------------------------- 3. referrals


def update_referrals(run: SyncRun, affected: Mapping[str, Any]) -> dict[str, int]:
    """Patch each Microsoft-linked deal's referral ``customerProfile`` where it differs."""
    links = run.store.links_for_deals("microsoft", affected.get("deal_ids") or [])
    if not links:
        return {"linked": 0}
    deals = read_deals(run.hubspot, sorted(links))
    writer = DealWriter(run, "microsoft")
    counts = {"linked": len(links), "updated": 0, "unchanged": 0, "closed": 0, "failed": 0, "missing": 0}
    try:
        for deal_id, link in sorted(links.items()):
            _sync_referral(run, writer, deal_id, link.partner_id, deals.get(deal_id), counts)
    finally:
        writer.flush()  # notes and failures of the referrals done so far, even if one raised
    log.info("Contact/company propagation to referrals: %s", counts)
    return counts


def _sync_referral(run: SyncRun, writer: DealWriter, deal_id: str, referral_id: str,
                   record: DealRecord | None, counts: dict[str, int]) -> None:
    if record is None:
        counts["missing"] += 1
        return
    profile = deal_to_referral(record.as_object(), record.company, record.contacts).get("customerProfile", {})
    try:
        counts[_patch_referral(run, writer, deal_id, referral_id, {"customerProfile": profile})] += 1
    except ReferralNotFound:
        counts["failed"] += 1
        writer.fail(deal_id, f"Microsoft Partner Center: referral {referral_id} no longer exists; "
                             "its customer details could not be updated.", record.properties, referral_id)


def _patch_referral(run: SyncRun, writer: DealWriter, deal_id: str, referral_id: str,
                    desired: dict[str, Any]) -> str:
    """``updated``, ``unchanged`` or ``closed``; 412 → re-read and re-apply, a few times."""
    for attempt in range(1, PATCH_ATTEMPTS + 1):
        referral = run.partner_center.get_referral(referral_id)
        operations = referral_patch(referral, desired)
        if not operations:
            return "unchanged"
        fields = [operation["path"].strip("/").replace("/", ".") for operation in operations]
        if is_closed(referral):
            writer.note(deal_id, closed_referral_note(referral, fields))
            return "closed"
        try:
            run.partner_center.patch_referral(referral_id, operations, etag=referral.get("eTag"))
        except PreconditionFailed:
            if attempt == PATCH_ATTEMPTS:
                raise
            log.info("referral %s changed meanwhile (attempt %d); re-reading", referral_id, attempt)
            continue
        run.audit(
            entity_type="referral", entity_id=referral_id, deal_id=deal_id, system="microsoft",
            action="propagate_contact_company",
            changes={field: {"before": pointer_get(referral, operation["path"]), "after": operation["value"]}
                     for field, operation in zip(fields, operations)},
        )
        return "updated"
    raise AssertionError("unreachable")


