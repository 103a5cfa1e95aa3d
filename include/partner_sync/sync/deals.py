"""Reading HubSpot deals with what a partner record needs: the deal, its company, its contacts.

One batch read per 100 deals, one association read per object type, and one batch read each
for the companies and contacts found — about five HubSpot calls per hundred deals, whatever the
number of associations, instead of a search or a GET per record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from partner_sync.mapping.deals import parse_datetime, properties_of
from partner_sync.mapping.properties import MANAGED_DEAL_PROPERTIES

#: the deal properties every flow reads (standard ones plus every property the package writes)
DEAL_PROPERTIES: tuple[str, ...] = tuple(
    sorted(
        {
            "dealname", "amount", "closedate", "dealstage", "pipeline", "description",
            "hubspot_owner_id", "deal_currency_code", "hs_lastmodifieddate", "createdate",
        }
        | set(MANAGED_DEAL_PROPERTIES)
    )
)
COMPANY_PROPERTIES: tuple[str, ...] = (
    "name", "domain", "website", "address", "address2", "city", "state", "zip", "country",
    "industry", "phone", "numberofemployees", "hs_lastmodifieddate",
)
CONTACT_PROPERTIES: tuple[str, ...] = (
    "email", "firstname", "lastname", "phone", "mobilephone", "jobtitle", "company",
    "hs_lastmodifieddate",
)
#: contacts read per deal: more than any partner record takes (ACE and Partner Center take ≤5)
CONTACTS_PER_DEAL = 10


@dataclass
class DealRecord:
    """A deal as the sync sees it: HubSpot object plus its primary company and contacts."""

    id: str
    properties: dict[str, Any]
    company: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def modified_at(self):
        return parse_datetime(self.properties.get("hs_lastmodifieddate"))

    def as_object(self) -> dict[str, Any]:
        """The HubSpot object shape (``{"id", "properties"}``) the mapping functions take."""
        return {"id": self.id, "properties": self.properties}


def read_deals(
    hubspot: Any, deal_ids: Iterable[str], with_associations: bool = True
) -> dict[str, DealRecord]:
    """The deals that exist among ``deal_ids`` (missing or archived ones are left out)."""
    ids = list(dict.fromkeys(str(i) for i in deal_ids))
    if not ids:
        return {}
    deals = hubspot.batch_read("deals", ids, list(DEAL_PROPERTIES))
    records = {
        str(deal["id"]): DealRecord(id=str(deal["id"]), properties=properties_of(deal))
        for deal in deals
    }
    if with_associations and records:
        attach_associations(hubspot, records)
    return records


def attach_associations(hubspot: Any, records: dict[str, DealRecord]) -> None:
    """Fill ``company`` and ``contacts`` of each record with two association reads and two
    batch reads in all."""
    deal_ids = list(records)
    company_links = hubspot.batch_read_associations("deals", "companies", deal_ids)
    contact_links = hubspot.batch_read_associations("deals", "contacts", deal_ids)
    company_ids = {ids[0] for ids in company_links.values() if ids}
    contact_ids = {cid for ids in contact_links.values() for cid in ids[:CONTACTS_PER_DEAL]}
    companies = (
        {str(c["id"]): c for c in hubspot.batch_read("companies", sorted(company_ids), list(COMPANY_PROPERTIES))}
        if company_ids else {}
    )
    contacts = (
        {str(c["id"]): c for c in hubspot.batch_read("contacts", sorted(contact_ids), list(CONTACT_PROPERTIES))}
        if contact_ids else {}
    )
    for deal_id, record in records.items():
        linked_companies = company_links.get(deal_id) or []
        record.company = companies.get(str(linked_companies[0])) if linked_companies else None
        record.contacts = [
            contacts[str(cid)]
            for cid in (contact_links.get(deal_id) or [])[:CONTACTS_PER_DEAL]
            if str(cid) in contacts
        ]
