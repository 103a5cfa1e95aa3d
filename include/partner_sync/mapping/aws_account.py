"""HubSpot company and contacts → ACE ``Customer`` (Account, Address, Contacts).

Owns the normalisation ACE is strict about: industry (HubSpot's company ``industry`` option
values → ACE's ``Industry`` enumeration), website URL, country code, phone numbers (E.164),
lower-case e-mails and the field lengths of botocore's ``partnercentral-selling`` model.
Model facts (enumerations, limits, members) are read from botocore's own model, never copied.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from partner_sync.ace_model import enum_values, length_limits, member_shape, service_model  # noqa: F401
from partner_sync.mapping.deals import clean_text, properties_of, truncate
from partner_sync.mapping.geography import country_code

log = logging.getLogger(__name__)


# --- model facts: botocore's service model, through ace_model (its one home) ----------------


def max_length(operation: str, path: str) -> int | None:
    """The maximum length of a string member (from ``max`` or a ``.{m,n}`` pattern)."""
    return length_limits(operation, path)[1]


def list_max(operation: str, path: str) -> int | None:
    """The maximum number of items of a list member, if the model sets one."""
    value = member_shape(operation, path).metadata.get("max")
    return int(value) if value is not None else None


# --- industry ---------------------------------------------------------------------------------

#: HubSpot company ``industry`` option value → ACE ``Customer.Account.Industry``.
#: Every option of HubSpot's default industry property (147 values). A value missing here
#: maps to "Other" with the HubSpot label in ``OtherIndustry``.
HUBSPOT_INDUSTRY_TO_ACE: dict[str, str] = {
    "ACCOUNTING": "Professional Services",
    "AIRLINES_AVIATION": "Transportation and Logistics",
    "ALTERNATIVE_DISPUTE_RESOLUTION": "Professional Services",
    "ALTERNATIVE_MEDICINE": "Healthcare",
    "ANIMATION": "Media and Entertainment",
    "APPAREL_FASHION": "Consumer Goods",
    "ARCHITECTURE_PLANNING": "Real Estate and Construction",
    "ARTS_AND_CRAFTS": "Consumer Goods",
    "AUTOMOTIVE": "Automotive",
    "AVIATION_AEROSPACE": "Aerospace",
    "BANKING": "Financial Services",
    "BIOTECHNOLOGY": "Life Sciences",
    "BROADCAST_MEDIA": "Media and Entertainment",
    "BUILDING_MATERIALS": "Manufacturing",
    "BUSINESS_SUPPLIES_AND_EQUIPMENT": "Wholesale and Distribution",
    "CAPITAL_MARKETS": "Financial Services",
    "CHEMICALS": "Manufacturing",
    "CIVIC_SOCIAL_ORGANIZATION": "Non-Profit Organization",
    "CIVIL_ENGINEERING": "Real Estate and Construction",
    "COMMERCIAL_REAL_ESTATE": "Real Estate and Construction",
    "COMPUTER_NETWORK_SECURITY": "Software and Internet",
    "COMPUTER_GAMES": "Gaming",
    "COMPUTER_HARDWARE": "Computers and Electronics",
    "COMPUTER_NETWORKING": "Computers and Electronics",
    "COMPUTER_SOFTWARE": "Software and Internet",
    "INTERNET": "Software and Internet",
    "CONSTRUCTION": "Real Estate and Construction",
    "CONSUMER_ELECTRONICS": "Computers and Electronics",
    "CONSUMER_GOODS": "Consumer Goods",
    "CONSUMER_SERVICES": "Professional Services",
    "COSMETICS": "Consumer Goods",
    "DAIRY": "Agriculture",
    "DEFENSE_SPACE": "Aerospace",
    "DESIGN": "Professional Services",
    "EDUCATION_MANAGEMENT": "Education",
    "E_LEARNING": "Education",
    "ELECTRICAL_ELECTRONIC_MANUFACTURING": "Computers and Electronics",
    "ENTERTAINMENT": "Media and Entertainment",
    "ENVIRONMENTAL_SERVICES": "Energy - Power and Utilities",
    "EVENTS_SERVICES": "Hospitality",
    "EXECUTIVE_OFFICE": "Government",
    "FACILITIES_SERVICES": "Professional Services",
    "FARMING": "Agriculture",
    "FINANCIAL_SERVICES": "Financial Services",
    "FINE_ART": "Media and Entertainment",
    "FISHERY": "Agriculture",
    "FOOD_BEVERAGES": "Consumer Goods",
    "FOOD_PRODUCTION": "Manufacturing",
    "FUND_RAISING": "Non-Profit Organization",
    "FURNITURE": "Consumer Goods",
    "GAMBLING_CASINOS": "Gaming",
    "GLASS_CERAMICS_CONCRETE": "Manufacturing",
    "GOVERNMENT_ADMINISTRATION": "Government",
    "GOVERNMENT_RELATIONS": "Government",
    "GRAPHIC_DESIGN": "Marketing and Advertising",
    "HEALTH_WELLNESS_AND_FITNESS": "Healthcare",
    "HIGHER_EDUCATION": "Education",
    "HOSPITAL_HEALTH_CARE": "Healthcare",
    "HOSPITALITY": "Hospitality",
    "HUMAN_RESOURCES": "Professional Services",
    "IMPORT_AND_EXPORT": "Wholesale and Distribution",
    "INDIVIDUAL_FAMILY_SERVICES": "Non-Profit Organization",
    "INDUSTRIAL_AUTOMATION": "Manufacturing",
    "INFORMATION_SERVICES": "Software and Internet",
    "INFORMATION_TECHNOLOGY_AND_SERVICES": "Software and Internet",
    "INSURANCE": "Financial Services",
    "INTERNATIONAL_AFFAIRS": "Government",
    "INTERNATIONAL_TRADE_AND_DEVELOPMENT": "Wholesale and Distribution",
    "INVESTMENT_BANKING": "Financial Services",
    "INVESTMENT_MANAGEMENT": "Financial Services",
    "JUDICIARY": "Government",
    "LAW_ENFORCEMENT": "Government",
    "LAW_PRACTICE": "Professional Services",
    "LEGAL_SERVICES": "Professional Services",
    "LEGISLATIVE_OFFICE": "Government",
    "LEISURE_TRAVEL_TOURISM": "Travel",
    "LIBRARIES": "Education",
    "LOGISTICS_AND_SUPPLY_CHAIN": "Transportation and Logistics",
    "LUXURY_GOODS_JEWELRY": "Consumer Goods",
    "MACHINERY": "Manufacturing",
    "MANAGEMENT_CONSULTING": "Professional Services",
    "MARITIME": "Transportation and Logistics",
    "MARKET_RESEARCH": "Marketing and Advertising",
    "MARKETING_AND_ADVERTISING": "Marketing and Advertising",
    "MECHANICAL_OR_INDUSTRIAL_ENGINEERING": "Manufacturing",
    "MEDIA_PRODUCTION": "Media and Entertainment",
    "MEDICAL_DEVICES": "Life Sciences",
    "MEDICAL_PRACTICE": "Healthcare",
    "MENTAL_HEALTH_CARE": "Healthcare",
    "MILITARY": "Government",
    "MINING_METALS": "Mining",
    "MOTION_PICTURES_AND_FILM": "Media and Entertainment",
    "MUSEUMS_AND_INSTITUTIONS": "Non-Profit Organization",
    "MUSIC": "Media and Entertainment",
    "NANOTECHNOLOGY": "Computers and Electronics",
    "NEWSPAPERS": "Media and Entertainment",
    "NON_PROFIT_ORGANIZATION_MANAGEMENT": "Non-Profit Organization",
    "OIL_ENERGY": "Energy - Oil and Gas",
    "ONLINE_MEDIA": "Media and Entertainment",
    "OUTSOURCING_OFFSHORING": "Professional Services",
    "PACKAGE_FREIGHT_DELIVERY": "Transportation and Logistics",
    "PACKAGING_AND_CONTAINERS": "Manufacturing",
    "PAPER_FOREST_PRODUCTS": "Manufacturing",
    "PERFORMING_ARTS": "Media and Entertainment",
    "PHARMACEUTICALS": "Life Sciences",
    "PHILANTHROPY": "Non-Profit Organization",
    "PHOTOGRAPHY": "Media and Entertainment",
    "PLASTICS": "Manufacturing",
    "POLITICAL_ORGANIZATION": "Non-Profit Organization",
    "PRIMARY_SECONDARY_EDUCATION": "Education",
    "PRINTING": "Manufacturing",
    "PROFESSIONAL_TRAINING_COACHING": "Education",
    "PROGRAM_DEVELOPMENT": "Non-Profit Organization",
    "PUBLIC_POLICY": "Government",
    "PUBLIC_RELATIONS_AND_COMMUNICATIONS": "Marketing and Advertising",
    "PUBLIC_SAFETY": "Government",
    "PUBLISHING": "Media and Entertainment",
    "RAILROAD_MANUFACTURE": "Manufacturing",
    "RANCHING": "Agriculture",
    "REAL_ESTATE": "Real Estate and Construction",
    "RECREATIONAL_FACILITIES_AND_SERVICES": "Hospitality",
    "RELIGIOUS_INSTITUTIONS": "Non-Profit Organization",
    "RENEWABLES_ENVIRONMENT": "Energy - Power and Utilities",
    "RESEARCH": "Professional Services",
    "RESTAURANTS": "Hospitality",
    "RETAIL": "Retail",
    "SECURITY_AND_INVESTIGATIONS": "Professional Services",
    "SEMICONDUCTORS": "Computers and Electronics",
    "SHIPBUILDING": "Manufacturing",
    "SPORTING_GOODS": "Consumer Goods",
    "SPORTS": "Media and Entertainment",
    "STAFFING_AND_RECRUITING": "Professional Services",
    "SUPERMARKETS": "Retail",
    "TELECOMMUNICATIONS": "Telecommunications",
    "TEXTILES": "Manufacturing",
    "THINK_TANKS": "Non-Profit Organization",
    "TOBACCO": "Consumer Goods",
    "TRANSLATION_AND_LOCALIZATION": "Professional Services",
    "TRANSPORTATION_TRUCKING_RAILROAD": "Transportation and Logistics",
    "UTILITIES": "Energy - Power and Utilities",
    "VENTURE_CAPITAL_PRIVATE_EQUITY": "Financial Services",
    "VETERINARY": "Healthcare",
    "WAREHOUSING": "Transportation and Logistics",
    "WHOLESALE": "Wholesale and Distribution",
    "WINE_AND_SPIRITS": "Consumer Goods",
    "WIRELESS": "Telecommunications",
    "WRITING_AND_EDITING": "Media and Entertainment",
}


def industry_label(value: str) -> str:
    """A readable label for a HubSpot industry value (``"OIL_ENERGY"`` → ``"Oil Energy"``)."""
    return " ".join(part.capitalize() for part in value.replace("_", " ").split())


def ace_industry(hubspot_industry: str | None) -> tuple[str | None, str | None]:
    """(``Industry``, ``OtherIndustry``) for a HubSpot company ``industry`` value.

    An ACE enumeration value passes through; a HubSpot option maps through the table; anything
    else becomes ``("Other", <label>)``. No industry at all gives ``(None, None)`` (a business
    rule then asks the salesperson to set it).
    """
    value = clean_text(hubspot_industry)
    if value is None:
        return None, None
    allowed = enum_values("CreateOpportunity", "Customer.Account.Industry")
    if value in allowed:
        return value, None
    key = re.sub(r"[^A-Z0-9]+", "_", value.upper()).strip("_")
    if key in HUBSPOT_INDUSTRY_TO_ACE:
        return HUBSPOT_INDUSTRY_TO_ACE[key], None
    label = industry_label(value) if value.isupper() or "_" in value else value
    log.info("HubSpot industry %r has no ACE equivalent: sent as Other", value)
    return "Other", truncate(label, max_length("CreateOpportunity", "Customer.Account.OtherIndustry") or 255)


# --- website, phone, e-mail -------------------------------------------------------------------


def website_url(value: str | None) -> str | None:
    """A website as ACE accepts it: spaces removed, ``https://`` added, 4–255 characters."""
    text = re.sub(r"\s+", "", value or "")
    if not text:
        return None
    if not re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
        text = "https://" + text.lstrip("/")
    if not 4 <= len(text) <= 255 or "." not in text:
        log.info("Website %r is not a usable URL: left out", value)
        return None
    return text


