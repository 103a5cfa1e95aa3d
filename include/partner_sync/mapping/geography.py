"""Country names and codes → ISO 3166-1 alpha-2, for both partner systems.

HubSpot's company ``country`` is free text ("United States", "USA", "us", "Deutschland"...);
ACE's ``CountryCode`` and Microsoft's ``address.country`` want ISO alpha-2. English country
names come from Babel's CLDR data (a pinned Airflow dependency), so the table below only holds
the aliases CLDR does not spell: abbreviations, old names and common native names.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

log = logging.getLogger(__name__)

#: what people type → ISO alpha-2, beyond CLDR's English names (keys are normalised names)
COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "uae": "AE",
    "korea": "KR",
    "republic of korea": "KR",
    "korea republic of": "KR",
    "north korea": "KP",
    "russian federation": "RU",
    "czech republic": "CZ",
    "ivory coast": "CI",
    "cote divoire": "CI",
    "holland": "NL",
    "the netherlands": "NL",
    "deutschland": "DE",
    "espana": "ES",
    "brasil": "BR",
    "mexico": "MX",
    "macedonia": "MK",
    "swaziland": "SZ",
    "east timor": "TL",
    "palestine": "PS",
    "vatican": "VA",
    "holy see": "VA",
    "burma": "MM",
    "viet nam": "VN",
    "turkiye": "TR",
    "prc": "CN",
    "peoples republic of china": "CN",
    "republic of china": "TW",
    "hong kong sar": "HK",
    "macau": "MO",
    "macao sar": "MO",
    "congo kinshasa": "CD",
    "democratic republic of the congo": "CD",
    "congo brazzaville": "CG",
    "republic of the congo": "CG",
    "cape verde": "CV",
    "netherlands antilles": "AN",
}


def _normalise_name(name: str) -> str:
    text = re.sub(r"['\u2019`]", "", name)  # "Côte d’Ivoire" and "Cote d'Ivoire" alike
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower().replace("&", " and ")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    try:
        from babel import Locale

        for code, name in Locale("en").territories.items():
            if len(code) == 2 and code.isalpha():
                names[_normalise_name(name)] = code
    except Exception:  # pragma: no cover - Babel ships with Airflow; aliases still work
        log.warning("Babel is unavailable; country names are matched from the alias table only")
    for alias, code in COUNTRY_ALIASES.items():
        names[_normalise_name(alias)] = code
    return names


def country_code(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2 for a country name or code (``"United States"`` → ``"US"``).

    A two-letter input is taken as a code (``"uk"`` → ``"GB"`` through the alias table);
    a three-letter one is tried as a name (``"USA"``). Unknown names give ``None``.
    """
    if not value or not str(value).strip():
        return None
    raw = str(value).strip()
    normalised = _normalise_name(raw)
    if normalised in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[normalised]
    if len(normalised) == 2 and normalised.isalpha():
        return normalised.upper()
    code = _country_names().get(normalised)
    if code is None and normalised.startswith("the "):
        code = _country_names().get(normalised[4:])
    if code is None:
        log.warning("Unknown country %r: left out of the address", raw)
    return code
