"""The HubSpot emulator's fixed schema: object types, default properties, the deal pipeline,
association type ids, and how a property value is validated and normalised.

Values follow the real CRM v3 API (``reference/api-facts.md`` §3): every property value is
stored and returned as a string; ``date`` properties must be midnight UTC (epoch ms or
``YYYY-MM-DD``) and are returned as ``YYYY-MM-DD``; ``datetime`` accepts epoch ms or ISO 8601
and is returned as ISO 8601 with milliseconds; enumerations accept only their option values.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timezone
from typing import Any

#: canonical plural name -> (aliases accepted in URLs, objectTypeId, singular used in webhooks)
OBJECT_TYPES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "contacts": (("contacts", "contact", "0-1"), "0-1", "contact"),
    "companies": (("companies", "company", "0-2"), "0-2", "company"),
    "deals": (("deals", "deal", "0-3"), "0-3", "deal"),
    "notes": (("notes", "note", "0-46"), "0-46", "note"),
}
_ALIASES = {alias: name for name, (aliases, _, _) in OBJECT_TYPES.items() for alias in aliases}


def canonical_object_type(raw: str) -> str | None:
    """``"deal"``, ``"0-3"`` or ``"deals"`` -> ``"deals"``; None when unknown."""
    return _ALIASES.get(raw.lower())


def object_type_id(object_type: str) -> str:
    return OBJECT_TYPES[object_type][1]


def singular(object_type: str) -> str:
    return OBJECT_TYPES[object_type][2]


#: HUBSPOT_DEFINED association type ids: (from, to) -> (default id, primary id or None)
DEFAULT_ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int, int | None]] = {
    ("deals", "contacts"): (3, None),
    ("contacts", "deals"): (4, None),
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
    ("notes", "deals"): (214, None),
    ("deals", "notes"): (213, None),
    ("notes", "contacts"): (202, None),
    ("contacts", "notes"): (201, None),
    ("notes", "companies"): (190, None),
    ("companies", "notes"): (189, None),
}
#: type id -> (from, to, label or None); primary types carry the label "Primary"
ASSOCIATION_TYPE_IDS: dict[int, tuple[str, str, str | None]] = {}
for (_from, _to), (_default, _primary) in DEFAULT_ASSOCIATION_TYPES.items():
    ASSOCIATION_TYPE_IDS[_default] = (_from, _to, None)
    if _primary is not None:
        ASSOCIATION_TYPE_IDS[_primary] = (_from, _to, "Primary")
#: each type id's inverse (the same link seen from the other side)
INVERSE_ASSOCIATION_TYPE: dict[int, int] = {}
for (_from, _to), (_default, _primary) in DEFAULT_ASSOCIATION_TYPES.items():
    _back_default, _back_primary = DEFAULT_ASSOCIATION_TYPES[(_to, _from)]
    INVERSE_ASSOCIATION_TYPE[_default] = _back_default
    if _primary is not None:
        INVERSE_ASSOCIATION_TYPE[_primary] = _back_primary or _back_default
ASSOCIATION_CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK")


def association_type_name(from_type: str, to_type: str, type_id: int) -> str:
    """v3-style association type name, e.g. ``deal_to_company``."""
    name = f"{singular(from_type)}_to_{singular(to_type)}"
    label = ASSOCIATION_TYPE_IDS.get(type_id, ("", "", None))[2]
    return name if label is None else f"{name}_{label.lower()}"


# ---------------------------------------------------------------- deal pipeline
DEAL_STAGES: tuple[tuple[str, str, str, bool], ...] = (
    # id, label, probability, closed
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
)


def default_pipelines(timestamp: str) -> dict[str, dict[str, Any]]:
    """The deal pipelines of a new portal, in the shape ``/crm/v3/pipelines/deals`` returns."""
    stages = [
        {
            "id": stage_id,
            "label": label,
            "displayOrder": order,
            "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
            "createdAt": timestamp,
            "updatedAt": timestamp,
            "archived": False,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }
        for order, (stage_id, label, probability, closed) in enumerate(DEAL_STAGES)
    ]
    return {
        "default": {
            "id": "default",
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "stages": stages,
            "createdAt": timestamp,
            "updatedAt": timestamp,
            "archived": False,
        }
    }


# ---------------------------------------------------------------- default properties
#: HubSpot's company ``industry`` option values (the classic, LinkedIn-derived list)
INDUSTRY_VALUES: tuple[str, ...] = (
    "ACCOUNTING", "AIRLINES_AVIATION", "ALTERNATIVE_DISPUTE_RESOLUTION", "ALTERNATIVE_MEDICINE",
    "ANIMATION", "APPAREL_FASHION", "ARCHITECTURE_PLANNING", "ARTS_AND_CRAFTS", "AUTOMOTIVE",
    "AVIATION_AEROSPACE", "BANKING", "BIOTECHNOLOGY", "BROADCAST_MEDIA", "BUILDING_MATERIALS",
    "BUSINESS_SUPPLIES_AND_EQUIPMENT", "CAPITAL_MARKETS", "CHEMICALS", "CIVIC_SOCIAL_ORGANIZATION",
    "CIVIL_ENGINEERING", "COMMERCIAL_REAL_ESTATE", "COMPUTER_NETWORK_SECURITY", "COMPUTER_GAMES",
    "COMPUTER_HARDWARE", "COMPUTER_NETWORKING", "COMPUTER_SOFTWARE", "INTERNET", "CONSTRUCTION",
    "CONSUMER_ELECTRONICS", "CONSUMER_GOODS", "CONSUMER_SERVICES", "COSMETICS", "DAIRY",
    "DEFENSE_SPACE", "DESIGN", "EDUCATION_MANAGEMENT", "E_LEARNING",
    "ELECTRICAL_ELECTRONIC_MANUFACTURING", "ENTERTAINMENT", "ENVIRONMENTAL_SERVICES",
    "EVENTS_SERVICES", "EXECUTIVE_OFFICE", "FACILITIES_SERVICES", "FARMING", "FINANCIAL_SERVICES",
    "FINE_ART", "FISHERY", "FOOD_BEVERAGES", "FOOD_PRODUCTION", "FUND_RAISING", "FURNITURE",
    "GAMBLING_CASINOS", "GLASS_CERAMICS_CONCRETE", "GOVERNMENT_ADMINISTRATION",
    "GOVERNMENT_RELATIONS", "GRAPHIC_DESIGN", "HEALTH_WELLNESS_AND_FITNESS", "HIGHER_EDUCATION",
    "HOSPITAL_HEALTH_CARE", "HOSPITALITY", "HUMAN_RESOURCES", "IMPORT_AND_EXPORT",
    "INDIVIDUAL_FAMILY_SERVICES", "INDUSTRIAL_AUTOMATION", "INFORMATION_SERVICES",
    "INFORMATION_TECHNOLOGY_AND_SERVICES", "INSURANCE", "INTERNATIONAL_AFFAIRS",
    "INTERNATIONAL_TRADE_AND_DEVELOPMENT", "INVESTMENT_BANKING", "INVESTMENT_MANAGEMENT",
    "JUDICIARY", "LAW_ENFORCEMENT", "LAW_PRACTICE", "LEGAL_SERVICES", "LEGISLATIVE_OFFICE",
    "LEISURE_TRAVEL_TOURISM", "LIBRARIES", "LOGISTICS_AND_SUPPLY_CHAIN", "LUXURY_GOODS_JEWELRY",
    "MACHINERY", "MANAGEMENT_CONSULTING", "MARITIME", "MARKET_RESEARCH",
    "MARKETING_AND_ADVERTISING", "MECHANICAL_OR_INDUSTRIAL_ENGINEERING", "MEDIA_PRODUCTION",
    "MEDICAL_DEVICES", "MEDICAL_PRACTICE", "MENTAL_HEALTH_CARE", "MILITARY", "MINING_METALS",
    "MOTION_PICTURES_AND_FILM", "MUSEUMS_AND_INSTITUTIONS", "MUSIC", "NANOTECHNOLOGY",
    "NEWSPAPERS", "NON_PROFIT_ORGANIZATION_MANAGEMENT", "OIL_ENERGY", "ONLINE_MEDIA",
    "OUTSOURCING_OFFSHORING", "PACKAGE_FREIGHT_DELIVERY", "PACKAGING_AND_CONTAINERS",
    "PAPER_FOREST_PRODUCTS", "PERFORMING_ARTS", "PHARMACEUTICALS", "PHILANTHROPY", "PHOTOGRAPHY",
    "PLASTICS", "POLITICAL_ORGANIZATION", "PRIMARY_SECONDARY_EDUCATION", "PRINTING",
    "PROFESSIONAL_TRAINING_COACHING", "PROGRAM_DEVELOPMENT", "PUBLIC_POLICY",
    "PUBLIC_RELATIONS_AND_COMMUNICATIONS", "PUBLIC_SAFETY", "PUBLISHING", "RAILROAD_MANUFACTURE",
    "RANCHING", "REAL_ESTATE", "RECREATIONAL_FACILITIES_AND_SERVICES", "RELIGIOUS_INSTITUTIONS",
    "RENEWABLES_ENVIRONMENT", "RESEARCH", "RESTAURANTS", "RETAIL", "SECURITY_AND_INVESTIGATIONS",
    "SEMICONDUCTORS", "SHIPBUILDING", "SPORTING_GOODS", "SPORTS", "STAFFING_AND_RECRUITING",
    "SUPERMARKETS", "TELECOMMUNICATIONS", "TEXTILES", "THINK_TANKS", "TOBACCO",
    "TRANSLATION_AND_LOCALIZATION", "TRANSPORTATION_TRUCKING_RAILROAD", "UTILITIES",
    "VENTURE_CAPITAL_PRIVATE_EQUITY", "VETERINARY", "WAREHOUSING", "WHOLESALE",
    "WINE_AND_SPIRITS", "WIRELESS", "WRITING_AND_EDITING", "MOBILE_GAMES",
)

#: name -> (label, type, fieldType, extra) for the built-in properties the emulator knows
_DEFAULTS: dict[str, dict[str, tuple[str, str, str, dict[str, Any]]]] = {
    "deals": {
        "dealname": ("Deal Name", "string", "text", {}),
        "amount": ("Amount", "number", "number", {}),
        "closedate": ("Close Date", "datetime", "date", {}),
        "pipeline": ("Pipeline", "enumeration", "select", {}),
        "dealstage": ("Deal Stage", "enumeration", "radio", {}),
        "description": ("Deal Description", "string", "textarea", {}),
        "hubspot_owner_id": ("Deal owner", "enumeration", "select", {}),
        "deal_currency_code": ("Currency", "enumeration", "select", {"options": ["USD", "EUR", "GBP", "JPY", "AUD", "CAD", "INR"]}),
        "dealtype": ("Deal Type", "enumeration", "radio", {"options": ["newbusiness", "existingbusiness"]}),
        "hs_next_step": ("Next step", "string", "textarea", {}),
        "hs_priority": ("Priority", "enumeration", "select", {"options": ["low", "medium", "high"]}),
        "hs_deal_stage_probability": ("Deal probability", "number", "number", {}),
        "closed_lost_reason": ("Closed Lost Reason", "string", "textarea", {}),
        "closed_won_reason": ("Closed Won Reason", "string", "textarea", {}),
    },
    "contacts": {
        "email": ("Email", "string", "text", {}),
        "firstname": ("First Name", "string", "text", {}),
        "lastname": ("Last Name", "string", "text", {}),
        "phone": ("Phone Number", "string", "phonenumber", {}),
        "mobilephone": ("Mobile Phone Number", "string", "phonenumber", {}),
        "jobtitle": ("Job Title", "string", "text", {}),
        "company": ("Company Name", "string", "text", {}),
        "website": ("Website URL", "string", "text", {}),
        "address": ("Street Address", "string", "text", {}),
        "city": ("City", "string", "text", {}),
        "state": ("State/Region", "string", "text", {}),
        "zip": ("Postal Code", "string", "text", {}),
        "country": ("Country/Region", "string", "text", {}),
        "hubspot_owner_id": ("Contact owner", "enumeration", "select", {}),
        "lifecyclestage": ("Lifecycle Stage", "enumeration", "radio", {"options": ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"]}),
        "lastmodifieddate": ("Last Modified Date", "datetime", "text", {"read_only": True}),
    },
    "companies": {
        "name": ("Name", "string", "text", {}),
        "domain": ("Company Domain Name", "string", "text", {}),
        "website": ("Website URL", "string", "text", {}),
        "address": ("Street Address", "string", "text", {}),
        "address2": ("Street Address 2", "string", "text", {}),
        "city": ("City", "string", "text", {}),
        "state": ("State/Region", "string", "text", {}),
        "zip": ("Postal Code", "string", "text", {}),
        "country": ("Country/Region", "string", "text", {}),
        "industry": ("Industry", "enumeration", "select", {"options": list(INDUSTRY_VALUES)}),
        "phone": ("Phone Number", "string", "phonenumber", {}),
        "numberofemployees": ("Number of Employees", "number", "number", {}),
        "annualrevenue": ("Annual Revenue", "number", "number", {}),
        "description": ("Description", "string", "textarea", {}),
        "hubspot_owner_id": ("Company owner", "enumeration", "select", {}),
        "type": ("Type", "enumeration", "select", {"options": ["PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"]}),
    },
    "notes": {
        "hs_note_body": ("Note body", "string", "html", {}),
        "hs_timestamp": ("Activity date", "datetime", "date", {}),
        "hubspot_owner_id": ("Activity assigned to", "enumeration", "select", {}),
    },
}
#: managed by the emulator on every object; read-only for API writes
_COMMON = {
    "hs_object_id": ("Record ID", "number", "number", {"read_only": True}),
    "createdate": ("Create Date", "datetime", "date", {}),
    "hs_createdate": ("Create Date", "datetime", "date", {"read_only": True}),
    "hs_lastmodifieddate": ("Last Modified Date", "datetime", "date", {"read_only": True}),
}
GROUP_NAMES = {
    "deals": "dealinformation",
    "contacts": "contactinformation",
    "companies": "companyinformation",
    "notes": "engagement",
}
#: properties returned when a read names none (as the real API does for each type)
DEFAULT_RETURNED: dict[str, tuple[str, ...]] = {
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    "contacts": ("email", "firstname", "lastname", "createdate", "lastmodifieddate", "hs_object_id"),
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
#: properties the full-text ``query`` of a search looks at
QUERY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "deals": ("dealname",),
    "contacts": ("firstname", "lastname", "email", "phone", "company", "website"),
    "companies": ("name", "domain", "website", "phone"),
    "notes": ("hs_note_body",),
}
READ_ONLY = {"hs_object_id", "hs_createdate", "hs_lastmodifieddate", "lastmodifieddate"}
PROPERTY_TYPES = ("string", "number", "date", "datetime", "enumeration", "bool", "phone_number")
FIELD_TYPES = (
    "text", "textarea", "date", "file", "number", "select", "radio", "checkbox",
    "booleancheckbox", "calculation_equation", "html", "phonenumber",
)


def option_label(value: str) -> str:
    return value.replace("_", " ").title() if value.isupper() else value


def default_property_definitions(timestamp: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Built-in property definitions by object type, in the shape the properties API returns."""
    definitions: dict[str, dict[str, dict[str, Any]]] = {}
    for object_type, props in _DEFAULTS.items():
        definitions[object_type] = {}
        for order, (name, (label, ptype, field_type, extra)) in enumerate({**props, **_COMMON}.items()):
            options = [
                {"label": option_label(v), "value": v, "displayOrder": i, "hidden": False}
                for i, v in enumerate(extra.get("options", []))
            ]
            if object_type == "deals" and name == "dealstage":
                options = [
                    {"label": label_, "value": sid, "displayOrder": i, "hidden": False}
                    for i, (sid, label_, _, _) in enumerate(DEAL_STAGES)
                ]
            if object_type == "deals" and name == "pipeline":
                options = [{"label": "Sales Pipeline", "value": "default", "displayOrder": 0, "hidden": False}]
            definitions[object_type][name] = property_definition(
                {
                    "name": name, "label": label, "type": ptype, "fieldType": field_type,
                    "groupName": GROUP_NAMES[object_type], "options": options,
                    "displayOrder": order,
                },
                timestamp,
                hubspot_defined=True,
                read_only=bool(extra.get("read_only")),
            )
    return definitions


