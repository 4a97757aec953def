"""Postal addresses and phone numbers as customers type them: checked, normalised,
and refused with a message that says what to write and which field to fix."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable


class Invalid(ValueError):
    """A value a customer should correct; `param` names the field, as in Stripe's errors.
    The example the message gives ("such as 10117") also travels on its own as `example`,
    so that a page in another language can say the same in its own words."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.message = message
        self.param = param
        found = EXAMPLE.search(message)
        self.example = found.group(1) if found else None


# "such as K1A 0B1." -> K1A 0B1; "such as CA or California." -> CA; "such as D02 X285, or leave it empty." -> D02 X285
EXAMPLE = re.compile(r"such as (.+?)(?:,? or .+)?\.$")


# Babel knows these codes, but they are not ISO 3166-1 countries (unions, pseudo-locales,
# exceptionally reserved codes); Kosovo's XK stays because payment processors use it.
NOT_COUNTRIES = {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
# Countries without postal codes; a code given anyway is kept as written.
NO_POSTAL_CODES = {
    "AE", "AG", "AO", "AW", "BF", "BI", "BJ", "BO", "BS", "BW", "BZ", "CD", "CF", "CG", "CI", "CK", "CM", "CW", "DJ",
    "DM", "ER", "FJ", "GA", "GD", "GH", "GM", "GQ", "GY", "HK", "JM", "KI", "KM", "KN", "LY", "ML", "MO", "MR", "MW",
    "NR", "NU", "QA", "RW", "SB", "SC", "SL", "SR", "ST", "SX", "SY", "TD", "TG", "TK", "TL", "TO", "TV", "UG", "VU",
    "YE", "ZW",
}
# Countries where a postal code exists but many addresses have none.
OPTIONAL_POSTAL_CODES = {"IE"}


@dataclass(frozen=True)
class PostalFormat:
    pattern: str  # matched against the code upper-cased, with spaces and hyphens removed
    message: str
    shape: Callable[[re.Match[str]], str] = lambda m: m.group(0)


def _digits(count: int, example: str, word: str = "postcode") -> PostalFormat:
    return PostalFormat(rf"\d{{{count}}}", f"Enter a {count}-digit {word}, such as {example}.")


POSTAL_FORMATS = {
    "US": PostalFormat(r"(\d{5})(\d{4})?", "Enter a 5-digit ZIP code, such as 94103.",
                       lambda m: m.group(1) + (f"-{m.group(2)}" if m.group(2) else "")),
    "CA": PostalFormat(r"([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])(\d[ABCEGHJ-NPRSTV-Z]\d)",
                       "Enter a postal code such as K1A 0B1.", lambda m: f"{m.group(1)} {m.group(2)}"),
    "GB": PostalFormat(r"(GIR|[A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})", "Enter a postcode such as SW1A 1AA.",
                       lambda m: f"{m.group(1)} {m.group(2)}"),
    "DE": _digits(5, "10117"),
    "FR": _digits(5, "75008", "postal code"),
    "NL": PostalFormat(r"([1-9]\d{3})([A-Z]{2})", "Enter a postcode of 4 digits and 2 letters, such as 1012 AB.",
                       lambda m: f"{m.group(1)} {m.group(2)}"),
    "ES": PostalFormat(r"(0[1-9]|[1-4]\d|5[0-2])\d{3}", "Enter a 5-digit postal code, such as 28013."),
    "IT": _digits(5, "00184", "postal code"),
    "AU": _digits(4, "2000"),
    "JP": PostalFormat(r"(\d{3})(\d{4})", "Enter a 7-digit postal code, such as 100-0001.",
                       lambda m: f"{m.group(1)}-{m.group(2)}"),
    "IN": PostalFormat(r"[1-9]\d{5}", "Enter a 6-digit PIN code, such as 110001."),
    "BR": PostalFormat(r"(\d{5})(\d{3})", "Enter an 8-digit CEP, such as 01310-100.",
                       lambda m: f"{m.group(1)}-{m.group(2)}"),
    "SE": PostalFormat(r"(\d{3})(\d{2})", "Enter a 5-digit postcode, such as 114 55.",
                       lambda m: f"{m.group(1)} {m.group(2)}"),
    "CH": _digits(4, "8001"),
    "AT": _digits(4, "1010"),
    "BE": _digits(4, "1000"),
    "DK": _digits(4, "1050"),
    "NO": _digits(4, "0150"),
    "PL": PostalFormat(r"(\d{2})(\d{3})", "Enter a postcode such as 00-950.", lambda m: f"{m.group(1)}-{m.group(2)}"),
    "PT": PostalFormat(r"(\d{4})(\d{3})", "Enter a postcode such as 1100-148.",
                       lambda m: f"{m.group(1)}-{m.group(2)}"),
    # Eircode: a routing key (letter, 2 digits; or D6W) and a 4-character unique identifier.
    "IE": PostalFormat(r"([AC-FHKNPRTV-Y]\d{2}|D6W)([0-9AC-FHKNPRTV-Y]{4})",
                       "Enter an Eircode such as D02 X285, or leave it empty.", lambda m: f"{m.group(1)} {m.group(2)}"),
}

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho",
    "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "DC": "District of Columbia", "AS": "American Samoa", "GU": "Guam",
    "MP": "Northern Mariana Islands", "PR": "Puerto Rico", "VI": "U.S. Virgin Islands",
    "AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific",
}
CA_PROVINCES = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories", "NU": "Nunavut",
    "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec", "SK": "Saskatchewan", "YT": "Yukon",
}
AU_STATES = {
    "ACT": "Australian Capital Territory", "NSW": "New South Wales", "NT": "Northern Territory",
    "QLD": "Queensland", "SA": "South Australia", "TAS": "Tasmania", "VIC": "Victoria", "WA": "Western Australia",
}
BR_STATES = {
    "AC": "Acre", "AL": "Alagoas", "AP": "Amapá", "AM": "Amazonas", "BA": "Bahia", "CE": "Ceará",
    "DF": "Distrito Federal", "ES": "Espírito Santo", "GO": "Goiás", "MA": "Maranhão", "MT": "Mato Grosso",
    "MS": "Mato Grosso do Sul", "MG": "Minas Gerais", "PA": "Pará", "PB": "Paraíba", "PR": "Paraná",
    "PE": "Pernambuco", "PI": "Piauí", "RJ": "Rio de Janeiro", "RN": "Rio Grande do Norte",
    "RS": "Rio Grande do Sul", "RO": "Rondônia", "RR": "Roraima", "SC": "Santa Catarina", "SP": "São Paulo",
    "SE": "Sergipe", "TO": "Tocantins",
}
# Countries whose addresses need a state: its codes (None: any name) and what to tell the customer.
STATES: dict[str, tuple[dict[str, str] | None, str]] = {
    "US": (US_STATES, "Enter a state, such as CA or California."),
    "CA": (CA_PROVINCES, "Enter a province or territory, such as ON or Ontario."),
    "AU": (AU_STATES, "Enter a state or territory, such as NSW or New South Wales."),
    "BR": (BR_STATES, "Enter a state, such as SP or São Paulo."),
    "IN": (None, "Enter a state or union territory."),
    "MX": (None, "Enter a state."),
}
PHONE = re.compile(r"[0-9 +\-().]*")


