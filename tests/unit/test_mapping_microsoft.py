"""HubSpot deals ↔ Microsoft referrals: seed 000's tables, every row, both directions."""

from __future__ import annotations

import copy

import pytest

from partner_sync.mapping import deals, microsoft
from partner_sync.mapping.deals import hubspot_date

# Seed 000, "HubSpot Stage → Microsoft Status/Substatus", every row as written in the seed.
SEED_STAGE_TO_STATUS = [
    ("appointmentscheduled", "New", "Pending"),
    ("qualifiedtobuy", "Active", "Accepted"),
    ("presentationscheduled", "Active", "Engaged"),
    ("decisionmakerboughtin", "Active", "Engaged"),
    ("contractsent", "Active", "Engaged"),
    ("closedwon", "Closed", "Won"),
    ("closedlost", "Closed", "Lost"),
]
# Seed 000, "Microsoft Status → HubSpot Stage", every row.
SEED_STATUS_TO_STAGE = [
    ("New", "Pending", "appointmentscheduled"),
    ("New", "Received", "appointmentscheduled"),
    ("Active", "Accepted", "qualifiedtobuy"),
    ("Active", "Engaged", "presentationscheduled"),
    ("Closed", "Won", "closedwon"),
    ("Closed", "Lost", "closedlost"),
    ("Closed", "Declined", "closedlost"),
    ("Closed", "Expired", "closedlost"),
]

DEAL = {
    "id": "2001",
    "properties": {
        "dealname": "Contoso D365 rollout #Microsoft",
        "description": "Roll out Dynamics 365 Sales to 400 sellers.",
        "amount": "50000",
        "closedate": "2026-11-14T00:00:00Z",
        "dealstage": "qualifiedtobuy",
    },
}
COMPANY = {"id": "31", "properties": {
    "name": "Contoso", "address": "1 Microsoft Way", "city": "Redmond", "state": "WA",
    "zip": "98052", "country": "United States",
}}
CONTACTS = [
    {"id": str(i), "properties": {"firstname": f"First{i}", "lastname": f"Last{i}",
                                  "email": f"Person{i}@Contoso.example", "phone": f"+1 425 555 01{i:02d}"}}
    for i in range(7)
]


def referral(**overrides) -> dict:
    """A referral as Partner Center returns it for DEAL."""
    body = microsoft.deal_to_referral(DEAL, COMPANY, CONTACTS)
    body.update({"id": "61c65491-0000-4000-8000-000000000001", "direction": "Outgoing",
                 "eTag": '"2500ec5a"', "createdDateTime": "2026-01-01T00:00:00Z"})
    body["details"]["dealValue"] = 50000  # as the API returns it (a JSON number)
    body["details"]["closingDateTime"] = "2026-11-14T00:00:00Z"
    body.update(overrides)
    return body


# --- tables ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "status", "substatus"), SEED_STAGE_TO_STATUS)
def test_hubspot_stage_to_microsoft_every_seed_row(stage, status, substatus):
    assert microsoft.HUBSPOT_STAGE_TO_MICROSOFT[stage] == (status, substatus)
    assert microsoft.microsoft_status(stage) == (status, substatus)
    deal = copy.deepcopy(DEAL)
    deal["properties"]["dealstage"] = stage
    body = microsoft.deal_to_referral(deal, COMPANY, [])
    assert (body["status"], body["substatus"]) == (status, substatus)


@pytest.mark.parametrize(("status", "substatus", "stage"), SEED_STATUS_TO_STAGE)
def test_microsoft_to_hubspot_stage_every_seed_row(status, substatus, stage):
    assert microsoft.MICROSOFT_TO_HUBSPOT_STAGE[(status, substatus)] == stage
    properties = microsoft.referral_to_deal_properties(referral(status=status, substatus=substatus))
    assert properties["dealstage"] == stage
    assert properties["microsoft_status"] == status
    assert properties["microsoft_substatus"] == substatus


