"""Building blocks of the Partner Central emulator: errors, ids, clock, paging, lookups.

Kept apart from the operations so each operations module reads as the API it emulates.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import random
import string
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from partner_sync import ace_model
from partner_sync.ace_model import FieldProblem

#: the partner account the sandbox plays (12 digits, as AwsAccount requires)
PARTNER_ACCOUNT_ID = "123456789012"
PARTNER_COMPANY_NAME = "Sandbox Partner Inc."
PARTNER_WEBSITE = "https://partner.example.com"
#: how AWS appears as a sender of referrals (AwsAccount allows ``\w{1,12}``)
AWS_ACCOUNT_ALIAS = "AWS"
REGION = "us-east-1"
CATALOGS = ("AWS", "Sandbox")
#: snapshot template of an opportunity (UNCONFIRMED: the name AWS uses for its template)
OPPORTUNITY_SNAPSHOT_TEMPLATE = "AWSOpportunitySummary"

OperationHandler = Callable[[dict[str, Any]], "dict[str, Any] | None"]


# --------------------------------------------------------------------------- errors
class ApiError(Exception):
    """An error answer of the API: ``{"__type": error_type, "Message": ..., **members}``."""

    def __init__(
        self, error_type: str, message: str, status: int = 400, **members: Any
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status
        self.members = members

    def body(self) -> dict[str, Any]:
        return {"__type": self.error_type, "Message": self.message, **self.members}


def validation_error(
    problems: list[FieldProblem], reason: str = "REQUEST_VALIDATION_FAILED", message: str = ""
) -> ApiError:
    """ValidationException with ErrorList, as ACE returns it."""
    return ApiError(
        "ValidationException",
        message or f"The request failed validation: {ace_model.describe(problems)}",
        Reason=reason,
        ErrorList=[p.as_error() for p in problems],
    )


def business_error(field: str, code: str, message: str) -> ApiError:
    """ValidationException with Reason BUSINESS_VALIDATION_FAILED for one field."""
    return validation_error(
        [FieldProblem(field, code, message)], reason="BUSINESS_VALIDATION_FAILED", message=message
    )


def conflict(message: str) -> ApiError:
    return ApiError("ConflictException", message)


def not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", message)


def unknown_operation(message: str) -> ApiError:
    return ApiError("UnknownOperationException", message)


# --------------------------------------------------------------------------- time
class Clock:
    """ISO 8601 timestamps with milliseconds, strictly increasing within one emulator, so two
    writes in the same millisecond still get different ``LastModifiedDate`` values."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=timezone.utc)

    def now(self) -> datetime:
        wall = datetime.now(timezone.utc)
        current = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
        if current <= self._last:
            current = self._last + timedelta(milliseconds=1)
        self._last = current
        return current

    def stamp(self) -> str:
        return format_timestamp(self.now())


