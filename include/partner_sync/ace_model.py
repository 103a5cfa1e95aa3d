"""What AWS Partner Central (ACE, boto3 ``partnercentral-selling``) allows: one home for it.

Everything here is derived from botocore's own service model, loaded lazily, so a botocore
upgrade that adds an enum value, a member or a limit is picked up without code changes:

- :func:`validate_input` / :func:`validate_output` check a request or response body against
  the operation's shapes (required members, types, enums, patterns, lengths, list sizes,
  numeric ranges, unknown members, timestamps, unions), recursively, and return
  :class:`FieldProblem` items named and coded the way ACE's ``ValidationException.ErrorList``
  names them (``Customer.Contacts[0].Phone``, ``INVALID_ENUM_VALUE``). botocore's own
  ``ParamValidator`` checks only required members, types and minimums; enums, patterns and
  maximums reach the wire unchecked, so this is what the hook's preflight and the sandbox use.
- :func:`member_shape`, :func:`enum_values`, :func:`length_limits`, :func:`update_members`,
  :func:`project` and :func:`update_request_from_opportunity` give mapping code the same facts.

A short section at the end holds the documented service rules the model does *not* carry
(review lock, the Action Required whitelist, read-only members, quota classes), each with
its source, so there is still one place to look.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import regex  # the model's patterns use \p{L}-style classes that the stdlib ``re`` lacks

SERVICE_NAME = "partnercentral-selling"

REQUIRED_FIELD_MISSING = "REQUIRED_FIELD_MISSING"
INVALID_ENUM_VALUE = "INVALID_ENUM_VALUE"
INVALID_STRING_FORMAT = "INVALID_STRING_FORMAT"
INVALID_VALUE = "INVALID_VALUE"
TOO_MANY_VALUES = "TOO_MANY_VALUES"
NOT_ENOUGH_VALUES = "NOT_ENOUGH_VALUES"
VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"
INVALID_RESOURCE_STATE = "INVALID_RESOURCE_STATE"
ACTION_NOT_PERMITTED = "ACTION_NOT_PERMITTED"

#: a pattern that only limits length, e.g. ``(?s).{0,120}``: reported as a length problem
_LENGTH_PATTERN = re.compile(r"^(?:\(\?s\))?\.\{(\d+),(\d+)\}$")
#: how many enum values a message quotes before "..."
_ENUM_QUOTE = 8


@dataclass(frozen=True)
class FieldProblem:
    """One field that the model (or a business rule) rejects, as ACE reports it."""

    field: str
    code: str
    message: str

    def as_error(self) -> dict[str, str]:
        """The ``ValidationException.ErrorList`` item for this problem."""
        return {"FieldName": self.field, "Message": self.message, "Code": self.code}

    def __str__(self) -> str:
        return f"{self.field}: {self.message} ({self.code})"


# --------------------------------------------------------------------------- the model
@functools.cache
def _loaded_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def service_model() -> Any:
    """botocore's ``ServiceModel`` of partnercentral-selling (loaded once, on first use)."""
    return _loaded_model()


def operation_names() -> tuple[str, ...]:
    return tuple(service_model().operation_names)


def operation_model(operation: str) -> Any:
    """The operation's botocore model; ``KeyError`` for an operation the API does not have."""
    if operation not in service_model().operation_names:
        raise KeyError(f"partnercentral-selling has no operation {operation!r}")
    return service_model().operation_model(operation)


def input_shape(operation: str) -> Any:
    return operation_model(operation).input_shape


def output_shape(operation: str) -> Any:
    """The output shape, or ``None`` for operations whose response is empty."""
    return operation_model(operation).output_shape


def validation_error_codes() -> tuple[str, ...]:
    """The ``Code`` values ValidationException's ErrorList may carry, from the model."""
    return tuple(service_model().shape_for("ValidationExceptionErrorCode").enum)


# --------------------------------------------------------------------------- validation
def validate_input(operation: str, params: Mapping[str, Any]) -> list[FieldProblem]:
    """Problems of a request body (wire JSON or boto3 params) for ``operation``."""
    return validate_shape(input_shape(operation), params)


def validate_output(operation: str, body: Mapping[str, Any]) -> list[FieldProblem]:
    """Problems of a response body for ``operation`` (an empty output shape allows ``{}``)."""
    shape = output_shape(operation)
    if shape is None:
        return [FieldProblem(name, INVALID_VALUE, "unexpected member") for name in body or {}]
    return validate_shape(shape, body)


