"""Demo scenario of the Partner Center emulator: incoming referrals from Microsoft.

Seven referrals across every status, shaped like api-facts §2.2's example, with stable ids (so
a demo run can be repeated) and dates relative to the moment of seeding. One is an unanswered
incoming referral older than 14 days, which the emulator expires (Closed/Expired) when read.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from partner_sync.sandbox.partner_center_rules import format_datetime

_NAMESPACE = uuid.UUID("6f1d3c1e-6d0a-4d55-9a43-2b1b7b4c9e10")

# (customer, city, state, postal code, country, size, status, substatus, qualification,
#  deal value, days since created, days since updated, contact first, last, email domain)
_DEMO = [
    ("Contoso Ltd", "Redmond", "WA", "98052", "US", "251to1000employees", "New", "Pending",
     "SalesQualified", 50000, 2, 2, "Avery", "Howard", "contoso.com"),
    ("Fabrikam Inc", "Austin", "TX", "78701", "US", "51to250employees", "New", "Received",
     "MarketingQualified", 18000, 5, 1, "Jordan", "Kim", "fabrikam.com"),
    ("Northwind Traders", "Seattle", "WA", "98101", "US", "1001to5000employees", "Active", "Accepted",
     "SalesQualified", 120000, 20, 3, "Riley", "Chen", "northwindtraders.com"),
    ("Adventure Works Cycles", "Toronto", "ON", "M5H 2N2", "CA", "10to50employees", "Active", "Accepted",
     "Direct", 9500, 9, 4, "Sam", "Patel", "adventure-works.com"),
    ("Tailspin Toys", "London", "", "EC1A 1BB", "GB", "5001to10000employees", "Closed", "Won",
     "SalesQualified", 240000, 60, 10, "Morgan", "Davies", "tailspintoys.com"),
    ("Wide World Importers", "Sydney", "NSW", "2000", "AU", "251to1000employees", "Closed", "Declined",
     "MarketingQualified", 30000, 30, 25, "Casey", "Nguyen", "wideworldimporters.com"),
    ("Litware Inc", "Chicago", "IL", "60601", "US", "1to9employees", "New", "Pending",
     "Direct", 4000, 16, 16, "Taylor", "Brooks", "litware.com"),
]


def demo_referrals(now: datetime) -> list[dict[str, Any]]:
    """The demo referrals as Microsoft returns them (the emulator fills eTags)."""
    referrals = []
    for (customer, city, state, postal_code, country, size, status, substatus, qualification,
         deal_value, created_days, updated_days, first, last, domain) in _DEMO:
        created = now - timedelta(days=created_days, hours=1)
        updated = now - timedelta(days=updated_days)
        contact = {
            "firstName": first, "lastName": last, "email": f"{first.lower()}.{last.lower()}@{domain}",
            "phoneNumber": "+1 425 555 0100",
            "contactPreference": {"locale": "en-US", "disableNotifications": False},
        }
        referrals.append({
            "id": str(uuid.uuid5(_NAMESPACE, customer)),
            "engagementId": str(uuid.uuid5(_NAMESPACE, f"engagement/{customer}")),
            "name": f"{customer} - Microsoft 365 E5 rollout",
            "status": status,
            "substatus": substatus,
            "type": "Independent",
            "qualification": qualification,
            "direction": "Incoming",
            "createdDateTime": format_datetime(created),
            "updatedDateTime": format_datetime(updated),
            "customerProfile": {
                "name": customer,
                "address": {
                    "addressLine1": "1 Main Street", "city": city, "state": state,
                    "postalCode": postal_code, "country": country,
                },
                "size": size,
                "team": [contact],
            },
            "consent": {
                "consentToToShareInfoWithOthers": True,
                "consentToContact": True,
                "consentToShareReferralWithMicrosoftSellers": True,
            },
            "details": {
                "notes": f"{customer} is evaluating Microsoft 365 E5 and needs a deployment partner.",
                "dealValue": deal_value,
                "currency": "USD",
                "closingDateTime": format_datetime(now + timedelta(days=45)),
                "requirements": {"industries": [], "products": [], "services": [], "solutions": []},
            },
            "inviteContext": {
                "notes": "Referred by Microsoft",
                "invitedBy": {"organizationId": "msft", "organizationName": "Microsoft"},
            },
            "team": [],
        })
    return referrals