def test_tables_hold_exactly_the_seed_rows():
    assert len(microsoft.HUBSPOT_STAGE_TO_MICROSOFT) == len(SEED_STAGE_TO_STATUS)
    assert len(microsoft.MICROSOFT_TO_HUBSPOT_STAGE) == len(SEED_STATUS_TO_STAGE)


@pytest.mark.parametrize("stage", ["appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost"])
def test_stage_round_trip_where_the_seed_is_one_to_one(stage):
    assert microsoft.hubspot_stage(*microsoft.microsoft_status(stage)) == stage


def test_unknown_stage_defaults_to_new_pending(caplog):
    assert microsoft.microsoft_status("mystery") == ("New", "Pending")
    assert "mystery" in caplog.text


@pytest.mark.parametrize(("status", "substatus", "stage"), [
    ("Active", "Surprise", "qualifiedtobuy"),
    ("Closed", None, "closedlost"),
    ("Weird", "Thing", "appointmentscheduled"),
    (None, None, "appointmentscheduled"),
])
def test_unknown_status_defaults(status, substatus, stage, caplog):
    assert microsoft.hubspot_stage(status, substatus) == stage
    assert "Unknown referral status" in caplog.text


# --- HubSpot → Microsoft -----------------------------------------------------------------------


def test_deal_to_referral():
    body = microsoft.deal_to_referral(DEAL, COMPANY, CONTACTS)
    assert body["name"] == "Contoso D365 rollout"
    assert body["externalReferenceId"] == "2001"
    assert body["type"] == "Independent"
    assert body["qualification"] == "SalesQualified"
    assert body["consent"]["consentToShareReferralWithMicrosoftSellers"] is False
    assert body["customerProfile"]["name"] == "Contoso"
    assert body["customerProfile"]["address"] == {
        "addressLine1": "1 Microsoft Way", "city": "Redmond", "state": "WA",
        "postalCode": "98052", "country": "US",
    }
    assert body["details"] == {
        "notes": "Roll out Dynamics 365 Sales to 400 sellers.", "dealValue": 50000.0,
        "currency": "USD", "closingDateTime": "2026-11-14T00:00:00Z",
    }
    assert {"type", "customerProfile", "consent", "details"} <= set(body)  # required on create


def test_first_stage_is_not_qualified():
    deal = copy.deepcopy(DEAL)
    deal["properties"]["dealstage"] = "appointmentscheduled"
    assert microsoft.deal_to_referral(deal, COMPANY, [])["qualification"] == "None"


def test_team_is_limited_to_five_contacts():
    team = microsoft.deal_to_referral(DEAL, COMPANY, CONTACTS)["customerProfile"]["team"]
    assert len(team) == 5
    assert team[0] == {"firstName": "First0", "lastName": "Last0", "email": "person0@contoso.example",
                       "phoneNumber": "+1 425 555 0100"}


def test_notes_are_limited_to_500_characters():
    deal = copy.deepcopy(DEAL)
    deal["properties"]["description"] = "word " * 300
    notes = microsoft.deal_to_referral(deal, COMPANY, [])["details"]["notes"]
    assert len(notes) <= 500
    assert notes.startswith("word word")


def test_customer_name_without_company():
    deal = copy.deepcopy(DEAL)
    deal["properties"]["customer_name"] = "Fabrikam"
    body = microsoft.deal_to_referral(deal, None, [])
    assert body["customerProfile"] == {"name": "Fabrikam"}


@pytest.mark.parametrize(("closedate", "expected"), [
    ("2026-11-14", "2026-11-14T00:00:00Z"),
    ("1794614400000", "2026-11-14T00:00:00Z"),
    ("2026-11-14T17:30:00.000Z", "2026-11-14T00:00:00Z"),
])
def test_closedate_forms(closedate, expected):
    deal = copy.deepcopy(DEAL)
    deal["properties"]["closedate"] = closedate
    assert microsoft.deal_to_referral(deal, None, [])["details"]["closingDateTime"] == expected