#: calling code used for a 10-digit number with no country prefix (NANP: US, Canada, ...)
DEFAULT_CALLING_CODE = "1"


def e164_phone(value: str | None) -> str | None:
    """A phone number in E.164 (``+[1-9]\\d{1,14}``), or ``None`` when it cannot be made one.

    Punctuation, spaces and an extension (``x123``, ``ext. 5``) are dropped; ``00`` becomes
    ``+``; a 10-digit NANP number gets ``+1``, an 11-digit one starting with 1 gets ``+``.
    A number without country code that is not NANP is dropped rather than guessed.
    """
    text = (value or "").strip()
    if not text:
        return None
    text = re.split(r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d+\s*$", text)[0]
    international = text.startswith("+") or text.startswith("00")
    if international:
        text = text.replace("(0)", "")  # "+49 (0)30 …": the trunk 0 is not dialled from abroad
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]
    if not international:
        if len(digits) == 10 and digits[0] in "23456789":
            digits = DEFAULT_CALLING_CODE + digits
        elif len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
            pass
        else:
            log.info("Phone number without a recognisable country code: left out")
            return None
    candidate = "+" + digits
    if re.fullmatch(r"\+[1-9]\d{6,14}", candidate):
        return candidate
    log.info("Phone number not convertible to E.164: left out")
    return None


