"""HubSpot deals ↔ Microsoft Partner Center referrals: seed 000's field and status tables.

Both directions, as pure functions. The create body follows the Referrals API
(api-facts §2.2); updates are JSON Patch (``replace``/``add`` only) of the fields that differ.

Documented choices:

- ``type`` is ``Independent`` (seed limitation 4: no co-sell).
- ``qualification`` is ``SalesQualified`` for stages past ``appointmentscheduled`` (the partner
  has qualified the deal), else ``None``.
- ``consent``: every flag ``False``. Sharing customer data with other partners or Microsoft
  sellers needs the customer's explicit agreement, which HubSpot does not record; a partner who
  has it sets the consent in Partner Center and updates never touch it.
- The seed writes ``details.closeDate``; the real API field is ``details.closingDateTime``
  (ISO 8601, midnight UTC), which is what is sent and read (``closeDate`` is still read).
- Unknown HubSpot stage → ``New``/``Pending``; unknown status/substatus → the stage for the
  status alone (``STATUS_DEFAULT_STAGE``), else ``appointmentscheduled``; always with a warning.
- A referral never moves backwards (Closed → Active, Active → New): Partner Center refuses it.
- Referrals that Microsoft sent us (``direction == "Incoming"``) get status changes only (seed
  limitation 6); referrals we created get every synced field.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from partner_sync.mapping.deals import (
    MICROSOFT_TAG,
    amount_float,
    amount_string,
    clean_text,
    hubspot_date,
    id_of,
    iso_date,
    properties_of,
    strip_tags,
    truncate,
    with_tag,
)
from partner_sync.mapping.geography import country_code

log = logging.getLogger(__name__)

# --- status tables (seed 000, "Status Mappings") ----------------------------------------------

#: HubSpot dealstage → (Microsoft status, Microsoft substatus)
HUBSPOT_STAGE_TO_MICROSOFT: dict[str, tuple[str, str]] = {
    "appointmentscheduled": ("New", "Pending"),
    "qualifiedtobuy": ("Active", "Accepted"),
    "presentationscheduled": ("Active", "Engaged"),
    "decisionmakerboughtin": ("Active", "Engaged"),
    "contractsent": ("Active", "Engaged"),
    "closedwon": ("Closed", "Won"),
    "closedlost": ("Closed", "Lost"),
}

#: (Microsoft status, Microsoft substatus) → HubSpot dealstage
MICROSOFT_TO_HUBSPOT_STAGE: dict[tuple[str, str], str] = {
    ("New", "Pending"): "appointmentscheduled",
    ("New", "Received"): "appointmentscheduled",
    ("Active", "Accepted"): "qualifiedtobuy",
    ("Active", "Engaged"): "presentationscheduled",
    ("Closed", "Won"): "closedwon",
    ("Closed", "Lost"): "closedlost",
    ("Closed", "Declined"): "closedlost",
    ("Closed", "Expired"): "closedlost",
}

DEFAULT_MICROSOFT_STATUS: tuple[str, str] = ("New", "Pending")
DEFAULT_HUBSPOT_STAGE = "appointmentscheduled"
#: stage for a known status whose substatus the table does not list
STATUS_DEFAULT_STAGE: dict[str, str] = {
    "New": "appointmentscheduled",
    "Active": "qualifiedtobuy",
    "Closed": "closedlost",
}
#: statuses only move forward
STATUS_ORDER: dict[str, int] = {"New": 0, "Active": 1, "Closed": 2}

REFERRAL_TYPE = "Independent"
DEFAULT_CURRENCY = "USD"
NOTES_LIMIT = 500
TEAM_LIMIT = 5
DEFAULT_CONSENT: dict[str, bool] = {
    "consentToToShareInfoWithOthers": False,  # (sic) the API's spelling
    "consentToContact": False,
    "consentToShareReferralWithMicrosoftSellers": False,
}

#: HubSpot deal properties synced both ways (three-way conflict detection)
SYNCED_DEAL_FIELDS: tuple[str, ...] = ("dealname", "description", "dealstage", "amount", "closedate")

#: JSON pointers of the referral fields a patch may change (status first, as Microsoft applies
#: the transition before the fields)
REFERRAL_PATCH_FIELDS: tuple[str, ...] = (
    "/status",
    "/substatus",
    "/name",
    "/externalReferenceId",
    "/customerProfile/name",
    "/customerProfile/address",
    "/customerProfile/team",
    "/details/notes",
    "/details/dealValue",
    "/details/currency",
    "/details/closingDateTime",
)
#: what may change on a referral Microsoft sent us
INCOMING_PATCH_FIELDS: frozenset[str] = frozenset({"/status", "/substatus"})


def microsoft_status(dealstage: str | None) -> tuple[str, str]:
    """(status, substatus) for a HubSpot stage; unknown → ``New``/``Pending`` with a warning."""
    if dealstage in HUBSPOT_STAGE_TO_MICROSOFT:
        return HUBSPOT_STAGE_TO_MICROSOFT[dealstage]
    log.warning("Unknown HubSpot deal stage %r: referral status set to %s/%s",
                dealstage, *DEFAULT_MICROSOFT_STATUS)
    return DEFAULT_MICROSOFT_STATUS


def hubspot_stage(status: str | None, substatus: str | None) -> str:
    """HubSpot stage for a referral's status/substatus (seed table, then documented defaults)."""
    key = (status or "", substatus or "")
    if key in MICROSOFT_TO_HUBSPOT_STAGE:
        return MICROSOFT_TO_HUBSPOT_STAGE[key]
    stage = STATUS_DEFAULT_STAGE.get(status or "", DEFAULT_HUBSPOT_STAGE)
    log.warning("Unknown referral status %r/%r: deal stage set to %s", status, substatus, stage)
    return stage


