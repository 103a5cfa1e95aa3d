"""Three-way conflict detection, value normalisation and every resolution strategy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from partner_sync.conflicts import (
    BOTH_SAME,
    CONFLICT,
    HUBSPOT_CHANGED,
    PARTNER_CHANGED,
    STRATEGIES,
    UNCHANGED,
    FieldChange,
    StrategyConfig,
    detect,
    normalise,
    resolve,
)

UTC = dt.timezone.utc
EARLY = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATE = dt.datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _outcome(base, hubspot, partner, field="amount"):
    (change,) = detect({field: base}, {field: hubspot}, {field: partner}, [field])
    return change.outcome


def _conflict(field="amount", base="10", hubspot="20", partner="30") -> FieldChange:
    (change,) = detect({field: base}, {field: hubspot}, {field: partner}, [field])
    assert change.outcome == CONFLICT
    return change


@pytest.mark.parametrize(
    ("base", "hubspot", "partner", "outcome"),
    [
        ("10", "10", "10", UNCHANGED),
        ("10", "20", "10", HUBSPOT_CHANGED),
        ("10", "10", "30", PARTNER_CHANGED),
        ("10", "20", "20", BOTH_SAME),
        ("10", "20", "30", CONFLICT),
    ],
)
def test_every_outcome(base, hubspot, partner, outcome):
    assert _outcome(base, hubspot, partner) == outcome


def test_numbers_compare_by_value():
    assert _outcome("1000", "1000.00", 1000) == UNCHANGED
    assert _outcome("1000", "1000.50", "1000") == HUBSPOT_CHANGED


def test_dates_compare_by_day():
    assert _outcome("2026-12-31", "2026-12-31T00:00:00Z", dt.date(2026, 12, 31), field="closedate") == UNCHANGED
    epoch_ms = str(int(dt.datetime(2026, 12, 31, tzinfo=UTC).timestamp() * 1000))
    assert _outcome("2026-12-31", epoch_ms, "2026-12-31", field="closedate") == UNCHANGED
    assert _outcome("2026-12-31", "2027-01-15", "2026-12-31T00:00:00.000Z", field="closedate") == HUBSPOT_CHANGED


def test_empty_values_are_equal_and_text_is_trimmed():
    assert _outcome(None, "", "  ", field="description") == UNCHANGED
    assert _outcome("Acme", " Acme ", "Acme", field="company") == UNCHANGED
    assert _outcome("acme", "ACME", "acme", field="company") == HUBSPOT_CHANGED


def test_leading_zeros_keep_text_as_text():
    assert normalise("phone", "0123") == "0123"
    assert normalise("amount", "1000.00") == Decimal("1000")
    assert normalise("flag", "TRUE") is True


def test_a_field_a_side_does_not_report_is_unchanged_on_that_side():
    changes = detect({"amount": "10"}, {"amount": "20"}, {}, ["amount"])
    assert changes[0].outcome == HUBSPOT_CHANGED


def test_a_field_never_synced_is_a_conflict_when_the_sides_differ():
    assert detect({}, {"amount": "10"}, {"amount": "20"}, ["amount"])[0].outcome == CONFLICT
    assert detect({}, {"amount": "10"}, {"amount": "10.0"}, ["amount"])[0].outcome == BOTH_SAME


def test_detect_defaults_to_every_field_and_accepts_a_normaliser():
    changes = detect({"a": "x", "b": "1"}, {"a": "X"}, {"b": "2"}, normaliser=lambda _f, v: str(v).lower())
    assert [(c.field, c.outcome) for c in changes] == [("a", UNCHANGED), ("b", PARTNER_CHANGED)]


def test_non_conflicts_resolve_the_same_under_every_strategy():
    for strategy in STRATEGIES:
        assert resolve(detect({"f": 1}, {"f": 2}, {"f": 1})[0], strategy).winner == "hubspot"
        pulled = resolve(detect({"f": 1}, {"f": 1}, {"f": 3})[0], strategy)
        assert (pulled.winner, pulled.value, pulled.pull_to_hubspot) == ("partner", 3, True)
        converged = resolve(detect({"f": 1}, {"f": 2}, {"f": 2})[0], strategy)
        assert (converged.winner, converged.pending, converged.push_to_partner) == (None, False, False)


def test_hubspot_wins():
    resolution = resolve(_conflict(), "HUBSPOT_WINS", EARLY, LATE)
    assert (resolution.winner, resolution.value, resolution.push_to_partner) == ("hubspot", "20", True)


def test_partner_central_wins():
    resolution = resolve(_conflict(), "PARTNER_CENTRAL_WINS", LATE, EARLY)
    assert (resolution.winner, resolution.value, resolution.pull_to_hubspot) == ("partner", "30", True)


def test_manual_leaves_the_conflict_pending():
    resolution = resolve(_conflict(), "MANUAL", EARLY, LATE)
    assert (resolution.winner, resolution.pending, resolution.value) == (None, True, None)


@pytest.mark.parametrize(
    ("hubspot_at", "partner_at", "winner"),
    [
        (LATE, EARLY, "hubspot"),
        (EARLY, LATE, "partner"),
        (EARLY, EARLY, "hubspot"),  # a tie goes to HubSpot
        (None, None, "hubspot"),  # two unknown times are a tie
        (None, EARLY, "partner"),  # an unknown time loses
        (EARLY, None, "hubspot"),
        ("2026-03-01T10:00:00Z", int(EARLY.timestamp() * 1000), "hubspot"),  # ISO string vs epoch ms
    ],
)
def test_last_write_wins(hubspot_at, partner_at, winner):
    resolution = resolve(_conflict(), "LAST_WRITE_WINS", hubspot_at, partner_at)
    assert resolution.winner == winner
    assert resolution.value == ("20" if winner == "hubspot" else "30")


def test_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="unknown strategy 'NEWEST'"):
        resolve(_conflict(), "NEWEST")


def test_strategy_config_per_field_overrides():
    config = StrategyConfig.from_mapping({"default": "HUBSPOT_WINS", "fields": {"dealstage": "MANUAL"}})
    assert config.strategy_for("dealstage") == "MANUAL"
    assert config.strategy_for("amount") == "HUBSPOT_WINS"
    assert StrategyConfig().strategy_for("amount") == "LAST_WRITE_WINS"
    assert config.as_dict() == {"default": "HUBSPOT_WINS", "fields": {"dealstage": "MANUAL"}}


@pytest.mark.parametrize(
    ("mapping", "fault"),
    [
        ({"default": "NEWEST"}, "default: unknown strategy"),
        ({"fields": {"amount": "X"}}, "fields.amount: unknown strategy"),
        ({"fields": ["amount"]}, "'fields' must be an object"),
        ({"defaults": "MANUAL"}, "unknown keys"),
        (["MANUAL"], "expected a JSON object"),
    ],
)
def test_strategy_config_faults(mapping, fault):
    with pytest.raises(ValueError, match=fault):
        StrategyConfig.from_mapping(mapping)
