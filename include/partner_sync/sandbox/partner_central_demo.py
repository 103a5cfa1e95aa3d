"""The Partner Central demo scenario: solutions, users, two pending AWS referrals, an engagement.

Objects are in the shapes ``POST /_sandbox/seed`` takes (see ``partner_central``'s docstring).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any


def demo_objects() -> dict[str, list[dict[str, Any]]]:
    close = (date.today() + timedelta(days=120)).isoformat()
    return {
        "solutions": [
            {"Id": "S-0000001", "Name": "Data Lake Accelerator", "Status": "Active",
             "Category": "Consulting Service"},
            {"Id": "S-0000002", "Name": "Managed Kubernetes Operations", "Status": "Active",
             "Category": "Managed Service"},
            {"Id": "S-0000003", "Name": "Sandbox Analytics SaaS", "Status": "Active",
             "Category": "Software Product"},
            {"Id": "S-0000004", "Name": "Legacy Migration Factory", "Status": "Inactive",
             "Category": "Consulting Service"},
        ],
        "users": [
            {"Email": "alex.rivera@partner.example.com", "FirstName": "Alex", "LastName": "Rivera",
             "BusinessTitle": "PartnerAccountManager"},
            {"Email": "sam.chen@partner.example.com", "FirstName": "Sam", "LastName": "Chen",
             "BusinessTitle": "PartnerSalesManager"},
            {"Email": "jordan.patel@partner.example.com", "FirstName": "Jordan", "LastName": "Patel",
             "BusinessTitle": "SolutionsArchitect"},
        ],
        "engagements": [
            {"Id": "eng-demo0000000001", "Title": "Globex analytics modernisation",
             "Description": "AWS and partners co-selling a warehouse migration at Globex.",
             "CreatedBy": "AWS", "ModifiedBy": "AWS",
             "Contexts": [{"Id": "1", "Type": "CustomerProject", "Payload": {"CustomerProject": {
                 "Customer": {"Industry": "Manufacturing", "CompanyName": "Globex Corporation",
                              "WebsiteUrl": "https://globex.example.com", "CountryCode": "US"},
                 "Project": {"Title": "Globex analytics modernisation",
                             "BusinessProblem": "Nightly batch reports take 9 hours on an on-premises warehouse.",
                             "TargetCompletionDate": close}}}}],
             "Members": [
                 {"CompanyName": "AWS", "AccountId": "AWS"},
                 {"CompanyName": "Example Reseller LLC", "WebsiteUrl": "https://reseller.example.com",
                  "AccountId": "210987654321"},
             ]},
        ],
        "invitations": [
            _invitation("engi-demo000000001", "eng-demo0000000002", "Initech serverless replatform",
                        "Initech Ltd", "Financial Services", "https://initech.example.com",
                        "Legacy loan-processing monolith cannot scale for month-end peaks.",
                        "18000", close,
                        {"Email": "pat.lee@initech.example.com", "FirstName": "Pat",
                         "LastName": "Lee", "BusinessTitle": "CTO", "Phone": "+14155550101"}),
            _invitation("engi-demo000000002", "eng-demo0000000003", "Umbrella genomics pipeline",
                        "Umbrella Health", "Life Sciences", "https://umbrella.example.com",
                        "Genomics pipeline runs on ageing HPC hardware and misses research deadlines.",
                        "42000", close,
                        {"Email": "morgan.diaz@umbrella.example.com", "FirstName": "Morgan",
                         "LastName": "Diaz", "BusinessTitle": "VP Research IT"}),
        ],
    }


def _invitation(
    identifier: str, engagement_id: str, title: str, company: str, industry: str, website: str,
    problem: str, monthly_spend: str, close: str, customer_contact: dict[str, str],
) -> dict[str, Any]:
    return {
        "Id": identifier, "Catalog": "Sandbox", "PayloadType": "OpportunityInvitation",
        "EngagementId": engagement_id, "EngagementTitle": title[:40], "Status": "PENDING",
        "SenderAwsAccountId": "AWS", "SenderCompanyName": "AWS",
        "Receiver": {"Account": {"AwsAccountId": "123456789012", "Alias": "Sandbox Partner"}},
        "InvitationMessage": f"AWS invites you to co-sell with {company}.",
        "Payload": {"OpportunityInvitation": {
            "SenderContacts": [{"Email": "aws-seller@amazon.example.com", "FirstName": "Casey",
                                "LastName": "Nguyen", "BusinessTitle": "AWS Account Manager"}],
            "ReceiverResponsibilities": ["Services Partner"],
            "Customer": {"Industry": industry, "CompanyName": company, "WebsiteUrl": website,
                         "CountryCode": "US"},
            "Project": {"Title": title, "BusinessProblem": problem, "TargetCompletionDate": close,
                        "ExpectedCustomerSpend": [{"Amount": monthly_spend, "CurrencyCode": "USD",
                                                   "Frequency": "Monthly", "TargetCompany": "AWS"}]},
        }},
        # revealed when the invitation is accepted (invitations lack customer contacts)
        "OpportunityDetails": {"Customer": {"Contacts": [customer_contact]}},
    }
