"""Addresses and phone numbers as customers type them: normalised, or refused with the field and a message."""

from __future__ import annotations

import pytest

from backend import addresses
from backend.addresses import Invalid

# country, as typed, as stored
VALID_POSTAL_CODES = [
    ("US", "94103", "94103"), ("US", " 94103-1234 ", "94103-1234"), ("US", "941031234", "94103-1234"),
    ("CA", "k1a0b1", "K1A 0B1"), ("CA", "K1A 0B1", "K1A 0B1"),
    ("GB", "sw1a1aa", "SW1A 1AA"), ("GB", "M1 1AE", "M1 1AE"), ("GB", "ec1a 1bb", "EC1A 1BB"), ("GB", "GIR 0AA", "GIR 0AA"),
    ("DE", "10117", "10117"), ("FR", "75008", "75008"), ("NL", "1012ab", "1012 AB"), ("NL", "1012 AB", "1012 AB"),
    ("ES", "28013", "28013"), ("ES", "52001", "52001"), ("IT", "00184", "00184"), ("AU", "2000", "2000"),
    ("JP", "1000001", "100-0001"), ("JP", "100-0001", "100-0001"), ("IN", "110001", "110001"), ("IN", "110 001", "110001"),
    ("BR", "01310100", "01310-100"), ("BR", "01310-100", "01310-100"), ("SE", "11455", "114 55"),
    ("SE", "114 55", "114 55"), ("CH", "8001", "8001"), ("AT", "1010", "1010"), ("BE", "1000", "1000"),
    ("DK", "1050", "1050"), ("NO", "0150", "0150"), ("PL", "00950", "00-950"), ("PL", "00-950", "00-950"),
    ("PT", "1100148", "1100-148"), ("PT", "1100-148", "1100-148"), ("IE", "d02x285", "D02 X285"),
    ("IE", "D6W 1234", "D6W 1234"), ("IE", "", None), ("HK", "", None), ("AE", None, None),
    ("NZ", " 6011 ", "6011"),
]
# country, as typed, the message
INVALID_POSTAL_CODES = [
    ("US", "9410", "Enter a 5-digit ZIP code, such as 94103."),
    ("US", "ABCDE", "Enter a 5-digit ZIP code, such as 94103."),
    ("US", "", "Enter a 5-digit ZIP code, such as 94103."),
    ("CA", "D1A 0B1", "Enter a postal code such as K1A 0B1."),
    ("CA", "12345", "Enter a postal code such as K1A 0B1."),
    ("GB", "SW1A", "Enter a postcode such as SW1A 1AA."),
    ("GB", "1AA SW1", "Enter a postcode such as SW1A 1AA."),
    ("DE", "1011", "Enter a 5-digit postcode, such as 10117."),
    ("DE", "101170", "Enter a 5-digit postcode, such as 10117."),
    ("FR", "7500", "Enter a 5-digit postal code, such as 75008."),
    ("NL", "0123 AB", "Enter a postcode of 4 digits and 2 letters, such as 1012 AB."),
    ("NL", "1012", "Enter a postcode of 4 digits and 2 letters, such as 1012 AB."),
    ("ES", "53001", "Enter a 5-digit postal code, such as 28013."),
    ("ES", "00001", "Enter a 5-digit postal code, such as 28013."),
    ("IT", "0018", "Enter a 5-digit postal code, such as 00184."),
    ("AU", "20000", "Enter a 4-digit postcode, such as 2000."),
    ("JP", "100-001", "Enter a 7-digit postal code, such as 100-0001."),
    ("IN", "011001", "Enter a 6-digit PIN code, such as 110001."),
    ("BR", "0131010", "Enter an 8-digit CEP, such as 01310-100."),
    ("SE", "1145", "Enter a 5-digit postcode, such as 114 55."),
    ("CH", "80011", "Enter a 4-digit postcode, such as 8001."),
    ("AT", "A1010", "Enter a 4-digit postcode, such as 1010."),
    ("BE", "100", "Enter a 4-digit postcode, such as 1000."),
    ("DK", "DK-1050", "Enter a 4-digit postcode, such as 1050."),
    ("NO", "", "Enter a 4-digit postcode, such as 0150."),
    ("PL", "0095", "Enter a postcode such as 00-950."),
    ("PT", "1100", "Enter a postcode such as 1100-148."),
    ("IE", "D02", "Enter an Eircode such as D02 X285, or leave it empty."),
    ("IE", "B02 X285", "Enter an Eircode such as D02 X285, or leave it empty."),
    ("NZ", "", "Enter a postal code."),
]


@pytest.mark.parametrize("country, typed, stored", VALID_POSTAL_CODES)
def test_postal_codes_are_kept_in_their_countrys_usual_form(country, typed, stored):
    assert addresses.postal_code(country, typed) == stored


@pytest.mark.parametrize("country, typed, message", INVALID_POSTAL_CODES)
def test_wrong_postal_codes_say_what_to_write(country, typed, message):
    with pytest.raises(Invalid) as refused:
        addresses.postal_code(country, typed, "address.postal_code")
    assert (refused.value.message, refused.value.param) == (message, "address.postal_code")


def test_every_country_with_a_format_has_valid_and_invalid_examples():
    assert {c for c, _, _ in VALID_POSTAL_CODES} >= set(addresses.POSTAL_FORMATS)
    assert {c for c, _, _ in INVALID_POSTAL_CODES} >= set(addresses.POSTAL_FORMATS)


