"""Three-way conflict detection and resolution for synced deal fields (pure, no I/O).

For every synced field the store keeps the value both sides agreed on at the last sync (the
*base*). Comparing the current HubSpot value and the current partner value (Partner Central
opportunity or Partner Center referral, mapped to HubSpot property names) against that base
gives one of five outcomes:

==================  =================================================  ===================
outcome             meaning                                            what the sync does
==================  =================================================  ===================
``unchanged``       neither side moved                                 nothing
``hubspot_changed`` only HubSpot moved                                 push to the partner
``partner_changed`` only the partner moved                             pull into HubSpot
``both_same``       both moved to the same value (converged)           record the snapshot
``conflict``        both moved, to different values                    apply the strategy
==================  =================================================  ===================

Values are compared after :func:`normalise`, so ``"1000"`` and ``"1000.00"``, or
``2026-12-31`` and ``2026-12-31T00:00:00Z``, are the same value. A field absent from one side's
dict means "that side did not report it" and counts as unchanged; a field absent from the base
(never synced) makes any difference between the sides a conflict.

Strategies (per field, configured by the ``partner_sync_conflict_strategies`` Variable):
``LAST_WRITE_WINS`` (the later modification time wins; **a tie, or two unknown times, goes to
HubSpot**, the system of record for the sales team), ``HUBSPOT_WINS``,
``PARTNER_CENTRAL_WINS`` (the partner side wins, Partner Central or Partner Center) and
``MANUAL`` (the conflict waits for a human in ``sync_conflict_review``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field as dataclass_field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

LAST_WRITE_WINS = "LAST_WRITE_WINS"
HUBSPOT_WINS = "HUBSPOT_WINS"
PARTNER_CENTRAL_WINS = "PARTNER_CENTRAL_WINS"
MANUAL = "MANUAL"
STRATEGIES = (LAST_WRITE_WINS, HUBSPOT_WINS, PARTNER_CENTRAL_WINS, MANUAL)
DEFAULT_STRATEGY = LAST_WRITE_WINS

UNCHANGED = "unchanged"
HUBSPOT_CHANGED = "hubspot_changed"
PARTNER_CHANGED = "partner_changed"
BOTH_SAME = "both_same"
CONFLICT = "conflict"
OUTCOMES = (UNCHANGED, HUBSPOT_CHANGED, PARTNER_CHANGED, BOTH_SAME, CONFLICT)

HUBSPOT = "hubspot"
PARTNER = "partner"

Normaliser = Callable[[str, Any], Any]

_MISSING: Any = object()
_NUMBER = re.compile(r"[+-]?(?:0|[1-9]\d*)(?:\.\d+)?|[+-]?0?\.\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_EPOCH_MS_FLOOR = 100_000_000_000  # numbers above this are epoch milliseconds, not seconds


@dataclass(frozen=True)
class FieldChange:
    """How one field moved since the last sync (raw values as the sides reported them)."""

    field: str
    outcome: str
    base: Any
    hubspot: Any
    partner: Any

    @property
    def is_conflict(self) -> bool:
        return self.outcome == CONFLICT


@dataclass(frozen=True)
class Resolution:
    """What to do with one field.

    ``winner`` is ``"hubspot"`` (write ``value`` to the partner), ``"partner"`` (write
    ``value`` to HubSpot) or ``None``: nothing to write (unchanged / converged), or, when
    ``pending`` is true, a MANUAL conflict waiting for a human.
    """

    field: str
    outcome: str
    strategy: str | None
    winner: str | None
    value: Any
    pending: bool = False

    @property
    def push_to_partner(self) -> bool:
        return self.winner == HUBSPOT and self.outcome in (HUBSPOT_CHANGED, CONFLICT)

    @property
    def pull_to_hubspot(self) -> bool:
        return self.winner == PARTNER and self.outcome in (PARTNER_CHANGED, CONFLICT)


@dataclass(frozen=True)
class StrategyConfig:
    """The default strategy plus per-field overrides (field = HubSpot deal property name)."""

    default: str = DEFAULT_STRATEGY
    fields: Mapping[str, str] = dataclass_field(default_factory=dict)

    def __post_init__(self) -> None:
        check_strategy(self.default, "default")
        for field_name, strategy in self.fields.items():
            if not isinstance(field_name, str) or not field_name:
                raise ValueError(f"field names must be non-empty strings, got {field_name!r}")
            check_strategy(strategy, f"fields.{field_name}")
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def strategy_for(self, field_name: str) -> str:
        return self.fields.get(field_name, self.default)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> StrategyConfig:
        """Build from ``{"default": ..., "fields": {...}}``; raise ValueError on any fault."""
        if not isinstance(config, Mapping):
            raise ValueError(f"expected a JSON object, got {type(config).__name__}")
        unknown = sorted(set(config) - {"default", "fields"})
        if unknown:
            raise ValueError(f"unknown keys {unknown}; allowed: 'default', 'fields'")
        fields = config.get("fields") or {}
        if not isinstance(fields, Mapping):
            raise ValueError(f"'fields' must be an object of field -> strategy, got {type(fields).__name__}")
        return cls(default=config.get("default", DEFAULT_STRATEGY), fields=dict(fields))

    def as_dict(self) -> dict[str, Any]:
        return {"default": self.default, "fields": dict(self.fields)}


def check_strategy(strategy: Any, where: str = "strategy") -> str:
    """Return ``strategy`` if it is one of :data:`STRATEGIES`, else raise ValueError."""
    if strategy not in STRATEGIES:
        raise ValueError(f"{where}: unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    return strategy


def normalise(field: str, value: Any) -> Any:
    """The comparable form of a field value, as either API may spell it.

    Empty (``None``, ``""``, blank) → ``None``; ``"true"``/``"false"`` → bool; numbers and
    numeric strings (no leading zeros, so phone numbers and ids stay text) → Decimal;
    ISO dates and datetimes → ``date`` when at midnight UTC, else an aware UTC datetime;
    epoch milliseconds in a field whose name contains ``date`` → the same; other strings →
    stripped with ``\\r\\n`` folded; lists and dicts element-wise.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        if "date" in field.lower() and abs(value) >= _EPOCH_MS_FLOOR:
            return _normalise_moment(dt.datetime.fromtimestamp(float(value) / 1000, tz=dt.timezone.utc))
        return _decimal(value)
    if isinstance(value, dt.datetime):
        return _normalise_moment(value)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return _normalise_text(field, value)
    if isinstance(value, (list, tuple)):
        return tuple(normalise(field, item) for item in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(key), normalise(str(key), item)) for key, item in value.items()))
    return value