# --- patch -------------------------------------------------------------------------------------


def test_no_patch_when_equal():
    assert microsoft.referral_patch(referral(), microsoft.deal_to_referral(DEAL, COMPANY, CONTACTS)) == []


def test_no_patch_for_equal_numbers_and_dates():
    current = referral()
    current["details"]["dealValue"] = 50000.0
    current["details"]["closingDateTime"] = "2026-11-14T00:00:00.000Z"
    current["customerProfile"]["team"] = list(reversed(current["customerProfile"]["team"]))
    assert microsoft.referral_patch(current, microsoft.deal_to_referral(DEAL, COMPANY, CONTACTS)) == []


def test_patch_holds_only_the_changed_fields():
    deal = copy.deepcopy(DEAL)
    deal["properties"].update({"amount": "60000", "dealstage": "presentationscheduled"})
    ops = microsoft.referral_patch(referral(), microsoft.deal_to_referral(deal, COMPANY, CONTACTS))
    assert ops == [
        {"op": "replace", "path": "/substatus", "value": "Engaged"},
        {"op": "replace", "path": "/details/dealValue", "value": 60000.0},
    ]
    assert all(op["op"] in ("replace", "add") for op in ops)


def test_patch_adds_missing_fields_and_parents():
    current = referral()
    del current["details"]["notes"]
    del current["customerProfile"]
    ops = microsoft.referral_patch(current, microsoft.deal_to_referral(DEAL, COMPANY, CONTACTS))
    paths = {op["path"]: op for op in ops}
    assert paths["/details/notes"]["op"] == "add"
    assert paths["/customerProfile"]["op"] == "add"
    assert paths["/customerProfile"]["value"]["name"] == "Contoso"


def test_patch_never_moves_status_backwards():
    current = referral(status="Active", substatus="Engaged")
    deal = copy.deepcopy(DEAL)
    deal["properties"]["dealstage"] = "appointmentscheduled"
    ops = microsoft.referral_patch(current, microsoft.deal_to_referral(deal, COMPANY, CONTACTS))
    assert not [op for op in ops if op["path"] in ("/status", "/substatus")]


def test_incoming_referrals_get_status_changes_only():
    current = referral(direction="Incoming")
    deal = copy.deepcopy(DEAL)
    deal["properties"].update({"amount": "1", "dealstage": "closedwon"})
    ops = microsoft.referral_patch(current, microsoft.deal_to_referral(deal, COMPANY, CONTACTS))
    assert {op["path"] for op in ops} == {"/status", "/substatus"}


# --- Microsoft → HubSpot -----------------------------------------------------------------------


def test_referral_to_deal_properties():
    properties = microsoft.referral_to_deal_properties(referral())
    assert properties == {
        "dealname": "Contoso D365 rollout #Microsoft",
        "description": "Roll out Dynamics 365 Sales to 400 sellers.",
        "dealstage": "qualifiedtobuy",
        "amount": "50000",
        "deal_currency_code": "USD",
        "closedate": hubspot_date("2026-11-14"),
        "microsoft_referral_id": "61c65491-0000-4000-8000-000000000001",
        "microsoft_status": "Active",
        "microsoft_substatus": "Accepted",
        "customer_name": "Contoso",
        "microsoft_sync_status": "synced",
    }


def test_tag_is_not_doubled():
    properties = microsoft.referral_to_deal_properties(referral(name="Already tagged #microsoft"))
    assert properties["dealname"] == "Already tagged #microsoft"


def test_seed_close_date_field_is_read():
    current = referral()
    del current["details"]["closingDateTime"]
    current["details"]["closeDate"] = "2026-12-01"
    assert microsoft.referral_to_deal_properties(current)["closedate"] == hubspot_date("2026-12-01")


def test_deal_round_trip():
    properties = microsoft.referral_to_deal_properties(referral())
    again = microsoft.deal_to_referral({"id": "2001", "properties": properties}, COMPANY, CONTACTS)
    assert microsoft.referral_patch(referral(), again) == []


