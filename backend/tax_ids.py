"""Tax ids as customers type them: the type's format checked (and the ABN's checksum),
the value put in its usual form, and the country it belongs to, as Stripe's tax_id has."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from backend.addresses import Invalid

MAX = 5


@dataclass(frozen=True)
class Format:
    country: str
    pattern: str  # matched against the value upper-cased, without spaces, dots, hyphens and slashes
    message: str
    shape: Callable[[re.Match[str]], str] = lambda m: m.group(0)


# EU VAT numbers by prefix: whose they are, what follows the prefix, that in words, and an
# example. Greece uses EL; XI is Northern Ireland, which keeps EU VAT numbers for goods.
EU_VAT = {
    "AT": ("an Austrian", r"U\d{8}", "ATU and 8 digits", "ATU12345678"),
    "BE": ("a Belgian", r"[01]\d{9}", "BE and 10 digits, the first 0 or 1", "BE0123456789"),
    "BG": ("a Bulgarian", r"\d{9,10}", "BG and 9 or 10 digits", "BG123456789"),
    "CY": ("a Cypriot", r"\d{8}[A-Z]", "CY, 8 digits and a letter", "CY12345678X"),
    "CZ": ("a Czech", r"\d{8,10}", "CZ and 8 to 10 digits", "CZ12345678"),
    "DE": ("a German", r"\d{9}", "DE and 9 digits", "DE123456789"),
    "DK": ("a Danish", r"\d{8}", "DK and 8 digits", "DK12345678"),
    "EE": ("an Estonian", r"\d{9}", "EE and 9 digits", "EE123456789"),
    "EL": ("a Greek", r"\d{9}", "EL and 9 digits", "EL123456789"),
    "ES": ("a Spanish", r"[A-Z0-9]\d{7}[A-Z0-9]", "ES and 9 letters or digits", "ESA1234567Z"),
    "FI": ("a Finnish", r"\d{8}", "FI and 8 digits", "FI12345678"),
    "FR": ("a French", r"[A-HJ-NP-Z0-9]{2}\d{9}", "FR, 2 letters or digits and 9 digits", "FRAB123456789"),
    "HR": ("a Croatian", r"\d{11}", "HR and 11 digits", "HR12345678912"),
    "HU": ("a Hungarian", r"\d{8}", "HU and 8 digits", "HU12345678"),
    "IE": ("an Irish", r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]", "IE, 7 digits and 1 or 2 letters", "IE1234567AB"),
    "IT": ("an Italian", r"\d{11}", "IT and 11 digits", "IT12345678912"),
    "LT": ("a Lithuanian", r"\d{9}|\d{12}", "LT and 9 or 12 digits", "LT123456789123"),
    "LU": ("a Luxembourg", r"\d{8}", "LU and 8 digits", "LU12345678"),
    "LV": ("a Latvian", r"\d{11}", "LV and 11 digits", "LV12345678912"),
    "MT": ("a Maltese", r"\d{8}", "MT and 8 digits", "MT12345678"),
    "NL": ("a Dutch", r"\d{9}B\d{2}", "NL, 9 digits, B and 2 digits", "NL123456789B01"),
    "PL": ("a Polish", r"\d{10}", "PL and 10 digits", "PL1234567890"),
    "PT": ("a Portuguese", r"\d{9}", "PT and 9 digits", "PT123456789"),
    "RO": ("a Romanian", r"[1-9]\d{1,9}", "RO and 2 to 10 digits", "RO1234567891"),
    "SE": ("a Swedish", r"\d{10}01", "SE and 12 digits ending in 01", "SE123456789101"),
    "SI": ("a Slovenian", r"\d{8}", "SI and 8 digits", "SI12345678"),
    "SK": ("a Slovak", r"\d{10}", "SK and 10 digits", "SK1234567891"),
    "XI": ("a Northern Ireland", r"\d{9}|\d{12}|GD\d{3}|HA\d{3}", "XI and 9 digits", "XI123456789"),
}
COUNTRY_OF_PREFIX = {"EL": "GR", "XI": "GB"}

FORMATS = {
    "gb_vat": Format("GB", r"(?:GB)?(\d{9}|\d{12}|GD\d{3}|HA\d{3})",
                     "Enter a UK VAT number: GB and 9 digits, such as GB123456789.", lambda m: "GB" + m.group(1)),
    "ch_vat": Format("CH", r"CHE(\d{3})(\d{3})(\d{3})(MWST|TVA|IVA)?",
                     "Enter a Swiss VAT number: CHE and 9 digits, such as CHE-123.456.789 MWST.",
                     lambda m: f"CHE-{m.group(1)}.{m.group(2)}.{m.group(3)}" + (f" {m.group(4)}" if m.group(4) else "")),
    "no_vat": Format("NO", r"(?:NO)?(\d{9})(?:MVA)?",
                     "Enter a Norwegian VAT number: 9 digits and MVA, such as 123456789MVA.",
                     lambda m: m.group(1) + "MVA"),
    "au_abn": Format("AU", r"\d{11}", "Enter an ABN of 11 digits, such as 51 824 753 556."),
    "ca_bn": Format("CA", r"\d{9}", "Enter a business number of 9 digits, such as 123456789."),
    "us_ein": Format("US", r"(\d{2})(\d{7})", "Enter an EIN of 9 digits, such as 12-3456789.",
                     lambda m: f"{m.group(1)}-{m.group(2)}"),
    "in_gst": Format("IN", r"\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]",
                     "Enter a GSTIN of 15 characters, such as 22AAAAA0000A1Z5."),
    "br_cnpj": Format("BR", r"(\d{2})(\d{3})(\d{3})(\d{4})(\d{2})",
                      "Enter a CNPJ of 14 digits, such as 12.345.678/0001-95.",
                      lambda m: "{}.{}.{}/{}-{}".format(*m.groups())),
    "jp_cn": Format("JP", r"\d{13}", "Enter a corporate number of 13 digits, such as 1234567891234."),
}
TYPES = ("eu_vat", *FORMATS)
ABN_WEIGHTS = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)


def abn_checksum_ok(digits: str) -> bool:
    """The ATO's check: take 1 from the first digit, weight each digit, the sum divides by 89."""
    values = [int(d) for d in digits]
    values[0] -= 1
    return sum(v * w for v, w in zip(values, ABN_WEIGHTS)) % 89 == 0


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-/]", "", value).upper()


def _eu_vat(value: str, param: str) -> tuple[str, str]:
    compact = _compact(value)
    prefix = "EL" if compact.startswith("GR") else compact[:2]
    if prefix not in EU_VAT:
        raise Invalid("Start the VAT number with its country code, such as DE123456789.", param)
    whose, pattern, shape, example = EU_VAT[prefix]
    rest = compact[2:]
    if not re.fullmatch(pattern, rest):
        raise Invalid(f"Enter {whose} VAT number: {shape}, such as {example}.", param)
    return prefix + rest, COUNTRY_OF_PREFIX.get(prefix, prefix)


def check(kind: str, value: str, param: str = "value", type_param: str = "type") -> tuple[str, str]:
    """The value in its usual form and its country, or Invalid naming what to fix."""
    if kind not in TYPES:
        raise Invalid("Choose a tax ID type from the list.", type_param)
    if kind == "eu_vat":
        return _eu_vat(value, param)
    found = FORMATS[kind]
    match = re.fullmatch(found.pattern, _compact(value))
    if match is None:
        raise Invalid(found.message, param)
    if kind == "au_abn" and not abn_checksum_ok(match.group(0)):
        raise Invalid("This ABN is not valid. Check the 11 digits and try again.", param)
    return found.shape(match), found.country