def detect(
    base: Mapping[str, Any],
    hubspot: Mapping[str, Any],
    partner: Mapping[str, Any],
    fields: Iterable[str] | None = None,
    normaliser: Normaliser = normalise,
) -> list[FieldChange]:
    """Classify every field (default: every key of the three dicts, sorted)."""
    base = base or {}
    if fields is None:
        fields = sorted(set(base) | set(hubspot) | set(partner))
    changes = []
    for field_name in fields:
        base_value = base.get(field_name, _MISSING)
        hubspot_value = hubspot.get(field_name, base_value)
        partner_value = partner.get(field_name, base_value)
        outcome = _classify(field_name, base_value, hubspot_value, partner_value, normaliser)
        changes.append(
            FieldChange(
                field=field_name,
                outcome=outcome,
                base=None if base_value is _MISSING else base_value,
                hubspot=None if hubspot_value is _MISSING else hubspot_value,
                partner=None if partner_value is _MISSING else partner_value,
            )
        )
    return changes


def resolve(
    change: FieldChange,
    strategy: str,
    hubspot_changed_at: Any = None,
    partner_changed_at: Any = None,
) -> Resolution:
    """Decide the winner of one field change under ``strategy``.

    Only a ``conflict`` consults the strategy; the other outcomes have one answer.
    ``*_changed_at`` may be datetimes, ISO strings or epoch seconds/milliseconds; for
    LAST_WRITE_WINS an unknown time loses to a known one, and a tie goes to HubSpot.
    """
    check_strategy(strategy)
    if change.outcome == HUBSPOT_CHANGED:
        return Resolution(change.field, change.outcome, strategy, HUBSPOT, change.hubspot)
    if change.outcome == PARTNER_CHANGED:
        return Resolution(change.field, change.outcome, strategy, PARTNER, change.partner)
    if change.outcome in (UNCHANGED, BOTH_SAME):
        return Resolution(change.field, change.outcome, strategy, None, change.hubspot)
    if strategy == HUBSPOT_WINS:
        winner = HUBSPOT
    elif strategy == PARTNER_CENTRAL_WINS:
        winner = PARTNER
    elif strategy == MANUAL:
        return Resolution(change.field, change.outcome, strategy, None, None, pending=True)
    else:
        winner = _later_writer(hubspot_changed_at, partner_changed_at)
    value = change.hubspot if winner == HUBSPOT else change.partner
    return Resolution(change.field, change.outcome, strategy, winner, value)


def to_utc(moment: Any) -> dt.datetime | None:
    """A datetime, ISO string or epoch seconds/milliseconds as an aware UTC datetime."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, dt.datetime):
        return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)
    if isinstance(moment, dt.date):
        return dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.timezone.utc)
    if isinstance(moment, (int, float)) and not isinstance(moment, bool):
        seconds = moment / 1000 if abs(moment) >= _EPOCH_MS_FLOOR else moment
        return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    if isinstance(moment, str):
        text = moment.strip()
        if text.isdigit():
            return to_utc(int(text))
        return to_utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    raise ValueError(f"not a timestamp: {moment!r}")


def _classify(field_name: str, base: Any, hubspot: Any, partner: Any, normaliser: Normaliser) -> str:
    def same(left: Any, right: Any) -> bool:
        if left is _MISSING or right is _MISSING:
            return left is right
        return normaliser(field_name, left) == normaliser(field_name, right)

    hubspot_moved = not same(hubspot, base)
    partner_moved = not same(partner, base)
    if not hubspot_moved and not partner_moved:
        return UNCHANGED
    if hubspot_moved and not partner_moved:
        return HUBSPOT_CHANGED
    if partner_moved and not hubspot_moved:
        return PARTNER_CHANGED
    return BOTH_SAME if same(hubspot, partner) else CONFLICT


def _later_writer(hubspot_changed_at: Any, partner_changed_at: Any) -> str:
    hubspot_time, partner_time = to_utc(hubspot_changed_at), to_utc(partner_changed_at)
    if partner_time is not None and (hubspot_time is None or partner_time > hubspot_time):
        return PARTNER
    return HUBSPOT


def _decimal(value: int | float | Decimal | str) -> Decimal | str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return number.normalize() if number.is_finite() else number


def _normalise_moment(moment: dt.datetime) -> dt.date | dt.datetime:
    moment = to_utc(moment)
    if moment.time() == dt.time(0, 0):
        return moment.date()
    return moment


def _normalise_text(field: str, value: str) -> Any:
    text = value.strip().replace("\r\n", "\n")
    if not text:
        return None
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _NUMBER.fullmatch(text):
        if "date" in field.lower() and text.isdigit() and int(text) >= _EPOCH_MS_FLOOR:
            return normalise(field, int(text))
        return _decimal(text)
    if _DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return text
    if _DATETIME.fullmatch(text):
        try:
            return _normalise_moment(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            return text
    return text
