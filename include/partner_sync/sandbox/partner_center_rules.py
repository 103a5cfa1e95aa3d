"""The Partner Center emulator's referral rules: validation, status transitions, JSON Patch, expiry.

Pure functions over referral dicts (the API's camelCase JSON, api-facts §2.2), kept apart from
the HTTP layer in ``partner_center.py`` so each rule can be read in one place.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from partner_sync.sandbox.partner_center_odata import parse_datetime

#: status -> the substatus values it allows [MR]. "Engaged" comes from the seed's mapping table
#: (HubSpot presentationscheduled/decisionmakerboughtin/contractsent -> Active/Engaged); Microsoft
#: documents only Accepted for Active, so Engaged is UNCONFIRMED and accepted here for Active.
SUBSTATUSES: dict[str, tuple[str, ...]] = {
    "New": ("Pending", "Received"),
    "Active": ("Accepted", "Engaged"),
    "Closed": ("Won", "Lost", "Declined", "Expired"),
}
#: status -> statuses it may move to [MR]. Closed is final: any change to a Closed referral is
#: refused with 400 (the refusal itself is UNCONFIRMED; the docs list no transition out of it).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "New": ("New", "Active", "Closed"),
    "Active": ("Active", "Closed"),
    "Closed": (),
}
TYPES = ("Independent", "Shared")
QUALIFICATIONS = ("None", "Direct", "MarketingQualified", "SalesQualified")
DIRECTIONS = ("Incoming", "Outgoing")
SIZES = (
    "1to9employees", "10to50employees", "51to250employees", "251to1000employees",
    "1001to5000employees", "5001to10000employees", "10001to20000employees",
    "Morethan20000employees",
)
REQUIRED_ON_CREATE = ("type", "customerProfile", "consent", "details")
#: fields the service owns; a client may not set them with PATCH (PUT keeps the stored values)
READ_ONLY = (
    "id", "engagementId", "organizationId", "organizationName", "createdDateTime",
    "updatedDateTime", "expirationDateTime", "acceptedDateTime", "direction", "eTag", "links",
)
#: incoming referrals nobody answers are expired by Microsoft after this long [MG]
EXPIRY = timedelta(days=14)

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ReferralInvalid(ValueError):
    """A request the API refuses with 400; ``target`` names the offending field."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target
        self.message = message