def format_timestamp(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def instant(value: Any) -> datetime | None:
    """A wire or stored timestamp (ISO string or epoch seconds) as an aware datetime."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        return ace_model.parse_timestamp(value)
    return None


# --------------------------------------------------------------------------- ids and arns
def random_suffix(length: int) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=length))


def arn(catalog: str, kind: str, identifier: str) -> str:
    return f"arn:aws:partnercentral:{REGION}:{PARTNER_ACCOUNT_ID}:catalog/{catalog}/{kind}/{identifier}"


def fingerprint(params: Mapping[str, Any], ignore: Iterable[str] = ("ClientToken",)) -> str:
    """A stable digest of a request body (for ClientToken idempotency)."""
    skipped = set(ignore)
    canonical = json.dumps(
        {k: v for k, v in params.items() if k not in skipped}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------- paging
def page(
    items: list[dict[str, Any]], params: Mapping[str, Any], maximum: int, default: int | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``items`` for ``MaxResults``/``NextToken``; returns (page, next token)."""
    size = params.get("MaxResults") or default or min(20, maximum)
    offset = 0
    token = params.get("NextToken")
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise validation_error(
                [FieldProblem("NextToken", ace_model.INVALID_VALUE, "is not a valid token")]
            ) from None
    chunk = items[offset : offset + size]
    more = offset + size < len(items)
    next_token = base64.urlsafe_b64encode(f"offset:{offset + size}".encode()).decode() if more else None
    return chunk, next_token


def with_token(body: dict[str, Any], next_token: str | None) -> dict[str, Any]:
    if next_token:
        body["NextToken"] = next_token
    return body


def sort_items(
    items: list[dict[str, Any]], sort: Mapping[str, Any] | None, keys: Mapping[str, Callable],
    default: tuple[str, str],
) -> list[dict[str, Any]]:
    """Sort by ``Sort.SortBy`` (a name in ``keys``) and ``Sort.SortOrder``."""
    sort_by = (sort or {}).get("SortBy", default[0])
    order = (sort or {}).get("SortOrder", default[1])
    key = keys.get(sort_by, keys[default[0]])
    return sorted(items, key=lambda item: _sortable(key(item)), reverse=order == "DESCENDING")


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


# --------------------------------------------------------------------------- structures
def dig(value: Any, path: str, default: Any = None) -> Any:
    """``dig(opportunity, "Customer.Account.CompanyName")``: a nested member or ``default``."""
    for step in path.split("."):
        if not isinstance(value, Mapping) or value.get(step) is None:
            return default
        value = value[step]
    return value


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in (objects merged, everything else replaced)."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Every scalar member of a nested body by path (``Customer.Contacts[0].Email``); empty
    objects and lists count as absent."""
    found: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            found.update(leaves(item, f"{path}.{key}" if path else key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(leaves(item, f"{path}[{index}]"))
    elif value is not None:
        found[path] = value
    return found


def matches_any(value: Any, wanted: list[Any] | None) -> bool:
    """A list filter: no filter matches everything."""
    return not wanted or value in wanted


def resolve_id(identifier: str) -> str:
    """An id from an id-or-ARN parameter (the ARN's last path segment)."""
    return identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier


# --------------------------------------------------------------------------- shared state
def operation(name: str) -> Callable[[Callable], Callable]:
    """Mark an emulator method as the handler of an API operation."""

    def mark(method: Callable) -> Callable:
        method.ace_operation = name  # type: ignore[attr-defined]
        return method

    return mark


class PartnerCentralStore:
    """State and lookups that the operation mixins share (the emulator inherits this)."""

    state: dict[str, dict[str, dict[str, Any]]]

    def init_store(self) -> None:
        self.clock = Clock()
        #: (operation, catalog, ClientToken) -> (request fingerprint, response)
        self.client_tokens: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
        #: task id -> task record (both task kinds; "Kind" tells them apart)
        self.tasks: dict[str, dict[str, Any]] = {}
        #: resource snapshot job id -> job record
        self.snapshot_jobs: dict[str, dict[str, Any]] = {}
        self._opportunity_counter = 1_000_000

    def idempotent(
        self, operation_name: str, params: Mapping[str, Any], produce: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """Run ``produce`` once per ClientToken.

        The same token with the same body replays the first response and changes nothing;
        the same token with another body is a ConflictException with the message the
        CreateOpportunity documentation quotes. UNCONFIRMED: the exception class, and that
        the replay returns the original response (api-facts §1.4).
        """
        key = (operation_name, params["Catalog"], params["ClientToken"])
        digest = fingerprint(params)
        if key in self.client_tokens:
            seen_digest, response = self.client_tokens[key]
            if seen_digest == digest:
                return copy.deepcopy(response)
            raise conflict("Conflicting client token submitted for a new request body.")
        response = produce()
        self.client_tokens[key] = (digest, copy.deepcopy(response))
        return response

    def new_opportunity_id(self) -> str:
        while True:
            self._opportunity_counter += 1
            candidate = f"O{self._opportunity_counter}"
            if candidate not in self.state["opportunities"]:
                return candidate

    def find(self, collection: str, catalog: str, identifier: str, label: str) -> dict[str, Any]:
        """The stored object of ``collection`` with this id (or ARN) in ``catalog``."""
        found = self.state[collection].get(resolve_id(identifier))
        if found is None or found.get("Catalog", "Sandbox") != catalog:
            raise not_found(f"{label} {identifier} not found in catalog {catalog}.")
        return found

    def in_catalog(self, collection: str, catalog: str) -> list[dict[str, Any]]:
        return [item for item in self.state[collection].values() if item.get("Catalog") == catalog]