def validate_shape(shape: Any, value: Any, path: str = "") -> list[FieldProblem]:
    """Problems of ``value`` against a botocore shape (or a shape name), recursively."""
    if isinstance(shape, str):
        shape = service_model().shape_for(shape)
    problems: list[FieldProblem] = []
    _check(shape, value, path, problems)
    return problems


def describe(problems: Iterable[FieldProblem]) -> str:
    """One line naming every problem, for logs, notes and exception messages."""
    return "; ".join(str(p) for p in problems)


def _check(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    checker = _CHECKERS.get(shape.type_name)
    if checker is None:  # a type the model does not use today: accept rather than guess
        return
    checker(shape, value, path, problems)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_structure(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, Mapping):
        problems.append(FieldProblem(path or "(body)", INVALID_VALUE, "must be an object"))
        return
    members = shape.members
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(
                FieldProblem(_join(path, name), REQUIRED_FIELD_MISSING, "is required")
            )
    present = [name for name, member in value.items() if member is not None]
    for name in present:
        if name not in members:
            problems.append(FieldProblem(_join(path, name), INVALID_VALUE, "is not a known field"))
    if shape.metadata.get("union"):
        known = [name for name in present if name in members]
        if len(known) != 1:
            problems.append(
                FieldProblem(
                    path or "(body)", INVALID_VALUE,
                    f"must set exactly one of {', '.join(members)} (got {len(known)})",
                )
            )
    for name in present:
        if name in members:
            _check(members[name], value[name], _join(path, name), problems)


def _check_list(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, (list, tuple)):
        problems.append(FieldProblem(path, INVALID_VALUE, "must be a list"))
        return
    _check_count(shape, len(value), path, problems)
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if item is None:
            problems.append(FieldProblem(item_path, INVALID_VALUE, "must not be null"))
        else:
            _check(shape.member, item, item_path, problems)


def _check_map(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, Mapping):
        problems.append(FieldProblem(path, INVALID_VALUE, "must be an object"))
        return
    _check_count(shape, len(value), path, problems)
    for key, item in value.items():
        _check(shape.key, key, _join(path, str(key)), problems)
        _check(shape.value, item, _join(path, str(key)), problems)


def _check_count(shape: Any, count: int, path: str, problems: list[FieldProblem]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and count < low:
        problems.append(
            FieldProblem(path, NOT_ENOUGH_VALUES, f"needs at least {low} value(s), got {count}")
        )
    if high is not None and count > high:
        problems.append(
            FieldProblem(path, TOO_MANY_VALUES, f"allows at most {high} value(s), got {count}")
        )


def _check_string(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, str):
        problems.append(FieldProblem(path, INVALID_VALUE, "must be a string"))
        return
    enum = shape.metadata.get("enum")
    if enum:
        if value not in enum:
            quoted = ", ".join(repr(v) for v in enum[:_ENUM_QUOTE])
            more = ", ..." if len(enum) > _ENUM_QUOTE else ""
            problems.append(
                FieldProblem(
                    path, INVALID_ENUM_VALUE,
                    f"{value!r} is not an allowed value ({len(enum)} allowed: {quoted}{more})",
                )
            )
        return
    low, high = _string_limits(shape)
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        problems.append(
            FieldProblem(
                path, VALUE_OUT_OF_RANGE,
                f"length must be {_range_text(low, high)} characters, got {len(value)}",
            )
        )
        return
    pattern = shape.metadata.get("pattern")
    if pattern and not _LENGTH_PATTERN.match(pattern) and not _compiled(pattern).fullmatch(value):
        problems.append(
            FieldProblem(path, INVALID_STRING_FORMAT, f"{value!r} does not match {pattern}")
        )


def _check_integer(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(FieldProblem(path, INVALID_VALUE, "must be an integer"))
        return
    _check_number_range(shape, value, path, problems)


def _check_float(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(FieldProblem(path, INVALID_VALUE, "must be a number"))
        return
    _check_number_range(shape, value, path, problems)


def _check_number_range(shape: Any, value: float, path: str, problems: list[FieldProblem]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        problems.append(
            FieldProblem(path, VALUE_OUT_OF_RANGE, f"must be {_range_text(low, high)}, got {value}")
        )


def _check_boolean(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, bool):
        problems.append(FieldProblem(path, INVALID_VALUE, "must be true or false"))


def _check_timestamp(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    if isinstance(value, (datetime, date)) or (
        isinstance(value, (int, float)) and not isinstance(value, bool)
    ):
        return
    if isinstance(value, str) and parse_timestamp(value) is not None:
        return
    problems.append(
        FieldProblem(path, INVALID_STRING_FORMAT, f"{value!r} is not an ISO 8601 timestamp")
    )


def _check_blob(shape: Any, value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, (str, bytes, bytearray)):
        problems.append(FieldProblem(path, INVALID_VALUE, "must be binary data"))


_CHECKERS = {
    "structure": _check_structure,
    "list": _check_list,
    "map": _check_map,
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "float": _check_float,
    "double": _check_float,
    "boolean": _check_boolean,
    "timestamp": _check_timestamp,
    "blob": _check_blob,
}


@functools.cache
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern)


def _range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}"


def _string_limits(shape: Any) -> tuple[int | None, int | None]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    match = _LENGTH_PATTERN.match(shape.metadata.get("pattern") or "")
    if match:
        low = int(match.group(1)) if low is None else max(low, int(match.group(1)))
        high = int(match.group(2)) if high is None else min(high, int(match.group(2)))
    return low, high


def parse_timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp as botocore sends and ACE returns it (``Z`` or offset), else None."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None
    return parsed if parsed.tzinfo is not None else None


# --------------------------------------------------------------------------- shape facts
def member_shape(operation: str, path: str, output: bool = False) -> Any:
    """The shape at a dotted member path of an operation's input (or output).

    Lists are transparent (``Project.DeliveryModels`` is the shape of one delivery model);
    ``[0]`` or ``[]`` suffixes are accepted and ignored. ``KeyError`` if there is no such member.
    """
    shape = output_shape(operation) if output else input_shape(operation)
    if shape is None:
        raise KeyError(f"{operation} has no output members")
    for step in _steps(path):
        shape = _through_lists(shape)
        if shape.type_name != "structure" or step not in shape.members:
            raise KeyError(f"{operation} has no member {path!r}")
        shape = shape.members[step]
    return _through_lists(shape)


def enum_values(operation: str, path: str, output: bool = False) -> tuple[str, ...]:
    """The allowed values of an enum member, e.g. ``("CreateOpportunity",
    "Customer.Account.Industry")``; empty for a member that is not an enum."""
    return tuple(member_shape(operation, path, output).metadata.get("enum") or ())


def length_limits(operation: str, path: str, output: bool = False) -> tuple[int | None, int | None]:
    """(min, max) characters of a string member, from ``min``/``max`` or a ``.{a,b}`` pattern."""
    return _string_limits(member_shape(operation, path, output))


def required_members(operation: str, path: str = "", output: bool = False) -> tuple[str, ...]:
    """Required members of the operation's input (or of the structure at ``path``)."""
    if path:
        shape = member_shape(operation, path, output)
    else:
        shape = output_shape(operation) if output else input_shape(operation)
    return tuple(shape.required_members) if shape is not None else ()


def update_members() -> frozenset[str]:
    """Top-level members of ``UpdateOpportunityRequest`` (what a full replace carries)."""
    return frozenset(input_shape("UpdateOpportunity").members)


def project(shape: Any, value: Any) -> Any:
    """``value`` with every member the shape does not define dropped, recursively.

    ``shape`` is a botocore shape or a shape name. Turns a stored or fetched object into
    the body another operation accepts (e.g. a GetOpportunity response into an update).
    """
    if isinstance(shape, str):
        shape = service_model().shape_for(shape)
    if value is None:
        return None
    if shape.type_name == "structure" and isinstance(value, Mapping):
        projected = {}
        for name, member in shape.members.items():
            if value.get(name) is not None:
                projected[name] = project(member, value[name])
        return projected
    if shape.type_name == "list" and isinstance(value, (list, tuple)):
        return [project(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {key: project(shape.value, item) for key, item in value.items()}
    return value


def update_request_from_opportunity(opportunity: Mapping[str, Any]) -> dict[str, Any]:
    """The UpdateOpportunity body that leaves a GetOpportunity response unchanged.

    Read-modify-write starts here: UpdateOpportunity is a full replace, so every member
    the opportunity has must be sent back. Read-only members (:data:`READ_ONLY_MEMBERS`)
    are dropped; ``Identifier`` and ``LastModifiedDate`` come from the opportunity.
    """
    body = drop_read_only(project(input_shape("UpdateOpportunity"), opportunity))
    body["Identifier"] = opportunity["Id"]
    body["LastModifiedDate"] = opportunity["LastModifiedDate"]
    return body


def drop_read_only(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an opportunity body without :data:`READ_ONLY_MEMBERS`."""
    trimmed = dict(body)
    for path in READ_ONLY_MEMBERS:
        parent_name, _, leaf = path.partition(".")
        if isinstance(trimmed.get(parent_name), Mapping) and leaf in trimmed[parent_name]:
            trimmed[parent_name] = {k: v for k, v in trimmed[parent_name].items() if k != leaf}
    return trimmed


def _steps(path: str) -> list[str]:
    return [re.sub(r"\[[^\]]*\]$", "", step) for step in path.split(".") if step]


def _through_lists(shape: Any) -> Any:
    while shape.type_name == "list":
        shape = shape.member
    return shape


# --------------------------------------------------------------------------- documented rules
# The service rules below are documented but not expressed in the model (api-facts §1.4).

#: Review statuses in which an opportunity is read-only ([BM] ReviewStatus documentation).
REVIEW_LOCKED_STATUSES = frozenset({"Submitted", "In review", "Rejected"})
#: The review status that allows edits to the whitelist below only.
ACTION_REQUIRED = "Action Required"
#: Member paths editable in Action Required (``[]`` = every list item; a path covers its
#: children). Source: ACE docs via api-facts §1.4.
ACTION_REQUIRED_EDITABLE = (
    "Customer.Account.Address",
    "Customer.Account.WebsiteUrl",
    "LifeCycle.TargetCloseDate",
    "Project.ExpectedCustomerSpend[].Amount",
    "Project.ExpectedCustomerSpend[].CurrencyCode",
    "Project.CustomerBusinessProblem",
    "PartnerOpportunityIdentifier",
)
#: Members that AWS sets and UpdateOpportunity does not change ([BM] "read-only" docs, and
#: review feedback that only AWS writes).
READ_ONLY_MEMBERS = (
    "LifeCycle.ReviewStatus",
    "LifeCycle.ReviewComments",
    "LifeCycle.ReviewStatusReason",
    "LifeCycle.NextStepsHistory",
)
#: Operations counted against the documented per-account quotas [AQ]: reads 10/s, writes 1/s.
READ_QUOTA_OPERATIONS = frozenset({
    "GetOpportunity", "ListOpportunities", "GetAwsOpportunitySummary", "ListSolutions",
    "GetEngagementInvitation", "ListEngagementInvitations",
})
WRITE_QUOTA_OPERATIONS = frozenset({
    "CreateOpportunity", "UpdateOpportunity", "AssignOpportunity", "AssociateOpportunity",
    "DisassociateOpportunity", "RejectEngagementInvitation",
    "StartEngagementFromOpportunityTask", "StartEngagementByAcceptingInvitationTask",
})


def quota_class(operation: str) -> str | None:
    """``"read"`` or ``"write"`` for operations with a documented quota, else ``None``."""
    if operation in READ_QUOTA_OPERATIONS:
        return "read"
    if operation in WRITE_QUOTA_OPERATIONS:
        return "write"
    return None


def pacing_class(operation: str) -> str:
    """How a client should pace ``operation``: the documented class, else by its verb
    (``Get``/``List`` read, anything else write — the cautious choice where AWS is silent)."""
    documented = quota_class(operation)
    if documented:
        return documented
    return "read" if operation.startswith(("Get", "List")) else "write"


def action_required_editable(path: str) -> bool:
    """Whether a leaf member path (``Project.ExpectedCustomerSpend[0].Amount``) may change
    while the opportunity is in Action Required."""
    generic = re.sub(r"\[\d+\]", "[]", path)
    return any(
        generic == allowed or generic.startswith(allowed + ".") or generic.startswith(allowed + "[")
        for allowed in ACTION_REQUIRED_EDITABLE
    )