def contact_email(value: str | None) -> str | None:
    """An e-mail ACE's pattern accepts (lower case, ≤80), else ``None``."""
    text = (clean_text(value) or "").lower()
    if not text or len(text) > 80 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        return None
    return text


# --- account and contacts ---------------------------------------------------------------------

#: how many contacts go to ``Customer.Contacts`` when the model sets no maximum (it sets none
#: in botocore 1.44.5; 10 matches the model's OpportunityTeam maximum)
DEFAULT_CONTACT_LIMIT = 10


def contact_limit() -> int:
    """The maximum number of customer contacts sent to ACE."""
    return list_max("CreateOpportunity", "Customer.Contacts") or DEFAULT_CONTACT_LIMIT


def _limited(value: Any, path: str) -> str | None:
    limit = max_length("CreateOpportunity", path)
    text = clean_text(value)
    if text is None or limit is None:
        return text
    return text[:limit]


def address_from_company(company: dict[str, Any] | None) -> dict[str, str]:
    """``Customer.Account.Address`` from a HubSpot company (members without a value omitted)."""
    props = properties_of(company)
    street = " ".join(
        part for part in (clean_text(props.get("address")), clean_text(props.get("address2"))) if part
    )
    address = {
        "StreetAddress": _limited(street, "Customer.Account.Address.StreetAddress"),
        "City": _limited(props.get("city"), "Customer.Account.Address.City"),
        "StateOrRegion": clean_text(props.get("state")),
        "PostalCode": _limited(props.get("zip"), "Customer.Account.Address.PostalCode"),
        "CountryCode": country_code(props.get("country")),
    }
    allowed = enum_values("CreateOpportunity", "Customer.Account.Address.CountryCode")
    if address["CountryCode"] and address["CountryCode"] not in allowed:
        log.warning("Country code %s is not in ACE's list: left out", address["CountryCode"])
        address["CountryCode"] = None
    return {key: value for key, value in address.items() if value}