def property_definition(
    body: dict[str, Any], timestamp: str, hubspot_defined: bool = False, read_only: bool = False
) -> dict[str, Any]:
    """A full property definition from a create body (fields the API fills are added)."""
    return {
        "name": body["name"],
        "label": body["label"],
        "type": body["type"],
        "fieldType": body["fieldType"],
        "description": body.get("description", ""),
        "groupName": body["groupName"],
        "options": [
            {
                "label": o.get("label", o.get("value")),
                "value": o["value"],
                "displayOrder": o.get("displayOrder", i),
                "hidden": bool(o.get("hidden", False)),
            }
            for i, o in enumerate(body.get("options") or [])
        ],
        "displayOrder": body.get("displayOrder", -1),
        "calculated": False,
        "externalOptions": hubspot_defined and body["name"] in ("hubspot_owner_id", "pipeline", "dealstage"),
        "hasUniqueValue": bool(body.get("hasUniqueValue", False)),
        "hidden": bool(body.get("hidden", False)),
        "hubspotDefined": hubspot_defined,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "formField": bool(body.get("formField", False)),
        "createdAt": timestamp,
        "updatedAt": timestamp,
        "archived": False,
    }


# ---------------------------------------------------------------- values
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def valid_property_name(name: Any) -> bool:
    return isinstance(name, str) and bool(_NAME.match(name)) and len(name) <= 100


