"""HubSpot deals ↔ ACE opportunities: create body, full-replace updates, review locks, tables."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timezone

import botocore.session
import pytest

from partner_sync.mapping import aws, aws_account
from partner_sync.mapping.deals import hubspot_date

MODEL = botocore.session.get_session().get_service_model("partnercentral-selling")


def _fallback_problems(shape, value, path=""):
    """Enum/pattern/required check straight from the model (used if ace_model is absent)."""
    problems = []
    if shape.type_name == "structure":
        for name in shape.required_members:
            if name not in value:
                problems.append((f"{path}.{name}".strip("."), "REQUIRED_FIELD_MISSING"))
        for name, item in value.items():
            assert name in shape.members, f"unknown member {path}.{name}"
            problems += _fallback_problems(shape.members[name], item, f"{path}.{name}".strip("."))
    elif shape.type_name == "list":
        assert len(value) <= int(shape.metadata.get("max", 10**6))
        for index, item in enumerate(value):
            problems += _fallback_problems(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            problems.append((path, "INVALID_ENUM_VALUE"))
        pattern = shape.metadata.get("pattern")
        if pattern and "\\p" not in pattern and not re.fullmatch(pattern, value):
            problems.append((path, "INVALID_STRING_FORMAT"))
    return problems


def model_problems(operation: str, params: dict) -> list:
    try:
        from partner_sync import ace_model
    except ImportError:
        return _fallback_problems(MODEL.operation_model(operation).input_shape, params)
    return ace_model.validate_input(operation, params)


DEAL = {
    "id": "1001",
    "properties": {
        "dealname": "Data lake migration #AWS",
        "description": "Consolidate three regional warehouses into one governed data lake on S3.",
        "amount": "25000",
        "closedate": "2026-12-31T00:00:00.000Z",
        "dealstage": "presentationscheduled",
        "deal_currency_code": "EUR",
    },
}
COMPANY = {
    "id": "77",
    "properties": {
        "name": "Acme Corp",
        "industry": "COMPUTER_SOFTWARE",
        "website": " acme.example ",
        "address": "1 Main St",
        "city": "Seattle",
        "state": "WA",
        "zip": "98101",
        "country": "United States",
    },
}
CONTACTS = [
    {"id": "5", "properties": {"email": "Jane@Acme.Example", "firstname": "Jane", "lastname": "Doe",
                               "phone": "(206) 555-0100", "jobtitle": "CTO"}},
    {"id": "6", "properties": {"email": "bob@acme.example", "firstname": "Bob", "lastname": "Roe",
                               "phone": "not a phone"}},
]


def current_opportunity(review_status: str = "Pending Submission") -> dict:
    """A GetOpportunity output for DEAL, plus fields set in the Partner Central UI."""
    body = aws.deal_to_opportunity(DEAL, COMPANY, CONTACTS)
    body.update({
        "Catalog": "Sandbox",
        "Id": "O1234567",
        "Arn": "arn:aws:partnercentral:us-east-1::catalog/Sandbox/opportunity/O1234567",
        "CreatedDate": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "LastModifiedDate": datetime(2026, 2, 1, 10, 20, 30, tzinfo=timezone.utc),
        "RelatedEntityIdentifiers": {"Solutions": ["S-0000001"]},
        "OpportunityTeam": [{"Email": "rep@partner.example", "FirstName": "Rep", "LastName": "One"}],
    })
    body["Customer"]["Account"]["Duns"] = "123456789"
    body["Project"]["AdditionalComments"] = "Set in the Partner Central UI"
    body["Project"]["CompetitorName"] = "Microsoft Azure"
    body["Marketing"] = {"Source": "None"}
    body["LifeCycle"].update({"ReviewStatus": review_status, "NextSteps": "Workshop in March"})
    return body


# --- create ------------------------------------------------------------------------------------


def test_create_body_passes_the_model():
    body = aws.deal_to_opportunity(DEAL, COMPANY, CONTACTS)
    assert model_problems("CreateOpportunity", {"Catalog": "Sandbox", "ClientToken": "t-1", **body}) == []


def test_create_body_fields():
    body = aws.deal_to_opportunity(DEAL, COMPANY, CONTACTS)
    assert body["Origin"] == "Partner Referral"
    assert body["OpportunityType"] == "Net New Business"
    assert body["PartnerOpportunityIdentifier"] == "1001"
    assert body["PrimaryNeedsFromAws"] == ["Co-Sell - Architectural Validation"]
    assert body["Project"]["Title"] == "Data lake migration"
    assert body["Project"]["DeliveryModels"] == ["SaaS or PaaS"]
    assert body["Project"]["ExpectedCustomerSpend"] == [
        {"Amount": "25000.00", "CurrencyCode": "EUR", "Frequency": "Monthly", "TargetCompany": "AWS"}
    ]
    assert body["LifeCycle"] == {"Stage": "Technical Validation", "TargetCloseDate": "2026-12-31"}
    account = body["Customer"]["Account"]
    assert account["Industry"] == "Software and Internet"
    assert account["WebsiteUrl"] == "https://acme.example"
    assert account["Address"]["CountryCode"] == "US"
    assert body["Customer"]["Contacts"][0] == {
        "Email": "jane@acme.example", "FirstName": "Jane", "LastName": "Doe",
        "BusinessTitle": "CTO", "Phone": "+12065550100",
    }
    assert "Phone" not in body["Customer"]["Contacts"][1]  # unparseable phone dropped


def test_closed_lost_deal_gets_a_closed_lost_reason():
    deal = copy.deepcopy(DEAL)
    deal["properties"].update({"dealstage": "closedlost", "closed_lost_reason": "Price"})
    assert aws.deal_to_opportunity(deal, COMPANY, [])["LifeCycle"]["ClosedLostReason"] == "Price"
    deal["properties"]["closed_lost_reason"] = "they went quiet"
    assert aws.deal_to_opportunity(deal, COMPANY, [])["LifeCycle"]["ClosedLostReason"] == "Other"


def test_long_company_name_is_cut_to_the_model_limit():
    company = copy.deepcopy(COMPANY)
    company["properties"]["name"] = "A" * 300
    assert len(aws.deal_to_opportunity(DEAL, company, [])["Customer"]["Account"]["CompanyName"]) == 120


# --- stage tables ------------------------------------------------------------------------------


@pytest.mark.parametrize(("hubspot", "ace"), sorted(aws.HUBSPOT_STAGE_TO_ACE.items()))
def test_stage_round_trip(hubspot, ace):
    assert aws.ace_stage(hubspot) == ace
    assert aws.hubspot_stage(ace) == hubspot


def test_stage_tables_cover_the_model_enum():
    assert set(aws.ACE_STAGE_TO_HUBSPOT) == set(aws_account.enum_values("CreateOpportunity", "LifeCycle.Stage"))


def test_won_and_lost_stages():
    assert aws.HUBSPOT_STAGE_TO_ACE["closedwon"] == "Launched"
    assert aws.HUBSPOT_STAGE_TO_ACE["closedlost"] == "Closed Lost"


def test_unknown_stages_default_with_a_warning(caplog):
    assert aws.ace_stage("custom-stage-1") == "Prospect"
    assert aws.hubspot_stage("Bogus") == "appointmentscheduled"
    assert "custom-stage-1" in caplog.text and "Bogus" in caplog.text


# --- update: full replace ----------------------------------------------------------------------


def test_update_preserves_every_field_we_do_not_manage():
    current = current_opportunity()
    deal = copy.deepcopy(DEAL)
    deal["properties"]["amount"] = "30000"
    body = aws.opportunity_update(current, aws.deal_to_opportunity(deal, COMPANY, CONTACTS))
    assert body["Identifier"] == "O1234567"
    assert body["LastModifiedDate"] == current["LastModifiedDate"]
    assert body["Customer"]["Account"]["Duns"] == "123456789"
    assert body["Project"]["AdditionalComments"] == "Set in the Partner Central UI"
    assert body["Project"]["CompetitorName"] == "Microsoft Azure"
    assert body["Marketing"] == {"Source": "None"}
    assert body["LifeCycle"]["NextSteps"] == "Workshop in March"
    assert body["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "30000.00"
    assert model_problems("UpdateOpportunity", body) == []


def test_update_body_holds_only_update_request_members():
    body = aws.opportunity_update(current_opportunity(), aws.deal_to_opportunity(DEAL, COMPANY, CONTACTS))
    members = set(MODEL.operation_model("UpdateOpportunity").input_shape.members)
    assert set(body) <= members
    for dropped in ("Id", "Arn", "CreatedDate", "RelatedEntityIdentifiers", "OpportunityTeam", "Origin"):
        assert dropped not in body
    assert "ReviewStatus" not in body["LifeCycle"]


def test_no_changes_when_deal_matches():
    current = current_opportunity()
    assert aws.opportunity_changes(current, aws.deal_to_opportunity(DEAL, COMPANY, CONTACTS)) == {}


def test_amount_formats_compare_equal():
    current = current_opportunity()
    current["Project"]["ExpectedCustomerSpend"][0]["Amount"] = "25000"
    assert aws.opportunity_changes(current, aws.deal_to_opportunity(DEAL, COMPANY, CONTACTS)) == {}


def test_changes_name_before_and_after():
    deal = copy.deepcopy(DEAL)
    deal["properties"]["closedate"] = "2027-01-15"
    changes = aws.opportunity_changes(current_opportunity(), aws.deal_to_opportunity(deal, COMPANY, CONTACTS))
    assert changes == {"LifeCycle.TargetCloseDate": {"before": "2026-12-31", "after": "2027-01-15"}}


def test_title_is_immutable_after_submission():
    deal = copy.deepcopy(DEAL)
    deal["properties"]["dealname"] = "Renamed #AWS"
    desired = aws.deal_to_opportunity(deal, COMPANY, CONTACTS)
    assert "Project.Title" in aws.opportunity_changes(current_opportunity(), desired)
    approved = current_opportunity("Approved")
    assert "Project.Title" not in aws.opportunity_changes(approved, desired)
    assert aws.opportunity_update(approved, desired)["Project"]["Title"] == "Data lake migration"


def test_action_required_allows_only_the_whitelist():
    deal = copy.deepcopy(DEAL)
    deal["properties"].update({"dealname": "Renamed #AWS", "dealstage": "contractsent",
                               "amount": "40000", "closedate": "2027-03-01"})
    company = copy.deepcopy(COMPANY)
    company["properties"].update({"name": "Acme Renamed", "website": "acme.example/new"})
    current = current_opportunity("Action Required")
    changes = aws.opportunity_changes(current, aws.deal_to_opportunity(deal, company, CONTACTS))
    assert set(changes) == {"Project.ExpectedCustomerSpend.Amount", "LifeCycle.TargetCloseDate",
                            "Customer.Account.WebsiteUrl"}
    assert set(changes) <= aws.ACTION_REQUIRED_EDITABLE
    body = aws.opportunity_update(current, aws.deal_to_opportunity(deal, company, CONTACTS))
    assert body["LifeCycle"]["Stage"] == "Technical Validation"
    assert body["Customer"]["Account"]["CompanyName"] == "Acme Corp"


@pytest.mark.parametrize(("status", "locked"), [
    ("Pending Submission", False), ("Submitted", True), ("In review", True),
    ("Approved", False), ("Rejected", True), ("Action Required", False),
])
def test_review_lock(status, locked):
    assert aws.is_review_locked(current_opportunity(status)) is locked


def test_closed_lost_reason_removed_when_reopened():
    current = current_opportunity()
    current["LifeCycle"].update({"Stage": "Closed Lost", "ClosedLostReason": "Price"})
    body = aws.opportunity_update(current, aws.deal_to_opportunity(DEAL, COMPANY, CONTACTS))
    assert body["LifeCycle"]["Stage"] == "Technical Validation"
    assert "ClosedLostReason" not in body["LifeCycle"]


# --- contacts and company (seed 003 feature 1) -------------------------------------------------


def test_apply_account_and_contacts_preserves_everything_else():
    current = current_opportunity()
    company = copy.deepcopy(COMPANY)
    company["properties"].update({"city": "Portland", "state": "OR", "zip": "97201",
                                  "industry": "BANKING", "website": "https://acme.bank"})
    contacts = [{"properties": {"email": "new@acme.example", "firstname": "New", "lastname": "Person"}}]
    body = aws.apply_account_and_contacts(current, company, contacts)
    account = body["Customer"]["Account"]
    assert account["Address"]["City"] == "Portland"
    assert account["Industry"] == "Financial Services"
    assert account["WebsiteUrl"] == "https://acme.bank"
    assert account["Duns"] == "123456789"
    assert body["Customer"]["Contacts"] == [{"Email": "new@acme.example", "FirstName": "New", "LastName": "Person"}]
    assert body["Project"] == {k: v for k, v in current["Project"].items()}
    assert body["LifeCycle"]["NextSteps"] == "Workshop in March"
    assert model_problems("UpdateOpportunity", body) == []


def test_apply_contacts_only_keeps_account():
    current = current_opportunity()
    body = aws.apply_account_and_contacts(current, None, CONTACTS[:1])
    assert body["Customer"]["Account"] == current["Customer"]["Account"]
    assert len(body["Customer"]["Contacts"]) == 1


# --- industry, phone, website, country ---------------------------------------------------------


def test_industry_table_maps_into_the_model_enum():
    assert set(HUBSPOT_INDUSTRY_OPTIONS) <= set(aws_account.HUBSPOT_INDUSTRY_TO_ACE)
    allowed = set(aws_account.enum_values("CreateOpportunity", "Customer.Account.Industry"))
    assert len(aws_account.HUBSPOT_INDUSTRY_TO_ACE) >= 147
    for value, industry in aws_account.HUBSPOT_INDUSTRY_TO_ACE.items():
        assert industry in allowed, value
        assert aws_account.ace_industry(value) == (industry, None)


HUBSPOT_INDUSTRY_OPTIONS = """ACCOUNTING AIRLINES_AVIATION ALTERNATIVE_DISPUTE_RESOLUTION ALTERNATIVE_MEDICINE
ANIMATION APPAREL_FASHION ARCHITECTURE_PLANNING ARTS_AND_CRAFTS AUTOMOTIVE AVIATION_AEROSPACE BANKING
BIOTECHNOLOGY BROADCAST_MEDIA BUILDING_MATERIALS BUSINESS_SUPPLIES_AND_EQUIPMENT CAPITAL_MARKETS CHEMICALS
CIVIC_SOCIAL_ORGANIZATION CIVIL_ENGINEERING COMMERCIAL_REAL_ESTATE COMPUTER_NETWORK_SECURITY COMPUTER_GAMES
COMPUTER_HARDWARE COMPUTER_NETWORKING COMPUTER_SOFTWARE INTERNET CONSTRUCTION CONSUMER_ELECTRONICS
CONSUMER_GOODS CONSUMER_SERVICES COSMETICS DAIRY DEFENSE_SPACE DESIGN EDUCATION_MANAGEMENT E_LEARNING
ELECTRICAL_ELECTRONIC_MANUFACTURING ENTERTAINMENT ENVIRONMENTAL_SERVICES EVENTS_SERVICES EXECUTIVE_OFFICE
FACILITIES_SERVICES FARMING FINANCIAL_SERVICES FINE_ART FISHERY FOOD_BEVERAGES FOOD_PRODUCTION FUND_RAISING
FURNITURE GAMBLING_CASINOS GLASS_CERAMICS_CONCRETE GOVERNMENT_ADMINISTRATION GOVERNMENT_RELATIONS
GRAPHIC_DESIGN HEALTH_WELLNESS_AND_FITNESS HIGHER_EDUCATION HOSPITAL_HEALTH_CARE HOSPITALITY HUMAN_RESOURCES
IMPORT_AND_EXPORT INDIVIDUAL_FAMILY_SERVICES INDUSTRIAL_AUTOMATION INFORMATION_SERVICES
INFORMATION_TECHNOLOGY_AND_SERVICES INSURANCE INTERNATIONAL_AFFAIRS INTERNATIONAL_TRADE_AND_DEVELOPMENT
INVESTMENT_BANKING INVESTMENT_MANAGEMENT JUDICIARY LAW_ENFORCEMENT LAW_PRACTICE LEGAL_SERVICES
LEGISLATIVE_OFFICE LEISURE_TRAVEL_TOURISM LIBRARIES LOGISTICS_AND_SUPPLY_CHAIN LUXURY_GOODS_JEWELRY MACHINERY
MANAGEMENT_CONSULTING MARITIME MARKET_RESEARCH MARKETING_AND_ADVERTISING MECHANICAL_OR_INDUSTRIAL_ENGINEERING
MEDIA_PRODUCTION MEDICAL_DEVICES MEDICAL_PRACTICE MENTAL_HEALTH_CARE MILITARY MINING_METALS
MOTION_PICTURES_AND_FILM MUSEUMS_AND_INSTITUTIONS MUSIC NANOTECHNOLOGY NEWSPAPERS
NON_PROFIT_ORGANIZATION_MANAGEMENT OIL_ENERGY ONLINE_MEDIA OUTSOURCING_OFFSHORING PACKAGE_FREIGHT_DELIVERY
PACKAGING_AND_CONTAINERS PAPER_FOREST_PRODUCTS PERFORMING_ARTS PHARMACEUTICALS PHILANTHROPY PHOTOGRAPHY
PLASTICS POLITICAL_ORGANIZATION PRIMARY_SECONDARY_EDUCATION PRINTING PROFESSIONAL_TRAINING_COACHING
PROGRAM_DEVELOPMENT PUBLIC_POLICY PUBLIC_RELATIONS_AND_COMMUNICATIONS PUBLIC_SAFETY PUBLISHING
RAILROAD_MANUFACTURE RANCHING REAL_ESTATE RECREATIONAL_FACILITIES_AND_SERVICES RELIGIOUS_INSTITUTIONS
RENEWABLES_ENVIRONMENT RESEARCH RESTAURANTS RETAIL SECURITY_AND_INVESTIGATIONS SEMICONDUCTORS SHIPBUILDING
SPORTING_GOODS SPORTS STAFFING_AND_RECRUITING SUPERMARKETS TELECOMMUNICATIONS TEXTILES THINK_TANKS TOBACCO
TRANSLATION_AND_LOCALIZATION TRANSPORTATION_TRUCKING_RAILROAD UTILITIES VENTURE_CAPITAL_PRIVATE_EQUITY
VETERINARY WAREHOUSING WHOLESALE WINE_AND_SPIRITS WIRELESS WRITING_AND_EDITING""".split()


@pytest.mark.parametrize("option", HUBSPOT_INDUSTRY_OPTIONS)
def test_every_hubspot_industry_option_is_mapped(option):
    industry, other = aws_account.ace_industry(option)
    assert industry in aws_account.enum_values("CreateOpportunity", "Customer.Account.Industry")
    assert industry != "Other" and other is None


def test_unmapped_industry_is_other_with_its_label():
    assert aws_account.ace_industry("SPACE_TOURISM") == ("Other", "Space Tourism")
    assert aws_account.ace_industry("Healthcare") == ("Healthcare", None)
    assert aws_account.ace_industry(None) == (None, None)


@pytest.mark.parametrize(("raw", "e164"), [
    ("(206) 555-0100", "+12065550100"),
    ("206.555.0100", "+12065550100"),
    ("1-206-555-0100", "+12065550100"),
    ("+1 206 555 0100 ext. 12", "+12065550100"),
    ("+44 20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "+442079460958"),
    ("+49 (0)30 123456", "+4930123456"),
    ("020 7946 0958", None),
    ("12345", None),
    ("call me", None),
    ("", None),
    (None, None),
    ("+0123456789", None),
])
def test_phone_numbers_become_e164_or_are_dropped(raw, e164):
    assert aws_account.e164_phone(raw) == e164
    if e164:
        assert re.fullmatch(r"\+[1-9]\d{1,14}", e164)


@pytest.mark.parametrize(("raw", "url"), [
    ("acme.example", "https://acme.example"),
    (" www.acme .example ", "https://www.acme.example"),
    ("http://acme.example", "http://acme.example"),
    ("https://acme.example/path", "https://acme.example/path"),
    ("x", None),
    ("", None),
    ("a" * 300 + ".com", None),
])
def test_website_normalisation(raw, url):
    assert aws_account.website_url(raw) == url


@pytest.mark.parametrize(("name", "code"), [
    ("United States", "US"), ("USA", "US"), ("us", "US"), ("United Kingdom", "GB"), ("UK", "GB"),
    ("Germany", "DE"), ("Deutschland", "DE"), ("South Korea", "KR"), ("Côte d'Ivoire", "CI"),
    ("Bosnia and Herzegovina", "BA"), ("the Netherlands", "NL"), ("Atlantis", None),
])
def test_country_codes(name, code):
    company = {"properties": {"country": name}}
    assert aws_account.address_from_company(company).get("CountryCode") == code


def test_contacts_are_deduplicated_and_limited():
    contacts = [{"properties": {"email": f"p{i}@acme.example", "firstname": "P"}} for i in range(30)]
    contacts.insert(1, {"properties": {"email": "P0@ACME.example"}})
    result = aws_account.contacts_from_hubspot(contacts)
    assert len(result) == aws_account.contact_limit()
    assert len({item["Email"] for item in result}) == len(result)


# --- ACE → HubSpot -----------------------------------------------------------------------------


def test_opportunity_to_deal_properties():
    properties = aws.opportunity_to_deal_properties(current_opportunity("Approved"))
    assert properties["dealname"] == "Data lake migration #AWS"
    assert properties["amount"] == "25000"
    assert properties["closedate"] == hubspot_date("2026-12-31")
    assert properties["dealstage"] == "presentationscheduled"
    assert properties["aws_opportunity_id"] == "O1234567"
    assert properties["aws_review_status"] == "Approved"
    assert properties["aws_lifecycle_stage"] == "Technical Validation"
    assert properties["aws_sync_status"] == "synced"
    assert all(isinstance(value, str) for value in properties.values())


def test_invitation_to_deal_properties():
    invitation = {
        "Id": "engi-0123456789abc", "EngagementId": "eng-0123456789abcd", "Catalog": "Sandbox",
        "EngagementTitle": "Acme lake", "Status": "PENDING", "PayloadType": "OpportunityInvitation",
        "Payload": {"OpportunityInvitation": {
            "Customer": {"CompanyName": "Acme", "Industry": "Retail", "WebsiteUrl": "acme.example",
                         "CountryCode": "US"},
            "Project": {"Title": "Acme lake migration", "BusinessProblem": "x" * 60,
                        "TargetCompletionDate": "2026-10-01",
                        "ExpectedCustomerSpend": [{"Amount": "1000.50", "CurrencyCode": "USD",
                                                   "Frequency": "Monthly", "TargetCompany": "AWS"}]},
            "ReceiverResponsibilities": ["Services Partner"],
        }},
    }
    properties = aws.invitation_to_deal_properties(invitation)
    assert properties["dealname"] == "Acme lake migration #AWS"
    assert properties["aws_invitation_id"] == "engi-0123456789abc"
    assert properties["aws_engagement_id"] == "eng-0123456789abcd"
    assert properties["amount"] == "1000.5"
    assert properties["closedate"] == hubspot_date("2026-10-01")
    assert properties["dealstage"] == "appointmentscheduled"


def test_assignee_from_owner():
    owner = {"id": "9", "firstName": "Ann", "lastName": "Lee", "email": "Ann.Lee@Partner.example"}
    assignee = aws.assignee_from_owner(owner)
    assert assignee == {"FirstName": "Ann", "LastName": "Lee", "Email": "ann.lee@partner.example",
                        "BusinessTitle": "Partner Sales"}
    assert model_problems("AssignOpportunity", {"Catalog": "Sandbox", "Identifier": "O1",
                                                "Assignee": assignee}) == []
    assert aws.assignee_from_owner({**owner, "jobTitle": "AE"})["BusinessTitle"] == "AE"


@pytest.mark.parametrize(("stage", "status"), [
    ("Launched", "Completed"), ("Closed Lost", "Cancelled"), ("Qualified", "Active"), (None, "Active"),
])
def test_engagement_status(stage, status):
    assert aws.engagement_status({"LifeCycle": {"Stage": stage}}) == status


def test_synced_fields_agree_when_in_sync():
    current = current_opportunity()
    assert aws.deal_fields_from_opportunity(current) == aws.opportunity_fields_from_deal(DEAL)
    assert set(aws.deal_fields_from_opportunity(current)) == set(aws.SYNCED_DEAL_FIELDS)


def test_synced_fields_differ_on_a_change():
    deal = copy.deepcopy(DEAL)
    deal["properties"]["amount"] = "26000"
    hubspot_side = aws.opportunity_fields_from_deal(deal)
    partner_side = aws.deal_fields_from_opportunity(current_opportunity())
    assert {name for name in aws.SYNCED_DEAL_FIELDS if hubspot_side[name] != partner_side[name]} == {"amount"}