def qualification(dealstage: str | None) -> str:
    """``SalesQualified`` past the first stage, else ``None`` (the API's string)."""
    if dealstage in HUBSPOT_STAGE_TO_MICROSOFT and dealstage != DEFAULT_HUBSPOT_STAGE:
        return "SalesQualified"
    return "None"


# --- HubSpot → Microsoft ----------------------------------------------------------------------


def address_from_company(company: dict[str, Any] | None) -> dict[str, str]:
    """``customerProfile.address`` from a HubSpot company (country as ISO alpha-2)."""
    props = properties_of(company)
    address = {
        "addressLine1": clean_text(props.get("address")),
        "addressLine2": clean_text(props.get("address2")),
        "city": clean_text(props.get("city")),
        "state": clean_text(props.get("state")),
        "postalCode": clean_text(props.get("zip")),
        "country": country_code(props.get("country")),
    }
    return {key: value for key, value in address.items() if value}


def team_member(contact: dict[str, Any]) -> dict[str, str] | None:
    """A referral team Member from a HubSpot contact (``None`` without name or e-mail)."""
    props = properties_of(contact)
    member = {
        "firstName": clean_text(props.get("firstname")),
        "lastName": clean_text(props.get("lastname")),
        "email": (clean_text(props.get("email")) or "").lower() or None,
        "phoneNumber": clean_text(props.get("phone") or props.get("mobilephone")),
    }
    member = {key: value for key, value in member.items() if value}
    if not (member.get("email") or member.get("firstName") or member.get("lastName")):
        return None
    return member