def iso_millis(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_moment(value: str) -> datetime | None:
    """Epoch ms or ISO 8601 (date or date-time) -> aware datetime; None if unparseable."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        try:
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def epoch_millis(value: str) -> float | None:
    moment = parse_moment(value)
    return None if moment is None else moment.timestamp() * 1000


def value_text(value: Any) -> str | None:
    """A JSON property value as the string HubSpot would store; None if not a scalar."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def property_error(name: str, code: str, message: str) -> dict[str, Any]:
    """One entry of the "Property values were not valid" list."""
    return {
        "isValid": False,
        "message": message,
        "error": code,
        "name": name,
        "localizedErrorMessage": message,
    }


def normalise_value(
    definition: dict[str, Any] | None, name: str, raw: Any, allowed_options: list[str] | None = None
) -> tuple[str | None, dict[str, Any] | None]:
    """Validate one property value against its definition: (stored text, None) or (None, error)."""
    if definition is None:
        return None, property_error(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    text = value_text(raw)
    if text is None:
        return None, property_error(name, "INVALID_VALUE", f"{json.dumps(raw)} is not a valid value for {name}")
    if text == "":
        return "", None
    ptype = definition["type"]
    if ptype == "number":
        try:
            number = float(text)
        except ValueError:
            return None, property_error(name, "INVALID_FLOAT", f'"{text}" is not a valid number')
        if not math.isfinite(number):
            return None, property_error(name, "INVALID_FLOAT", f'"{text}" is not a valid number')
        return text.strip(), None
    if ptype == "bool":
        if text.lower() not in ("true", "false"):
            return None, property_error(name, "INVALID_BOOLEAN", f'"{text}" is not a valid boolean')
        return text.lower(), None
    if ptype == "date":
        moment = parse_moment(text)
        if moment is None:
            return None, property_error(name, "INVALID_DATE", f'"{text}" is not a valid date')
        if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
            return None, property_error(
                name, "INVALID_DATE",
                f"{text} is at {moment.strftime('%H:%M:%S.%f')[:-3]} UTC, not midnight!",
            )
        return moment.date().isoformat(), None
    if ptype == "datetime":
        moment = parse_moment(text)
        if moment is None:
            return None, property_error(name, "INVALID_DATETIME", f'"{text}" is not a valid datetime')
        return iso_millis(moment), None
    if ptype == "enumeration":
        options = allowed_options if allowed_options is not None else [o["value"] for o in definition["options"]]
        if definition.get("externalOptions") and allowed_options is None:
            return text, None
        values = text.split(";") if definition["fieldType"] == "checkbox" else [text]
        bad = [v for v in values if v not in options]
        if bad:
            return None, property_error(
                name, "INVALID_OPTION",
                f"{bad[0]} was not one of the allowed options: {', '.join(options[:50])}",
            )
        return text, None
    return text, None