def account_from_company(company: dict[str, Any] | None, fallback_name: str | None = None) -> dict[str, Any]:
    """``Customer.Account`` from a HubSpot company; ``fallback_name`` when it has no name."""
    props = properties_of(company)
    industry, other_industry = ace_industry(props.get("industry"))
    account: dict[str, Any] = {
        "CompanyName": _limited(props.get("name") or fallback_name, "Customer.Account.CompanyName"),
        "Industry": industry,
        "OtherIndustry": other_industry,
        "WebsiteUrl": website_url(props.get("website") or props.get("domain")),
    }
    address = address_from_company(company)
    if address:
        account["Address"] = address
    return {key: value for key, value in account.items() if value}


def contact_from_hubspot(contact: dict[str, Any]) -> dict[str, str] | None:
    """A ``Customer.Contacts`` item from a HubSpot contact; ``None`` when it has no usable data."""
    props = properties_of(contact)
    item = {
        "Email": contact_email(props.get("email")),
        "FirstName": _limited(props.get("firstname"), "Customer.Contacts.FirstName"),
        "LastName": _limited(props.get("lastname"), "Customer.Contacts.LastName"),
        "BusinessTitle": _limited(props.get("jobtitle"), "Customer.Contacts.BusinessTitle"),
        "Phone": e164_phone(props.get("phone") or props.get("mobilephone")),
    }
    item = {key: value for key, value in item.items() if value}
    if not (item.get("Email") or item.get("FirstName") or item.get("LastName")):
        return None
    return item


def contacts_from_hubspot(contacts: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """``Customer.Contacts`` from HubSpot contacts, in order, duplicates (by e-mail) removed."""
    result: list[dict[str, str]] = []
    seen: set[str] = set()
    for contact in contacts or []:
        item = contact_from_hubspot(contact)
        if item is None:
            continue
        key = item.get("Email") or f"{item.get('FirstName')}|{item.get('LastName')}"
        if key in seen:
            continue
        seen.add(key)
        result.append(item)
        if len(result) >= contact_limit():
            break
    return result