def test_closed_referrals():
    closed = referral(status="Closed", substatus="Won")
    assert microsoft.is_closed(closed)
    assert not microsoft.is_closed(referral())
    note = microsoft.closed_referral_note(closed, ["amount", "closedate"])
    assert closed["id"] in note and "Closed (Won)" in note
    assert "amount, closedate" in note and "#Microsoft" in note


# --- three-way comparison ----------------------------------------------------------------------


def test_synced_fields():
    assert set(microsoft.SYNCED_DEAL_FIELDS) == {"dealname", "description", "dealstage", "amount", "closedate"}


def test_comparable_values_agree_when_in_sync():
    assert microsoft.deal_fields_from_referral(referral()) == microsoft.referral_fields_from_deal(DEAL)


def test_stages_sharing_a_status_compare_equal():
    current = referral(status="Active", substatus="Engaged")
    deal = copy.deepcopy(DEAL)
    deal["properties"]["dealstage"] = "contractsent"
    assert microsoft.referral_fields_from_deal(deal)["dealstage"] == \
        microsoft.deal_fields_from_referral(current)["dealstage"]


def test_long_descriptions_compare_as_sent():
    deal = copy.deepcopy(DEAL)
    deal["properties"]["description"] = "x" * 900
    current = referral()
    current["details"]["notes"] = microsoft.deal_to_referral(deal, None, [])["details"]["notes"]
    assert microsoft.referral_fields_from_deal(deal)["description"] == \
        microsoft.deal_fields_from_referral(current)["description"]


# --- shared deal helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(("dealname", "systems"), [
    ("Lake #AWS", {"aws"}),
    ("lake #aws", {"aws"}),
    ("#Microsoft D365", {"microsoft"}),
    ("Both #AWS #MICROSOFT", {"aws", "microsoft"}),
    ("#AWS: pilot", {"aws"}),
    ("#AWSOME deal", set()),
    ("x#AWS", set()),
    ("#Microsofty", set()),
    ("AWS Microsoft", set()),
    ("", set()),
    (None, set()),
])
def test_partner_systems(dealname, systems):
    assert deals.partner_systems(dealname) == systems


def test_tags():
    assert deals.with_tag("Lake", "#AWS") == "Lake #AWS"
    assert deals.with_tag("Lake #aws", "#AWS") == "Lake #aws"
    assert deals.with_tag("Lake #AWSOME", "#AWS") == "Lake #AWSOME #AWS"
    assert deals.strip_tags("Lake  #AWS #Microsoft migration") == "Lake migration"


@pytest.mark.parametrize(("value", "day"), [
    ("2026-11-14", "2026-11-14"),
    ("2026-11-14T23:59:59Z", "2026-11-14"),
    ("2026-11-14T23:30:00-05:00", "2026-11-15"),
    ("1794614400000", "2026-11-14"),
    (1794614400000, "2026-11-14"),
    ("not a date", None),
    ("", None),
])
def test_iso_date(value, day):
    assert deals.iso_date(value) == day


def test_hubspot_date_is_midnight_utc_epoch_ms():
    assert deals.hubspot_date("2026-11-14T17:00:00Z") == "1794614400000"
    assert int(deals.hubspot_date("2026-11-14")) % 86_400_000 == 0


@pytest.mark.parametrize(("value", "text"), [
    ("50000", "50000"), (50000.0, "50000"), ("50,000.50", "50000.5"), ("0.00", "0"),
    ("", None), ("abc", None), (None, None),
])
def test_amount_string(value, text):
    assert deals.amount_string(value) == text


def test_amount_two_decimals_and_truncate():
    assert deals.amount_two_decimals("1234.5") == "1234.50"
    assert deals.truncate("abcdef", 4) == "abc…"
    assert deals.truncate("abc", 4) == "abc"
    assert deals.truncate(None, 4) is None
