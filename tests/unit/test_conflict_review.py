"""The pure parts of conflict review and audit export: answers, typed values, questions, days."""

from __future__ import annotations

import runpy
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from partner_sync.store import Conflict
from partner_sync.sync.audit_export import days_ending_in, render
from partner_sync.sync.conflict_apply import InvalidValueError, check_value, deal_properties
from partner_sync.sync.conflict_review import OPTIONS, conflict_fingerprint, question_body, question_subject

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 5, 4, 10, 30, tzinfo=timezone.utc)


def conflict(**changes) -> Conflict:
    fields = dict(
        id=7, system="aws", deal_id="101", partner_id="O1", field="amount", base_value="25000",
        hubspot_value="30000", partner_value="40000", hubspot_changed_at=NOW, partner_changed_at=None,
        hubspot_changed_by="hubspot", partner_changed_by="aws", strategy="MANUAL", status="pending",
        resolution=None, resolved_value=None, resolved_by=None, created_at=NOW, updated_at=NOW, resolved_at=None,
    )
    return Conflict(**{**fields, **changes})


def test_the_dag_offers_exactly_the_answers_the_apply_step_understands():
    dag_file = runpy.run_path(str(REPO / "dags" / "sync_conflict_review.py"))
    assert (dag_file["KEEP_HUBSPOT"], dag_file["KEEP_PARTNER"], dag_file["USE_ENTERED"]) == OPTIONS


def test_the_question_names_the_field_both_values_and_who_changed_them_when():
    body = question_body(conflict())
    assert "`amount`" in body and "`30000`" in body and "`40000`" in body and "`25000`" in body
    assert "changed 2026-05-04 10:30 UTC by hubspot" in body
    assert "changed at an unknown time by aws" in body
    assert question_subject(conflict()) == "Conflict #7: amount of deal 101 (AWS Partner Central)"


def test_the_fingerprint_follows_the_values_not_the_refresh_times():
    assert conflict_fingerprint(conflict()) == conflict_fingerprint(conflict(updated_at=NOW + timedelta(hours=1)))
    assert conflict_fingerprint(conflict()) == conflict_fingerprint(conflict(hubspot_value="30000.00"))
    assert conflict_fingerprint(conflict()) != conflict_fingerprint(conflict(hubspot_value="31000"))


@pytest.mark.parametrize(("field", "typed", "stored"), [
    ("amount", " 35000.50 ", "35000.50"),
    ("closedate", "2027-01-31", "2027-01-31"),
    ("closedate", "2027-01-31T00:00:00Z", "2027-01-31"),
    ("dealstage", "closedwon", "closedwon"),
    ("dealname", "Lake migration #AWS", "Lake migration"),
    ("description", "Consolidate", "Consolidate"),
])
def test_a_typed_value_is_accepted_in_the_fields_form(field, typed, stored):
    assert check_value(field, typed) == stored


@pytest.mark.parametrize(("field", "typed"), [
    ("amount", "abc"), ("amount", "-5"), ("closedate", "31/01/2027"), ("dealstage", "won"),
    ("dealname", "#AWS"), ("description", "x" * 2001), ("amount", None), ("amount", "  "),
])
def test_a_typed_value_the_field_cannot_hold_is_refused(field, typed):
    with pytest.raises(InvalidValueError):
        check_value(field, typed)


def test_a_chosen_name_keeps_every_partner_tag_of_the_deal():
    assert deal_properties("dealname", "Lake", "Old #AWS #Microsoft", "aws") == {"dealname": "Lake #AWS #Microsoft"}
    assert deal_properties("amount", "40000", "Old #AWS", "aws") == {"amount": "40000"}


def test_export_days_are_the_days_that_end_inside_the_interval():
    day = datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert [d.isoformat() for d in days_ending_in(day + timedelta(hours=1), day + timedelta(days=1, hours=1))] == [
        "2026-03-01"]
    assert len(days_ending_in(day, day + timedelta(days=7))) == 7
    assert days_ending_in(day + timedelta(hours=2), day + timedelta(hours=20)) == []


def test_rendering_is_deterministic():
    entries = [{"b": 1, "a": "é"}, {"seq": 2}]
    assert render(entries) == render(list(entries))
    assert render([])[1] == 0
