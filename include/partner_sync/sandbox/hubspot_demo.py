"""The HubSpot demo scenario: three owners, three companies, five contacts and six deals
(``#AWS``, ``#Microsoft`` and one untagged) with their associations.

Every tagged deal is complete enough for Partner Central and Partner Center: a description of
at least 50 characters, an amount, a future close date, an owner, a company with an address,
industry and website, and contacts with phone numbers. Ids are fixed so demos and docs can
name them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

OWNERS: list[dict[str, Any]] = [
    {"id": "100000001", "userId": 9000001, "email": "maria.garcia@example.com", "firstName": "Maria", "lastName": "Garcia"},
    {"id": "100000002", "userId": 9000002, "email": "james.chen@example.com", "firstName": "James", "lastName": "Chen"},
    {"id": "100000003", "userId": 9000003, "email": "aisha.okafor@example.com", "firstName": "Aisha", "lastName": "Okafor"},
]

COMPANIES: list[dict[str, Any]] = [
    {"id": "2000000001", "properties": {
        "name": "Northwind Logistics", "domain": "northwind-logistics.example.com",
        "website": "https://northwind-logistics.example.com", "address": "410 Terry Ave N",
        "city": "Seattle", "state": "WA", "zip": "98109", "country": "United States",
        "industry": "LOGISTICS_AND_SUPPLY_CHAIN", "phone": "+1 206 555 0100", "numberofemployees": "1200",
        "hubspot_owner_id": "100000001"}},
    {"id": "2000000002", "properties": {
        "name": "Contoso Health", "domain": "contoso-health.example.com",
        "website": "https://contoso-health.example.com", "address": "1 Microsoft Way",
        "city": "Redmond", "state": "WA", "zip": "98052", "country": "United States",
        "industry": "HOSPITAL_HEALTH_CARE", "phone": "+1 425 555 0142", "numberofemployees": "5400",
        "hubspot_owner_id": "100000002"}},
    {"id": "2000000003", "properties": {
        "name": "Fabrikam Software", "domain": "fabrikam.example.com",
        "website": "https://fabrikam.example.com", "address": "500 Boylston St",
        "address2": "Floor 12", "city": "Boston", "state": "MA", "zip": "02116",
        "country": "United States", "industry": "COMPUTER_SOFTWARE", "phone": "+1 617 555 0199",
        "numberofemployees": "310", "hubspot_owner_id": "100000003"}},
]

CONTACTS: list[dict[str, Any]] = [
    {"id": "3000000001", "properties": {"email": "olivia.hart@northwind-logistics.example.com", "firstname": "Olivia", "lastname": "Hart", "phone": "+1 206 555 0111", "jobtitle": "VP Engineering", "company": "Northwind Logistics"}},
    {"id": "3000000002", "properties": {"email": "ben.ito@northwind-logistics.example.com", "firstname": "Ben", "lastname": "Ito", "phone": "+1 206 555 0112", "mobilephone": "+1 206 555 0199", "jobtitle": "Cloud Architect", "company": "Northwind Logistics"}},
    {"id": "3000000003", "properties": {"email": "priya.nair@contoso-health.example.com", "firstname": "Priya", "lastname": "Nair", "phone": "+1 425 555 0143", "jobtitle": "CIO", "company": "Contoso Health"}},
    {"id": "3000000004", "properties": {"email": "tom.fischer@contoso-health.example.com", "firstname": "Tom", "lastname": "Fischer", "phone": "+1 425 555 0144", "jobtitle": "IT Director", "company": "Contoso Health"}},
    {"id": "3000000005", "properties": {"email": "lena.novak@fabrikam.example.com", "firstname": "Lena", "lastname": "Novak", "phone": "+1 617 555 0188", "jobtitle": "CTO", "company": "Fabrikam Software"}},
]

_DEALS: list[tuple[str, str, str, str, int, str, str, str, list[str]]] = [
    # id, name, stage, amount, close in days, owner, company, description, contacts
    ("1000000001", "Northwind data lake migration #AWS", "qualifiedtobuy", "250000", 90, "100000001", "2000000001",
     "Migrate Northwind's on-premises Hadoop cluster and 40 TB of shipment history to an S3 data lake with Athena and Glue.",
     ["3000000001", "3000000002"]),
    ("1000000002", "Northwind fleet telemetry platform #AWS", "presentationscheduled", "120000", 120, "100000002", "2000000001",
     "Real-time telemetry ingestion for 3,000 trucks using Kinesis and Timestream, replacing a legacy MQTT broker.",
     ["3000000002"]),
    ("1000000003", "Contoso Health analytics on Azure #Microsoft", "appointmentscheduled", "180000", 75, "100000002", "2000000002",
     "Deploy Azure Synapse and Power BI for clinical operations reporting across Contoso Health's twelve hospitals.",
     ["3000000003", "3000000004"]),
    ("1000000004", "Contoso Health Teams rollout #Microsoft", "decisionmakerboughtin", "60000", 45, "100000003", "2000000002",
     "Roll out Microsoft Teams Phone and Intune device management for 5,400 staff, including migration from Cisco.",
     ["3000000004"]),
    ("1000000005", "Fabrikam SaaS modernisation #AWS", "qualifiedtobuy", "95000", 100, "100000003", "2000000003",
     "Re-platform Fabrikam's multi-tenant SaaS onto containers with a managed database and identity federation.",
     ["3000000005"]),
    ("1000000006", "Fabrikam support renewal", "contractsent", "15000", 30, "100000001", "2000000003",
     "Annual renewal of Fabrikam's premium support contract; handled directly, not shared with any cloud partner.",
     ["3000000005"]),
]


def demo_objects(today: date | None = None) -> dict[str, list[dict[str, Any]]]:
    """The demo scenario as ``/_sandbox/seed`` objects (close dates relative to ``today``)."""
    today = today or date.today()
    deals = [
        {"id": deal_id, "properties": {
            "dealname": name, "dealstage": stage, "pipeline": "default", "amount": amount,
            "closedate": f"{(today + timedelta(days=days)).isoformat()}T00:00:00.000Z",
            "hubspot_owner_id": owner, "description": description, "deal_currency_code": "USD",
            "dealtype": "newbusiness"}}
        for deal_id, name, stage, amount, days, owner, _company, description, _contacts in _DEALS
    ]
    associations: list[dict[str, Any]] = []
    for deal_id, *_rest, company_id, _description, contact_ids in _DEALS:
        associations.append(_link("deals", deal_id, "companies", company_id, primary=5))
        associations.extend(_link("deals", deal_id, "contacts", c) for c in contact_ids)
    company_of = {c["properties"]["name"]: c["id"] for c in COMPANIES}
    for contact in CONTACTS:
        associations.append(
            _link("contacts", contact["id"], "companies", company_of[contact["properties"]["company"]], primary=1)
        )
    return {
        "owners": [dict(owner) for owner in OWNERS],
        "companies": [dict(company, properties=dict(company["properties"])) for company in COMPANIES],
        "contacts": [dict(contact, properties=dict(contact["properties"])) for contact in CONTACTS],
        "deals": deals,
        "associations": associations,
    }


def _link(from_type: str, from_id: str, to_type: str, to_id: str, primary: int | None = None) -> dict[str, Any]:
    link: dict[str, Any] = {
        "fromObjectType": from_type, "fromObjectId": from_id, "toObjectType": to_type, "toObjectId": to_id,
    }
    if primary is not None:
        default_ids = {5: 341, 1: 279}
        link["associationTypes"] = [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": default_ids[primary]},
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": primary},
        ]
    return link
