"""The Partner Center emulator's OData ``$filter``/``$orderby`` parser."""

from __future__ import annotations

import re

import pytest

from partner_sync.sandbox.partner_center_odata import ODataError, parse_filter, parse_orderby, tokenize

REFERRAL = {
    "id": "r1",
    "name": "O'Brien & Sons",
    "status": "New",
    "qualification": "SalesQualified",
    "direction": "Incoming",
    "updatedDateTime": "2030-05-01T12:00:00.1234567Z",
    "customerProfile": {"name": "Contoso", "address": {"country": "US"}, "team": []},
    "consent": {"consentToContact": True},
    "details": {"dealValue": 5000, "currency": "USD", "notes": None},
    "team": [{"email": "a@x.com"}, {"email": "b@x.com"}],
}


def matches(expression: str) -> bool:
    return parse_filter(expression)(REFERRAL)


@pytest.mark.parametrize("expression, expected", [
    ("status eq 'New'", True),
    ("status ne 'New'", False),
    ("status eq 'new'", False),
    ("details/dealValue gt 4999", True),
    ("details/dealValue ge 5000 and details/dealValue le 5000", True),
    ("details/dealValue lt 5000.5", True),
    ("details/dealValue lt -1", False),
    ("consent/consentToContact eq true", True),
    ("consent/consentToContact eq false", False),
    ("details/notes eq null", True),
    ("details/missing eq null", True),
    ("details/notes ne null", False),
    ("details/notes gt 'a'", False),
    ("name eq 'O''Brien & Sons'", True),
    ("customerProfile/address/country eq 'US' and direction eq 'Incoming'", True),
])
def test_comparisons(expression, expected):
    assert matches(expression) is expected


@pytest.mark.parametrize("expression, expected", [
    ("status eq 'Active' or qualification eq 'SalesQualified'", True),
    ("status eq 'Active' or status eq 'Closed' and qualification eq 'SalesQualified'", False),
    ("(status eq 'Active' or status eq 'New') and qualification eq 'SalesQualified'", True),
    ("not status eq 'Closed'", True),
    ("not (status eq 'New' or status eq 'Active')", False),
    ("not not status eq 'New'", True),
])
def test_boolean_logic_and_precedence(expression, expected):
    assert matches(expression) is expected


@pytest.mark.parametrize("expression, expected", [
    ("updatedDateTime gt 2030-05-01T11:59:59Z", True),
    ("updatedDateTime lt 2030-05-01T12:00:00.2Z", True),
    ("updatedDateTime ge 2030-05-01T14:00:00+02:00", True),
    ("updatedDateTime ge 2030-05-02", False),
    ("updatedDateTime gt '2030-05-01T00:00:00Z'", True),
])
def test_datetime_literals(expression, expected):
    assert matches(expression) is expected


@pytest.mark.parametrize("expression, expected", [
    ("team/any(t:t/email eq 'b@x.com')", True),
    ("team/any(t:t/email eq 'c@x.com')", False),
    ("team/all(t:t/email ne 'c@x.com')", True),
    ("team/any()", True),
    ("customerProfile/team/any()", False),
    ("customerProfile/team/any(m: m/email eq 'a@x.com')", False),
    ("team/any(t: t/email eq 'a@x.com' and status eq 'New')", True),
])
def test_lambdas_over_collections(expression, expected):
    assert matches(expression) is expected


@pytest.mark.parametrize("expression, problem", [
    ("", "empty"),
    ("status eq", "expected a property or a literal"),
    ("status 'New'", "expected a comparison operator"),
    ("status eq 'New", "unterminated string"),
    ("contains(name, 'x')", "function 'contains' is not supported"),
    ("team/count() gt 1", "function 'count' is not supported"),
    ("status in ('New')", "operator 'in' is not supported"),
    ("status eq 'New' and", "expected a property or a literal"),
    ("(status eq 'New'", "expected ')'"),
    ("status eq 'New')", "unexpected token"),
    ("status eq @p", "unexpected character '@'"),
    ("details/dealValue add 1 eq 2", "operator 'add' is not supported"),
])
def test_unsupported_or_malformed_filters_name_the_problem(expression, problem):
    with pytest.raises(ODataError, match=re.escape(problem)):
        parse_filter(expression)


def test_errors_carry_the_position():
    with pytest.raises(ODataError, match="position 10"):
        parse_filter("status eq eq 'x'")


def test_tokenizer_reads_escaped_quotes_and_datetimes():
    tokens = tokenize("name eq 'it''s' and updatedDateTime gt 2030-01-01T00:00:00Z")
    assert [t.kind for t in tokens] == ["name", "name", "string", "name", "name", "name", "datetime", "end"]
    assert tokens[2].value == "it's"


def test_orderby_defaults_and_validation():
    assert parse_orderby(None) == [("createdDateTime", False)]
    assert parse_orderby("updatedDateTime desc, createdDateTime") == [
        ("updatedDateTime", True), ("createdDateTime", False)
    ]
    with pytest.raises(ODataError, match="name"):
        parse_orderby("name")
    with pytest.raises(ODataError, match="sideways"):
        parse_orderby("updatedDateTime sideways")