BERLIN = {"line1": " Friedrichstraße 12 ", "line2": "", "city": "Berlin", "state": None, "postal_code": "10117",
          "country": "de"}


def test_an_address_is_trimmed_and_gets_all_six_keys():
    assert addresses.address(BERLIN) == {"line1": "Friedrichstraße 12", "line2": None, "city": "Berlin",
                                         "state": None, "postal_code": "10117", "country": "DE"}
    assert addresses.address({"line1": "1 Main St", "city": "Dubai", "country": "AE"}) == {
        "line1": "1 Main St", "line2": None, "city": "Dubai", "state": None, "postal_code": None, "country": "AE"}


@pytest.mark.parametrize("change, param, message", [
    ({"country": None}, "shipping.address.country", "Choose a country."),
    ({"country": " "}, "shipping.address.country", "Choose a country."),
    ({"country": "XX"}, "shipping.address.country", "Choose a country from the list."),
    ({"country": "EU"}, "shipping.address.country", "Choose a country from the list."),
    ({"country": "Germany"}, "shipping.address.country", "Choose a country from the list."),
    ({"line1": "  "}, "shipping.address.line1", "Enter the street address."),
    ({"city": None}, "shipping.address.city", "Enter a town or city."),
    ({"postal_code": "1011"}, "shipping.address.postal_code", "Enter a 5-digit postcode, such as 10117."),
])
def test_a_wrong_address_names_the_field_to_fix(change, param, message):
    with pytest.raises(Invalid) as refused:
        addresses.address(BERLIN | change, "shipping.address")
    assert (refused.value.param, refused.value.message) == (param, message)


def test_fields_are_checked_in_the_order_a_form_shows_them():
    with pytest.raises(Invalid) as refused:
        addresses.address({"country": "US", "postal_code": "1"}, "address")
    assert refused.value.param == "address.line1"


# country, as typed, as stored
VALID_STATES = [
    ("US", "ca", "CA"), ("US", "California", "CA"), ("US", " new york ", "NY"), ("US", "DC", "DC"),
    ("CA", "on", "ON"), ("CA", "Québec", "QC"), ("AU", "nsw", "NSW"), ("AU", "Victoria", "VIC"),
    ("BR", "SP", "SP"), ("BR", "Sao Paulo", "SP"), ("IN", "Maharashtra", "Maharashtra"), ("MX", "Jalisco", "Jalisco"),
    ("DE", "", None), ("GB", " Greater London ", "Greater London"),
]
INVALID_STATES = [
    ("US", "", "Enter a state, such as CA or California."),
    ("US", "Cal", "Enter a state, such as CA or California."),
    ("US", "ZZ", "Enter a state, such as CA or California."),
    ("CA", "QB", "Enter a province or territory, such as ON or Ontario."),
    ("AU", None, "Enter a state or territory, such as NSW or New South Wales."),
    ("BR", "XX", "Enter a state, such as SP or São Paulo."),
    ("IN", " ", "Enter a state or union territory."),
    ("MX", "", "Enter a state."),
]


@pytest.mark.parametrize("country, typed, stored", VALID_STATES)
def test_states_are_kept_as_their_code_where_the_country_has_a_list(country, typed, stored):
    assert addresses.state(country, typed) == stored


@pytest.mark.parametrize("country, typed, message", INVALID_STATES)
def test_states_are_required_where_addresses_need_one(country, typed, message):
    with pytest.raises(Invalid) as refused:
        addresses.state(country, typed, "address.state")
    assert (refused.value.message, refused.value.param) == (message, "address.state")


@pytest.mark.parametrize("typed, stored", [
    ("+49 30 1234567", "+49 30 1234567"), (" (415) 555-0100 ", "(415) 555-0100"), ("030.123.456", "030.123.456"),
    ("123456", "123456"), ("+" + "1" * 20, "+" + "1" * 20), ("", None), (None, None), ("   ", None),
])
def test_phone_numbers_are_kept_as_written(typed, stored):
    assert addresses.phone(typed) == stored


@pytest.mark.parametrize("typed, message", [
    ("+49 30 123 4567 ext. 5", "Use only digits, spaces and + - ( ) . in a phone number."),
    ("call me", "Use only digits, spaces and + - ( ) . in a phone number."),
    ("+49/30/1234567", "Use only digits, spaces and + - ( ) . in a phone number."),
    ("12345", "Enter a phone number with 6 to 20 digits, such as +1 415 555 0100."),
    ("1" * 21, "Enter a phone number with 6 to 20 digits, such as +1 415 555 0100."),
    ("+() -.", "Enter a phone number with 6 to 20 digits, such as +1 415 555 0100."),
])
def test_wrong_phone_numbers_say_what_to_write(typed, message):
    with pytest.raises(Invalid) as refused:
        addresses.phone(typed, "shipping.phone")
    assert (refused.value.message, refused.value.param) == (message, "shipping.phone")


def test_countries_are_iso_codes_that_babel_knows():
    known = addresses.countries()
    assert {"DE", "US", "GB", "XK", "HK", "AE"} <= known
    assert not {"EU", "ZZ", "UN", "001", "IC"} & known
    assert all(len(code) == 2 and code.isupper() for code in known)
