"""``update_opportunity`` when the answer to a write is lost: the write is still audited.

A write whose HTTP answer times out may have been applied; botocore retries it, and the retry
(carrying the old ``LastModifiedDate``) gets a ConflictException caused by our own first
attempt. The re-read then shows nothing left to change — and the write must still be audited.
"""

from __future__ import annotations

import copy
from typing import Any

from botocore.exceptions import ClientError

from partner_sync.sync.opportunity_writes import UNCHANGED, UPDATED, update_opportunity

OPPORTUNITY: dict[str, Any] = {
    "Catalog": "Sandbox", "Id": "O1000001", "PartnerOpportunityIdentifier": "1000100000",
    "OpportunityType": "Net New Business", "NationalSecurity": "No",
    "PrimaryNeedsFromAws": ["Co-Sell - Architectural Validation"],
    "Customer": {"Account": {"Industry": "Software and Internet", "CompanyName": "Northwind",
                             "WebsiteUrl": "https://northwind.example.com",
                             "Address": {"City": "Seattle", "PostalCode": "98109", "StateOrRegion": "WA",
                                         "CountryCode": "US", "StreetAddress": "100 Main St"}}},
    "Project": {"DeliveryModels": ["SaaS or PaaS"], "Title": "Northwind data lake",
                "CustomerBusinessProblem": "Northwind moves its order management and analytics to the cloud.",
                "ExpectedCustomerSpend": [{"Amount": "1000.00", "CurrencyCode": "USD", "Frequency": "Monthly",
                                           "TargetCompany": "AWS"}],
                "SalesActivities": ["Initialized discussions with customer"]},
    "LifeCycle": {"Stage": "Qualified", "TargetCloseDate": "2027-01-22", "ReviewStatus": "Pending Submission"},
    "LastModifiedDate": "2026-11-23T15:22:02.726Z",
}


class LostAnswerPartnerCentral:
    """Applies the first UpdateOpportunity, then answers as botocore would after retrying it:
    a ConflictException with ``RetryAttempts`` = 1 (``retried``) or 0."""

    def __init__(self, retried: bool) -> None:
        self.opportunity = copy.deepcopy(OPPORTUNITY)
        self.retried = retried
        self.updates = 0

    def get_opportunity(self, Identifier: str) -> dict[str, Any]:  # noqa: N803 - boto3 name
        return copy.deepcopy(self.opportunity)

    def update_opportunity(self, **body: Any) -> dict[str, Any]:
        self.updates += 1
        if self.updates == 1:
            self.opportunity["Project"] = copy.deepcopy(body["Project"])
            self.opportunity["LastModifiedDate"] = "2026-11-23T15:22:09.000Z"
            raise ClientError(
                {"Error": {"Code": "ConflictException", "Message": "stale LastModifiedDate"},
                 "ResponseMetadata": {"RetryAttempts": 1 if self.retried else 0}},
                "UpdateOpportunity",
            )
        raise AssertionError("a second UpdateOpportunity was sent")


class FakeRun:
    def __init__(self, partner_central: LostAnswerPartnerCentral) -> None:
        self.partner_central = partner_central
        self.audits: list[dict[str, Any]] = []

    def audit(self, **entry: Any) -> None:
        self.audits.append(entry)


def retitle(current: dict[str, Any]) -> dict[str, Any]:
    desired = copy.deepcopy(current)
    desired["Project"]["Title"] = "Northwind data lake and analytics"
    return desired


def test_a_write_applied_before_its_retry_conflicted_is_audited_once() -> None:
    run = FakeRun(LostAnswerPartnerCentral(retried=True))
    outcome = update_opportunity(run, "O1000001", retitle, deal_id="1000100000")
    assert outcome.status == UPDATED
    assert run.partner_central.updates == 1
    assert len(run.audits) == 1 and run.audits[0].get("success", True) is True
    assert run.audits[0]["entity_id"] == "O1000001" and run.audits[0]["changes"]


def test_a_conflict_on_the_first_attempt_is_someone_elses_write_and_not_audited_as_ours() -> None:
    run = FakeRun(LostAnswerPartnerCentral(retried=False))
    outcome = update_opportunity(run, "O1000001", retitle, deal_id="1000100000")
    assert outcome.status == UNCHANGED
    assert run.audits == []