def format_datetime(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z``, the shape Microsoft returns."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_datetime(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ReferralInvalid(field, f"{field} must be an ISO 8601 datetime string")
    try:
        return format_datetime(parse_datetime(value))
    except ValueError as exc:
        raise ReferralInvalid(field, f"{field} is not a valid ISO 8601 datetime: {value!r}") from exc


def new_etag() -> str:
    """A fresh eTag: a quoted opaque string, as Microsoft writes it (``"\\"2500ec5a-…\\""``)."""
    return f'"{uuid.uuid4()}"'


def etag_matches(if_match: str, etag: str) -> bool:
    """``If-Match`` against the stored eTag (``*`` matches; quotes and ``W/`` are tolerated)."""
    wanted = [part.strip() for part in if_match.split(",")]
    bare = etag.strip('"')
    for candidate in wanted:
        if candidate == "*":
            return True
        candidate = candidate.removeprefix("W/").strip()
        if candidate == etag or candidate.strip('"').strip('\\"') == bare:
            return True
    return False


def _require_object(referral: dict[str, Any], field: str) -> dict[str, Any]:
    value = referral.get(field)
    if not isinstance(value, dict):
        raise ReferralInvalid(field, f"{field} must be an object")
    return value


def _check_enum(value: Any, allowed: tuple[str, ...], field: str) -> None:
    if value is not None and value not in allowed:
        raise ReferralInvalid(field, f"{field} must be one of {', '.join(allowed)}; got {value!r}")


def _check_members(members: Any, field: str) -> None:
    if members is None:
        return
    if not isinstance(members, list):
        raise ReferralInvalid(field, f"{field} must be an array of members")
    for index, member in enumerate(members):
        if not isinstance(member, dict):
            raise ReferralInvalid(f"{field}[{index}]", f"{field}[{index}] must be an object")
        for name in ("firstName", "lastName", "email", "phoneNumber"):
            if member.get(name) is not None and not isinstance(member[name], str):
                raise ReferralInvalid(f"{field}[{index}].{name}", f"{field}[{index}].{name} must be a string")


def default_substatus(status: Any) -> str | None:
    """The substatus a referral gets when only its status is given (New -> Pending, ...)."""
    allowed = SUBSTATUSES.get(status) if isinstance(status, str) else None
    return allowed[0] if allowed else None


def check_status(status: Any, substatus: Any) -> None:
    _check_enum(status, tuple(SUBSTATUSES), "status")
    if status is None:
        raise ReferralInvalid("status", "status is required")
    if substatus not in SUBSTATUSES[status]:
        raise ReferralInvalid(
            "substatus",
            f"substatus {substatus!r} is not valid for status {status}; "
            f"allowed: {', '.join(SUBSTATUSES[status])}",
        )


def validate_referral(referral: dict[str, Any]) -> None:
    """Check a whole referral (after create defaults, a PATCH or a PUT); raise ReferralInvalid."""
    for field in REQUIRED_ON_CREATE:
        if referral.get(field) is None:
            raise ReferralInvalid(field, f"{field} is required")
    _check_enum(referral.get("type"), TYPES, "type")
    _check_enum(referral.get("qualification"), QUALIFICATIONS, "qualification")
    _check_enum(referral.get("direction"), DIRECTIONS, "direction")
    check_status(referral.get("status"), referral.get("substatus"))
    if referral.get("name") is not None and not isinstance(referral["name"], str):
        raise ReferralInvalid("name", "name must be a string")

    profile = _require_object(referral, "customerProfile")
    if not isinstance(profile.get("name"), str) or not profile["name"].strip():
        raise ReferralInvalid("customerProfile.name", "customerProfile.name is required")
    if profile.get("address") is not None and not isinstance(profile["address"], dict):
        raise ReferralInvalid("customerProfile.address", "customerProfile.address must be an object")
    _check_enum(profile.get("size"), SIZES, "customerProfile.size")
    _check_members(profile.get("team"), "customerProfile.team")

    consent = _require_object(referral, "consent")
    for name, value in consent.items():
        if not isinstance(value, bool):
            raise ReferralInvalid(f"consent.{name}", f"consent.{name} must be true or false")

    details = _require_object(referral, "details")
    deal_value = details.get("dealValue")
    if deal_value is not None:
        try:
            if isinstance(deal_value, bool):
                raise ValueError
            float(deal_value)  # a decimal; the PATCH sample sends it as a string
        except (TypeError, ValueError) as exc:
            raise ReferralInvalid("details.dealValue", "details.dealValue must be a decimal") from exc
    if details.get("currency") is not None and not _CURRENCY.match(str(details["currency"])):
        raise ReferralInvalid("details.currency", "details.currency must be an ISO 4217 code")
    if details.get("closingDateTime") is not None:
        normalise_datetime(details["closingDateTime"], "details.closingDateTime")
    if details.get("notes") is not None and not isinstance(details["notes"], str):
        raise ReferralInvalid("details.notes", "details.notes must be a string")
    _check_members(referral.get("team"), "team")


def check_transition(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Refuse changes to Closed referrals and status moves the API does not allow."""
    if before.get("status") == "Closed":
        raise ReferralInvalid(
            "status", f"referral {before.get('id')} is Closed ({before.get('substatus')}) and cannot be changed"
        )
    old, new = before.get("status"), after.get("status")
    if new not in TRANSITIONS.get(old, ()):
        raise ReferralInvalid("status", f"status cannot change from {old} to {new}")


def _decode_pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/") or path == "/":
        raise ReferralInvalid("path", f"path must be a JSON Pointer into the referral, got {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def apply_patch(referral: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply RFC 6902 ``replace``/``add`` operations to a copy; other ops are refused [MP]."""
    if not isinstance(operations, list) or not operations:
        raise ReferralInvalid("body", "body must be a non-empty JSON Patch array")
    document = copy.deepcopy(referral)
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise ReferralInvalid(f"[{index}]", f"operation {index} must be an object")
        op = operation.get("op")
        if op not in ("replace", "add"):
            raise ReferralInvalid(f"[{index}].op", f"operation {index}: op {op!r} is not supported (replace, add)")
        if "value" not in operation:
            raise ReferralInvalid(f"[{index}].value", f"operation {index}: value is required")
        parts = _decode_pointer(operation.get("path"))
        if parts[0] in READ_ONLY:
            raise ReferralInvalid(parts[0], f"operation {index}: {parts[0]} is read-only")
        parent: Any = document
        for depth, part in enumerate(parts[:-1]):
            parent = _step(parent, part, "/" + "/".join(parts[: depth + 1]))
        last = parts[-1]
        value = copy.deepcopy(operation["value"])
        where = operation["path"]
        if isinstance(parent, dict):
            if op == "replace" and last not in parent:
                raise ReferralInvalid(where, f"operation {index}: {where} does not exist; use add")
            parent[last] = value
        elif isinstance(parent, list):
            if last == "-" and op == "add":
                parent.append(value)
                continue
            position = _index(last, len(parent) + (1 if op == "add" else 0), where)
            if op == "add":
                parent.insert(position, value)
            else:
                parent[position] = value
        else:
            raise ReferralInvalid(where, f"operation {index}: {where} is inside a scalar value")
    return document


def _step(container: Any, part: str, where: str) -> Any:
    if isinstance(container, dict):
        if part not in container or container[part] is None:
            raise ReferralInvalid(where, f"{where} does not exist")
        return container[part]
    if isinstance(container, list):
        return container[_index(part, len(container), where)]
    raise ReferralInvalid(where, f"{where} is inside a scalar value")


def _index(part: str, size: int, where: str) -> int:
    if not part.isdigit() or int(part) >= size:
        raise ReferralInvalid(where, f"{where}: array index out of range")
    return int(part)


def expire_if_due(referral: dict[str, Any], now: datetime) -> bool:
    """Incoming referrals still New past their expiry become Closed/Expired; True if changed."""
    if referral.get("direction") != "Incoming" or referral.get("status") != "New":
        return False
    created = parse_datetime(referral["createdDateTime"])
    expires = (
        parse_datetime(referral["expirationDateTime"])
        if referral.get("expirationDateTime")
        else created + EXPIRY
    )
    if now <= expires:
        return False
    referral["status"] = "Closed"
    referral["substatus"] = "Expired"
    referral["updatedDateTime"] = format_datetime(expires)
    referral["eTag"] = new_etag()
    return True