@functools.cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes Babel knows; loaded on first use, not at start."""
    from babel import Locale

    return frozenset(code for code in Locale("en").territories
                     if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES)


def _text(value: Any) -> str:
    """Trimmed, with runs of white space (tabs, line breaks) made one space."""
    return " ".join(str(value or "").split())


def _folded(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


def postal_code(country: str, value: Any, param: str = "postal_code") -> str | None:
    """The postal code in its country's usual form, or None where it may be left out."""
    text = _text(value).upper()
    found = POSTAL_FORMATS.get(country)
    if not text:
        if country in NO_POSTAL_CODES or country in OPTIONAL_POSTAL_CODES:
            return None
        raise Invalid(found.message if found else "Enter a postal code.", param)
    if found is None:
        return text
    match = re.fullmatch(found.pattern, re.sub(r"[\s-]", "", text))
    if match is None:
        raise Invalid(found.message, param)
    return found.shape(match)


def state(country: str, value: Any, param: str = "state") -> str | None:
    """The state as its code where the country has a list, else as written; required where addresses need one."""
    text = _text(value)
    if country not in STATES:
        return text or None
    codes, message = STATES[country]
    if not text:
        raise Invalid(message, param)
    if codes is None:
        return text
    if text.upper() in codes:
        return text.upper()
    by_name = {_folded(name): code for code, name in codes.items()}
    if _folded(text) in by_name:
        return by_name[_folded(text)]
    raise Invalid(message, param)


def address(value: dict[str, Any], prefix: str = "address") -> dict[str, Any]:
    """A whole address, checked field by field in the order a form shows them; returns Stripe's six keys."""
    country = _text(value.get("country")).upper()
    if not country:
        raise Invalid("Choose a country.", f"{prefix}.country")
    if country not in countries():
        raise Invalid("Choose a country from the list.", f"{prefix}.country")
    line1 = _text(value.get("line1"))
    if not line1:
        raise Invalid("Enter the street address.", f"{prefix}.line1")
    city = _text(value.get("city"))
    if not city:
        raise Invalid("Enter a town or city.", f"{prefix}.city")
    return {
        "line1": line1,
        "line2": _text(value.get("line2")) or None,
        "city": city,
        "state": state(country, value.get("state"), f"{prefix}.state"),
        "postal_code": postal_code(country, value.get("postal_code"), f"{prefix}.postal_code"),
        "country": country,
    }


def phone(value: Any, param: str = "phone") -> str | None:
    """A phone number as written, trimmed; empty means none."""
    text = _text(value)
    if not text:
        return None
    if not PHONE.fullmatch(text):
        raise Invalid("Use only digits, spaces and + - ( ) . in a phone number.", param)
    if not 6 <= sum(c.isdigit() for c in text) <= 20:
        raise Invalid("Enter a phone number with 6 to 20 digits, such as +1 415 555 0100.", param)
    return text
