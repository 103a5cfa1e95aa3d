"""CRM search as the HubSpot emulator answers it: request limits, the 13 filter operators,
sorts, the full-text ``query``, and offset paging with the 10,000-result cap.

Semantics (real behaviour where documented, ``reference/api-facts.md`` §3.3): groups are ORed,
filters inside a group ANDed; string comparisons are case-insensitive; ``number``, ``date`` and
``datetime`` properties compare numerically (datetimes as epoch ms, accepting ISO values too).
Emulator choices (UNCONFIRMED in the real API): ``NEQ``/``NOT_IN``/``NOT_CONTAINS_TOKEN`` match
objects without the property; ``CONTAINS_TOKEN`` splits values on whitespace and punctuation
and supports ``*`` wildcards; the default order is ``hs_object_id`` ascending.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from partner_sync.sandbox.hubspot_schema import QUERY_PROPERTIES, epoch_millis

OPERATORS = (
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
)
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_LIMIT = 200
MAX_QUERY_CHARS = 3000


class SearchRequestError(ValueError):
    """The search body breaks a rule of the API (answered with 400 VALIDATION_ERROR)."""


def validate_search(body: dict[str, Any], definitions: dict[str, dict[str, Any]]) -> None:
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise SearchRequestError("filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise SearchRequestError(f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}")
    total = 0
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise SearchRequestError("each filter group needs a list of filters")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise SearchRequestError(
                f"Too many filters in a group ({len(filters)}); the maximum is {MAX_FILTERS_PER_GROUP}"
            )
        total += len(filters)
        for search_filter in filters:
            _validate_filter(search_filter, definitions)
    if total > MAX_FILTERS:
        raise SearchRequestError(f"Too many filters ({total}); the maximum is {MAX_FILTERS}")
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise SearchRequestError("limit must be a non-negative integer")
    if limit > MAX_LIMIT:
        raise SearchRequestError(f"limit must be <= {MAX_LIMIT}")
    query = body.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > MAX_QUERY_CHARS):
        raise SearchRequestError(f"query must be a string of at most {MAX_QUERY_CHARS} characters")
    for sort in sort_keys(body.get("sorts") or []):
        if sort[0] not in definitions:
            raise SearchRequestError(f'Cannot sort by unknown property "{sort[0]}"')


def _validate_filter(search_filter: Any, definitions: dict[str, dict[str, Any]]) -> None:
    if not isinstance(search_filter, dict):
        raise SearchRequestError("a filter must be an object")
    name = search_filter.get("propertyName")
    operator = search_filter.get("operator", "EQ")
    if operator not in OPERATORS:
        raise SearchRequestError(f'Unknown operator "{operator}"; valid operators: {", ".join(OPERATORS)}')
    if name not in definitions:
        raise SearchRequestError(f'Property "{name}" does not exist')
    if operator in ("IN", "NOT_IN"):
        values = search_filter.get("values")
        if not isinstance(values, list) or not values:
            raise SearchRequestError(f"{operator} needs a non-empty 'values' list")
    elif operator == "BETWEEN":
        if search_filter.get("value") is None or search_filter.get("highValue") is None:
            raise SearchRequestError("BETWEEN needs 'value' and 'highValue'")
    elif operator not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY") and search_filter.get("value") is None:
        raise SearchRequestError(f"{operator} needs a 'value'")


def sort_keys(sorts: list[Any]) -> list[tuple[str, bool]]:
    """``[{"propertyName", "direction"}]`` or ``["-createdate"]`` -> [(name, descending)]."""
    keys = []
    for sort in sorts:
        if isinstance(sort, str):
            keys.append((sort.lstrip("-"), sort.startswith("-")))
        elif isinstance(sort, dict):
            keys.append((sort.get("propertyName", ""), sort.get("direction", "ASCENDING") == "DESCENDING"))
        else:
            raise SearchRequestError("sorts must be strings or {propertyName, direction} objects")
    return keys


def _comparable(definition: dict[str, Any], value: Any) -> Any:
    text = "" if value is None else str(value)
    if definition["type"] == "number":
        try:
            return float(text)
        except ValueError:
            return None
    if definition["type"] in ("date", "datetime"):
        return epoch_millis(text)
    return text.lower()


_SPLIT = re.compile(r"[\s,;:.!?()\[\]{}\"'/\\|<>]+")


def _tokens(text: str) -> set[str]:
    tokens = set()
    for token in _SPLIT.split(text.lower()):
        if token:
            tokens.add(token)
            stripped = re.sub(r"[^\w]", "", token)
            if stripped:
                tokens.add(stripped)
    return tokens


def _contains_token(value: str, token: Any) -> bool:
    wanted = str(token).lower()
    tokens = _tokens(value)
    if "*" in wanted:
        return any(fnmatch.fnmatchcase(t, wanted) for t in tokens) or fnmatch.fnmatchcase(value.lower(), wanted)
    return wanted in tokens or re.sub(r"[^\w]", "", wanted) in tokens


def filter_matches(properties: dict[str, Any], search_filter: dict[str, Any], definition: dict[str, Any]) -> bool:
    operator = search_filter.get("operator", "EQ")
    raw = properties.get(search_filter["propertyName"])
    present = raw not in (None, "")
    if operator == "HAS_PROPERTY":
        return present
    if operator == "NOT_HAS_PROPERTY":
        return not present
    if operator in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN") and not present:
        return True
    if not present:
        return False
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        found = _contains_token(str(raw), search_filter["value"])
        return found if operator == "CONTAINS_TOKEN" else not found
    actual = _comparable(definition, raw)
    if actual is None:
        return operator in ("NEQ", "NOT_IN")
    if operator in ("IN", "NOT_IN"):
        found = actual in {_comparable(definition, v) for v in search_filter["values"]}
        return found if operator == "IN" else not found
    wanted = _comparable(definition, search_filter["value"])
    if operator == "EQ":
        return actual == wanted
    if operator == "NEQ":
        return actual != wanted
    if wanted is None or type(actual) is not type(wanted):
        return False
    if operator == "BETWEEN":
        high = _comparable(definition, search_filter["highValue"])
        return high is not None and wanted <= actual <= high
    return {
        "LT": actual < wanted, "LTE": actual <= wanted, "GT": actual > wanted, "GTE": actual >= wanted,
    }[operator]


def object_matches(
    object_type: str,
    properties: dict[str, Any],
    body: dict[str, Any],
    definitions: dict[str, dict[str, Any]],
) -> bool:
    groups = body.get("filterGroups") or []
    if groups and not any(
        all(filter_matches(properties, f, definitions[f["propertyName"]]) for f in group["filters"])
        for group in groups
    ):
        return False
    query = (body.get("query") or "").strip().lower()
    if query:
        haystack = " ".join(str(properties.get(p) or "") for p in QUERY_PROPERTIES[object_type]).lower()
        return all(word in haystack for word in query.split())
    return True


def sorted_matches(
    records: list[dict[str, Any]], body: dict[str, Any], definitions: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Records ordered by the request's sorts, then by id (a stable, total order)."""
    ordered = sorted(records, key=lambda record: int(record["id"]))
    for name, descending in reversed(sort_keys(body.get("sorts") or [])):
        definition = definitions[name]

        def key(record: dict[str, Any], name: str = name, definition: dict[str, Any] = definition) -> tuple:
            value = _comparable(definition, record["properties"].get(name))
            # objects without a value sort last in either direction
            missing = value is None or value == ""
            return (missing != descending, value if not missing else 0)

        ordered.sort(key=key, reverse=descending)
    return ordered
