"""Sandbox data for the end-to-end scenarios: HubSpot deals, incoming referrals, invitations.

Objects are built in the shapes ``POST /_sandbox/seed`` takes (the APIs' own shapes), modelled
on the demo seeds, with ids in a range chosen by the caller so scenarios sharing a stack never
collide. Every ``#AWS`` deal is complete enough for ACE's business rules (a description over
50 characters, amount, future close date, owner, company with address, industry and website,
a contact with a phone number); every ``#Microsoft`` deal is complete enough for Partner Center.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from partner_sync.sandbox.hubspot_demo import OWNERS
from partner_sync.sandbox.partner_center_rules import format_datetime

_NAMESPACE = uuid.UUID("0b8f7f1e-1f0e-4c6a-9a55-3c5a1b2e7d40")
#: ids of deals, companies and contacts are BASE + range start + index
DEAL_BASE, COMPANY_BASE, CONTACT_BASE = 1_000_000_000, 2_000_000_000, 3_000_000_000
#: range starts per scenario (scenarios share a stack: their ids never collide)
RANGE_CORE, RANGE_BAD_INPUT, RANGE_SOAK = 100_000, 200_000, 300_000
INDUSTRIES = ("COMPUTER_SOFTWARE", "HOSPITAL_HEALTH_CARE", "LOGISTICS_AND_SUPPLY_CHAIN", "FINANCIAL_SERVICES", "RETAIL")
CITIES = (("Seattle", "WA", "98109"), ("Boston", "MA", "02116"), ("Austin", "TX", "78701"), ("Chicago", "IL", "60601"))


@dataclass
class HubSpotBatch:
    """Deals (with company, contact and associations) to seed, and their ids by tag."""

    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deal_ids: dict[str, list[str]] = field(default_factory=dict)
    contact_of: dict[str, str] = field(default_factory=dict)

    @property
    def all_deal_ids(self) -> list[str]:
        return [deal_id for ids in self.deal_ids.values() for deal_id in ids]


def hubspot_deals(start: int, counts: dict[str, int], label: str, today: date | None = None) -> HubSpotBatch:
    """``counts`` = ``{"#AWS": n, "#Microsoft": m}``: that many deals per tag, each with its own
    company and contact, ids from ``start``; ``label`` goes into every name (find them later)."""
    today = today or date.today()
    batch = HubSpotBatch(objects={"owners": [dict(owner) for owner in OWNERS], "companies": [], "contacts": [],
                                  "deals": [], "associations": []})
    index = 0
    for tag, count in counts.items():
        batch.deal_ids[tag] = []
        for _ in range(count):
            number = start + index
            deal_id, company_id, contact_id = str(DEAL_BASE + number), str(COMPANY_BASE + number), str(CONTACT_BASE + number)
            city, state, postal_code = CITIES[index % len(CITIES)]
            company = f"{label} Customer {number}"
            domain = f"{label.lower()}-customer-{number}.example.com"
            batch.objects["companies"].append({"id": company_id, "properties": {
                "name": company, "domain": domain, "website": f"https://{domain}", "address": f"{100 + index} Main St",
                "city": city, "state": state, "zip": postal_code, "country": "United States",
                "industry": INDUSTRIES[index % len(INDUSTRIES)], "phone": "+1 206 555 0100", "numberofemployees": "500",
            }})
            batch.objects["contacts"].append({"id": contact_id, "properties": {
                "email": f"buyer{number}@{domain}", "firstname": "Robin", "lastname": f"Buyer{number}",
                "phone": "+1 206 555 0111", "jobtitle": "CIO", "company": company,
            }})
            batch.objects["deals"].append({"id": deal_id, "properties": {
                "dealname": f"{company} cloud migration {tag}", "dealstage": "qualifiedtobuy", "pipeline": "default",
                "amount": str(10_000 + 100 * index),
                "closedate": f"{(today + timedelta(days=60 + index % 30)).isoformat()}T00:00:00.000Z",
                "hubspot_owner_id": OWNERS[index % len(OWNERS)]["id"], "deal_currency_code": "USD",
                "description": f"{company} moves its order management and analytics workloads to the cloud "
                               f"({label} scenario, deal {index}).",
                "dealtype": "newbusiness",
            }})
            batch.objects["associations"].extend([
                _association("deals", deal_id, "companies", company_id, primary=(341, 5)),
                _association("deals", deal_id, "contacts", contact_id),
                _association("contacts", contact_id, "companies", company_id, primary=(279, 1)),
            ])
            batch.deal_ids[tag].append(deal_id)
            batch.contact_of[deal_id] = contact_id
            index += 1
    return batch


def _association(from_type: str, from_id: str, to_type: str, to_id: str,
                 primary: tuple[int, int] | None = None) -> dict[str, Any]:
    association: dict[str, Any] = {"fromObjectType": from_type, "fromObjectId": from_id,
                                   "toObjectType": to_type, "toObjectId": to_id}
    if primary:
        association["associationTypes"] = [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id} for type_id in primary
        ]
    return association


def incoming_referrals(count: int, label: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """``count`` new incoming referrals from Microsoft (status New/Pending), stable ids."""
    now = now or datetime.now(timezone.utc)
    referrals = []
    for index in range(count):
        customer = f"{label} Referral Customer {index:04d}"
        domain = f"{label.lower()}-ref-{index:04d}.example.com"
        referrals.append({
            "id": str(uuid.uuid5(_NAMESPACE, f"{label}/referral/{index}")),
            "engagementId": str(uuid.uuid5(_NAMESPACE, f"{label}/engagement/{index}")),
            "name": f"{customer} - Microsoft 365 E5 rollout",
            "status": "New", "substatus": "Pending", "type": "Independent", "qualification": "SalesQualified",
            "direction": "Incoming",
            "createdDateTime": format_datetime(now - timedelta(hours=1)),
            "updatedDateTime": format_datetime(now - timedelta(minutes=1)),
            "customerProfile": {
                "name": customer,
                "address": {"addressLine1": "1 Main Street", "city": "Redmond", "state": "WA",
                            "postalCode": "98052", "country": "US"},
                "size": "251to1000employees",
                "team": [{"firstName": "Avery", "lastName": f"Howard{index:04d}", "email": f"avery@{domain}",
                          "phoneNumber": "+1 425 555 0100",
                          "contactPreference": {"locale": "en-US", "disableNotifications": False}}],
            },
            "consent": {"consentToToShareInfoWithOthers": True, "consentToContact": True,
                        "consentToShareReferralWithMicrosoftSellers": True},
            "details": {
                "notes": f"{customer} is evaluating Microsoft 365 E5 and needs a deployment partner.",
                "dealValue": 20_000 + index, "currency": "USD",
                "closingDateTime": format_datetime(now + timedelta(days=45)),
                "requirements": {"industries": [], "products": [], "services": [], "solutions": []},
            },
            "inviteContext": {"notes": "Referred by Microsoft",
                              "invitedBy": {"organizationId": "msft", "organizationName": "Microsoft"}},
            "team": [],
        })
    return referrals


def invitations(count: int, label: str, today: date | None = None) -> list[dict[str, Any]]:
    """``count`` pending engagement invitations from AWS (opportunity invitations)."""
    close = ((today or date.today()) + timedelta(days=120)).isoformat()
    items = []
    for index in range(count):
        company = f"{label} Invited Customer {index:04d}"
        suffix = uuid.uuid5(_NAMESPACE, f"{label}/invitation/{index}").hex
        items.append({
            "Id": f"engi-{suffix[:13]}", "Catalog": "Sandbox", "PayloadType": "OpportunityInvitation",
            "EngagementId": f"eng-{suffix[:14]}", "EngagementTitle": f"{label} invitation {index:04d}"[:40],
            "Status": "PENDING", "SenderAwsAccountId": "AWS", "SenderCompanyName": "AWS",
            "Receiver": {"Account": {"AwsAccountId": "123456789012", "Alias": "Sandbox Partner"}},
            "InvitationMessage": f"AWS invites you to co-sell with {company}.",
            "Payload": {"OpportunityInvitation": {
                "SenderContacts": [{"Email": "aws-seller@amazon.example.com", "FirstName": "Casey",
                                    "LastName": "Nguyen", "BusinessTitle": "AWS Account Manager"}],
                "ReceiverResponsibilities": ["Services Partner"],
                "Customer": {"Industry": "Financial Services", "CompanyName": company,
                             "WebsiteUrl": f"https://{label.lower()}-inv-{index:04d}.example.com", "CountryCode": "US"},
                "Project": {"Title": f"{company} serverless replatform",
                            "BusinessProblem": "Legacy loan-processing monolith cannot scale for month-end peaks.",
                            "TargetCompletionDate": close,
                            "ExpectedCustomerSpend": [{"Amount": str(1000 + index), "CurrencyCode": "USD",
                                                       "Frequency": "Monthly", "TargetCompany": "AWS"}]},
            }},
            "OpportunityDetails": {"Customer": {"Contacts": [
                {"Email": f"cto{index:04d}@{label.lower()}-inv.example.com", "FirstName": "Pat",
                 "LastName": f"Lee{index:04d}", "BusinessTitle": "CTO", "Phone": "+14155550101"}]}},
        })
    return items
