"""Shared HubSpot deal conventions: partner tags in ``dealname``, value converters, limits.

HubSpot returns every property value as a string (or ``None``); dates come back as ISO 8601
strings, but older payloads and webhooks carry epoch milliseconds. A ``date`` property must be
written as midnight UTC (api-facts §3.5), so every date we write is normalised here first.
Everything in this module is pure: values in, values out.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

AWS_TAG = "#AWS"
MICROSOFT_TAG = "#Microsoft"

#: partner system name -> the tag a salesperson puts in ``dealname`` to sync the deal there
PARTNER_TAGS: dict[str, str] = {"aws": AWS_TAG, "microsoft": MICROSOFT_TAG}


def _tag_pattern(tag: str) -> re.Pattern[str]:
    # A tag stands alone: "#AWS" in "Lake #AWS" or "#aws: pilot", not "#AWSOME" or "x#AWS".
    return re.compile(r"(?<![\w#])" + re.escape(tag) + r"(?![\w])", re.IGNORECASE)


_TAG_PATTERNS: dict[str, re.Pattern[str]] = {
    system: _tag_pattern(tag) for system, tag in PARTNER_TAGS.items()
}


def partner_systems(dealname: str | None) -> set[str]:
    """The partner systems a deal is tagged for: a subset of ``{"aws", "microsoft"}``."""
    if not dealname:
        return set()
    return {system for system, pattern in _TAG_PATTERNS.items() if pattern.search(dealname)}


def has_tag(name: str | None, tag: str) -> bool:
    """Whether ``name`` carries ``tag`` (case-insensitive, as a word of its own)."""
    return bool(name) and bool(_tag_pattern(tag).search(name or ""))


def with_tag(name: str | None, tag: str) -> str:
    """``name`` with `` <tag>`` appended unless it already carries the tag."""
    name = (name or "").strip()
    if has_tag(name, tag):
        return name
    return f"{name} {tag}".strip()


def strip_tags(name: str | None) -> str:
    """``name`` without any partner tag, whitespace collapsed (the title partners see)."""
    text = name or ""
    for pattern in _TAG_PATTERNS.values():
        text = pattern.sub(" ", text)
    return " ".join(text.split())


# --- text -------------------------------------------------------------------------------------


def clean_text(value: Any) -> str | None:
    """A HubSpot string value stripped; ``None`` for missing or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def truncate(text: str | None, limit: int) -> str | None:
    """``text`` cut to at most ``limit`` characters (an ellipsis marks a cut); ``None`` stays."""
    if text is None:
        return None
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    return text[: limit - 1].rstrip() + "…"


# --- dates ------------------------------------------------------------------------------------


def parse_datetime(value: Any) -> datetime | None:
    """A HubSpot/partner timestamp as an aware UTC datetime.

    Accepts ``datetime``/``date`` objects, epoch milliseconds (int or digit string), and ISO 8601
    strings (``Z`` or offset, with or without time). Unparseable values give ``None``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    text = str(value).strip()
    if re.fullmatch(r"-?\d{9,}", text):
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def iso_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` (the UTC calendar day) of any timestamp form; ``None`` if unparseable."""
    parsed = parse_datetime(value)
    return parsed.date().isoformat() if parsed else None


def hubspot_date(value: Any) -> str | None:
    """A value for a HubSpot ``date`` property: midnight UTC as epoch milliseconds (a string).

    HubSpot rejects a date that is not midnight UTC; epoch ms is accepted by both ``date`` and
    ``datetime`` properties (whether ``closedate`` is one or the other is unconfirmed), and is
    what seed 000 writes for ``closedate``.
    """
    day = iso_date(value)
    if day is None:
        return None
    midnight = datetime.combine(date.fromisoformat(day), time.min, tzinfo=timezone.utc)
    return str(int(midnight.timestamp() * 1000))


def hubspot_datetime(value: Any) -> str | None:
    """A value for a HubSpot ``datetime`` property: ISO 8601 UTC with milliseconds and ``Z``."""
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


# --- amounts ----------------------------------------------------------------------------------


def parse_amount(value: Any) -> Decimal | None:
    """A money amount (string, int, float or Decimal; thousands separators allowed) as Decimal."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).strip().replace(",", "").replace(" ", "")
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            return None
    return amount if amount.is_finite() else None


def amount_string(value: Any) -> str | None:
    """The canonical string of an amount: ``50000``, ``50000.5`` (so 50000 == "50000.00")."""
    amount = parse_amount(value)
    if amount is None:
        return None
    normalised = amount.normalize()
    text = format(normalised, "f")
    return "0" if text in {"-0", "0"} else text


def amount_two_decimals(value: Any) -> str | None:
    """An amount as a plain string with exactly two decimals (``25000.00``)."""
    amount = parse_amount(value)
    if amount is None:
        return None
    return format(amount.quantize(Decimal("0.01")), "f")


def amount_float(value: Any) -> float | None:
    """An amount as a float (JSON number for Microsoft's ``dealValue``)."""
    amount = parse_amount(value)
    return float(amount) if amount is not None else None


# --- HubSpot object shapes --------------------------------------------------------------------


def properties_of(record: dict[str, Any] | None) -> dict[str, Any]:
    """The property map of a HubSpot object; a plain property dict is accepted as is."""
    if not record:
        return {}
    inner = record.get("properties")
    return inner if isinstance(inner, dict) else record


def id_of(record: dict[str, Any] | None) -> str | None:
    """The id of a HubSpot object (``id``, else ``hs_object_id``), as a string."""
    if not record:
        return None
    identifier = record.get("id") or properties_of(record).get("hs_object_id")
    return str(identifier) if identifier not in (None, "") else None