def team_from_contacts(contacts: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """Up to five team members (seed limitation 5), in the contacts' order."""
    members = [member for member in map(team_member, contacts or []) if member]
    return members[:TEAM_LIMIT]


def closing_date_time(value: Any) -> str | None:
    """``details.closingDateTime``: the close date at midnight UTC, ISO 8601."""
    day = iso_date(value)
    return f"{day}T00:00:00Z" if day else None


def deal_to_referral(
    deal: dict[str, Any], company: dict[str, Any] | None, contacts: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """The create-referral body for a ``#Microsoft`` deal (seed 000, HubSpot → Microsoft)."""
    props = properties_of(deal)
    status, substatus = microsoft_status(props.get("dealstage"))
    company_props = properties_of(company)
    profile: dict[str, Any] = {
        "name": clean_text(company_props.get("name")) or clean_text(props.get("customer_name")),
        "address": address_from_company(company),
        "team": team_from_contacts(contacts),
    }
    details: dict[str, Any] = {
        "notes": truncate(clean_text(props.get("description")), NOTES_LIMIT),
        "dealValue": amount_float(props.get("amount")),
        "currency": clean_text(props.get("deal_currency_code")) or DEFAULT_CURRENCY,
        # seed: details.closeDate; the Referrals API's field is closingDateTime
        "closingDateTime": closing_date_time(props.get("closedate")),
    }
    referral: dict[str, Any] = {
        "name": strip_tags(props.get("dealname")),
        "externalReferenceId": id_of(deal),
        "type": REFERRAL_TYPE,
        "qualification": qualification(props.get("dealstage")),
        "status": status,
        "substatus": substatus,
        "consent": dict(DEFAULT_CONSENT),
        "customerProfile": {key: value for key, value in profile.items() if value},
        "details": {key: value for key, value in details.items() if value is not None},
    }
    return {key: value for key, value in referral.items() if value is not None}


def _pointer_get(document: Any, pointer: str) -> tuple[bool, Any]:
    node = document
    for part in pointer.strip("/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def pointer_get(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer of a referral (``/details/dealValue``), ``None`` if absent."""
    return _pointer_get(document, pointer)[1]


def _comparable(pointer: str, value: Any) -> Any:
    if pointer == "/details/dealValue":
        return amount_string(value)
    if pointer == "/details/closingDateTime":
        return iso_date(value)
    if pointer == "/customerProfile/team" and isinstance(value, list):
        members = [
            tuple(sorted((key, str(item).strip().lower()) for key, item in member.items() if item))
            for member in value if isinstance(member, dict)
        ]
        return sorted(members) or None
    if isinstance(value, dict):
        cleaned = {key: _comparable(pointer, item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, "")} or None
    if isinstance(value, str):
        return value.strip() or None
    return value


def referral_patch(current: dict[str, Any], desired: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON Patch ops (``replace``/``add``) turning ``current`` into ``desired``; ``[]`` if equal.

    Only fields present in ``desired`` are considered; values compare normalised (``50000`` ==
    ``50000.0``, dates by day, team members in any order). A missing parent object is added
    whole. Status never moves backwards; incoming referrals get status changes only.
    """
    pointers = list(REFERRAL_PATCH_FIELDS)
    if current.get("direction") == "Incoming":
        pointers = [pointer for pointer in pointers if pointer in INCOMING_PATCH_FIELDS]
    current_status, desired_status = current.get("status"), desired.get("status")
    if STATUS_ORDER.get(desired_status or "", 99) < STATUS_ORDER.get(current_status or "", -1):
        log.warning("Referral %s cannot move from %s back to %s: status left as is",
                    current.get("id"), current_status, desired_status)
        pointers = [pointer for pointer in pointers if pointer not in ("/status", "/substatus")]

    ops: list[dict[str, Any]] = []
    added_parents: dict[str, dict[str, Any]] = {}
    for pointer in pointers:
        present, value = _pointer_get(desired, pointer)
        if not present or value is None:
            continue
        exists, before = _pointer_get(current, pointer)
        if exists and _comparable(pointer, before) == _comparable(pointer, value):
            continue
        parent = pointer.rsplit("/", 1)[0]
        if parent and not _pointer_get(current, parent)[0]:
            if parent not in added_parents:
                added_parents[parent] = {}
                ops.append({"op": "add", "path": parent, "value": added_parents[parent]})
            added_parents[parent][pointer.rsplit("/", 1)[1]] = value
            continue
        ops.append({"op": "replace" if exists and before is not None else "add",
                    "path": pointer, "value": value})
    return ops


# --- Microsoft → HubSpot ----------------------------------------------------------------------


def _details(referral: dict[str, Any]) -> dict[str, Any]:
    return referral.get("details") or {}


def referral_to_deal_properties(referral: dict[str, Any]) -> dict[str, str]:
    """HubSpot deal properties for a referral (seed 000, Microsoft → HubSpot)."""
    details = _details(referral)
    profile = referral.get("customerProfile") or {}
    properties = {
        "dealname": with_tag(referral.get("name") or profile.get("name") or referral.get("id"), MICROSOFT_TAG),
        "description": details.get("notes"),
        "dealstage": hubspot_stage(referral.get("status"), referral.get("substatus")),
        "amount": amount_string(details.get("dealValue")),
        "deal_currency_code": details.get("currency"),
        "closedate": hubspot_date(details.get("closingDateTime") or details.get("closeDate")),
        "microsoft_referral_id": referral.get("id"),
        "microsoft_status": referral.get("status"),
        "microsoft_substatus": referral.get("substatus"),
        "customer_name": profile.get("name"),
        "microsoft_sync_status": "synced",
    }
    return {key: str(value) for key, value in properties.items() if value not in (None, "")}


def is_closed(referral: dict[str, Any] | None) -> bool:
    """Whether the referral is Closed (Partner Center accepts no more updates)."""
    return bool(referral) and referral.get("status") == "Closed"


def closed_referral_note(referral: dict[str, Any], fields: Iterable[str] | None = None) -> str:
    """Text of the HubSpot note explaining why a Closed referral was not updated."""
    substatus = referral.get("substatus")
    state = f"Closed ({substatus})" if substatus else "Closed"
    lines = [
        f"Microsoft Partner Center: referral {referral.get('id')} "
        f"(\"{referral.get('name') or ''}\") is {state}.",
        "Partner Center does not allow changes to a closed referral, so the changes made to "
        "this deal in HubSpot were not sent to Microsoft.",
    ]
    changed = sorted(set(fields or ()))
    if changed:
        lines.append("Not sent: " + ", ".join(changed) + ".")
    lines.append("To co-sell this opportunity with Microsoft again, create a new deal tagged "
                 f"{MICROSOFT_TAG}.")
    return "\n".join(lines)


# --- three-way comparison ---------------------------------------------------------------------


def _canonical_stage(dealstage: str | None) -> str | None:
    # Stages that share a referral status compare equal (decisionmakerboughtin and
    # presentationscheduled are both Active/Engaged).
    if not dealstage:
        return None
    return MICROSOFT_TO_HUBSPOT_STAGE.get(microsoft_status(dealstage), DEFAULT_HUBSPOT_STAGE)


def deal_fields_from_referral(referral: dict[str, Any]) -> dict[str, str | None]:
    """Comparable values of :data:`SYNCED_DEAL_FIELDS` as the referral holds them."""
    details = _details(referral)
    return {
        "dealname": clean_text(strip_tags(referral.get("name"))),
        "description": clean_text(details.get("notes")),
        "dealstage": hubspot_stage(referral.get("status"), referral.get("substatus"))
        if referral.get("status") else None,
        "amount": amount_string(details.get("dealValue")),
        "closedate": iso_date(details.get("closingDateTime") or details.get("closeDate")),
    }


def referral_fields_from_deal(deal: dict[str, Any]) -> dict[str, str | None]:
    """Comparable values of :data:`SYNCED_DEAL_FIELDS` as the deal would be sent to Microsoft."""
    props = properties_of(deal)
    return {
        "dealname": clean_text(strip_tags(props.get("dealname"))),
        "description": clean_text(truncate(clean_text(props.get("description")), NOTES_LIMIT)),
        "dealstage": _canonical_stage(props.get("dealstage")),
        "amount": amount_string(props.get("amount")),
        "closedate": iso_date(props.get("closedate")),
    }
