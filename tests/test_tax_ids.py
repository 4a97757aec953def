"""Tax ids by type: valid ones in their usual form with their country, wrong ones refused in words."""

from __future__ import annotations

import pytest

from backend import tax_ids
from backend.addresses import Invalid

# type, as typed, as stored, country
VALID = [
    ("eu_vat", "DE123456789", "DE123456789", "DE"), ("eu_vat", "de 123 456 789", "DE123456789", "DE"),
    ("eu_vat", "ATU12345678", "ATU12345678", "AT"), ("eu_vat", "BE0123456789", "BE0123456789", "BE"),
    ("eu_vat", "BG1234567890", "BG1234567890", "BG"), ("eu_vat", "CY12345678X", "CY12345678X", "CY"),
    ("eu_vat", "CZ1234567890", "CZ1234567890", "CZ"), ("eu_vat", "DK12345678", "DK12345678", "DK"),
    ("eu_vat", "EE123456789", "EE123456789", "EE"), ("eu_vat", "EL123456789", "EL123456789", "GR"),
    ("eu_vat", "GR123456789", "EL123456789", "GR"), ("eu_vat", "ESA1234567Z", "ESA1234567Z", "ES"),
    ("eu_vat", "ES12345678Z", "ES12345678Z", "ES"), ("eu_vat", "FI12345678", "FI12345678", "FI"),
    ("eu_vat", "FR AB 123456789", "FRAB123456789", "FR"), ("eu_vat", "FR12345678901", "FR12345678901", "FR"),
    ("eu_vat", "HR12345678912", "HR12345678912", "HR"), ("eu_vat", "HU12345678", "HU12345678", "HU"),
    ("eu_vat", "IE1234567AB", "IE1234567AB", "IE"), ("eu_vat", "IE1234567T", "IE1234567T", "IE"),
    ("eu_vat", "IE1A23456B", "IE1A23456B", "IE"), ("eu_vat", "IT12345678912", "IT12345678912", "IT"),
    ("eu_vat", "LT123456789", "LT123456789", "LT"), ("eu_vat", "LT123456789123", "LT123456789123", "LT"),
    ("eu_vat", "LU12345678", "LU12345678", "LU"), ("eu_vat", "LV12345678912", "LV12345678912", "LV"),
    ("eu_vat", "MT12345678", "MT12345678", "MT"), ("eu_vat", "nl123456789b01", "NL123456789B01", "NL"),
    ("eu_vat", "PL123-456-78-90", "PL1234567890", "PL"), ("eu_vat", "PT123456789", "PT123456789", "PT"),
    ("eu_vat", "RO12", "RO12", "RO"), ("eu_vat", "RO1234567891", "RO1234567891", "RO"),
    ("eu_vat", "SE123456789101", "SE123456789101", "SE"), ("eu_vat", "SI12345678", "SI12345678", "SI"),
    ("eu_vat", "SK1234567891", "SK1234567891", "SK"), ("eu_vat", "XI123456789", "XI123456789", "GB"),
    ("gb_vat", "GB123456789", "GB123456789", "GB"), ("gb_vat", "123 4567 89", "GB123456789", "GB"),
    ("gb_vat", "GB123456789012", "GB123456789012", "GB"), ("gb_vat", "GBGD001", "GBGD001", "GB"),
    ("ch_vat", "CHE-123.456.789 MWST", "CHE-123.456.789 MWST", "CH"),
    ("ch_vat", "che123456789", "CHE-123.456.789", "CH"), ("ch_vat", "CHE-123.456.789 TVA", "CHE-123.456.789 TVA", "CH"),
    ("no_vat", "123456789MVA", "123456789MVA", "NO"), ("no_vat", "NO 123 456 789 MVA", "123456789MVA", "NO"),
    ("no_vat", "123456789", "123456789MVA", "NO"),
    ("au_abn", "51 824 753 556", "51824753556", "AU"), ("au_abn", "53004085616", "53004085616", "AU"),
    ("ca_bn", "123456789", "123456789", "CA"), ("ca_bn", "123 456 789", "123456789", "CA"),
    ("us_ein", "12-3456789", "12-3456789", "US"), ("us_ein", "123456789", "12-3456789", "US"),
    ("in_gst", "22AAAAA0000A1Z5", "22AAAAA0000A1Z5", "IN"), ("in_gst", "12abcde3456fgzh", "12ABCDE3456FGZH", "IN"),
    ("br_cnpj", "12.345.678/0001-95", "12.345.678/0001-95", "BR"), ("br_cnpj", "12345678000195", "12.345.678/0001-95", "BR"),
    ("jp_cn", "1234567891234", "1234567891234", "JP"), ("jp_cn", "1234 5678 91234", "1234567891234", "JP"),
]
# type, as typed, the message
INVALID = [
    ("eu_vat", "123456789", "Start the VAT number with its country code, such as DE123456789."),
    ("eu_vat", "US123456789", "Start the VAT number with its country code, such as DE123456789."),
    ("eu_vat", "GB123456789", "Start the VAT number with its country code, such as DE123456789."),
    ("eu_vat", "", "Start the VAT number with its country code, such as DE123456789."),
    ("eu_vat", "DE12345678", "Enter a German VAT number: DE and 9 digits, such as DE123456789."),
    ("eu_vat", "DE1234567890", "Enter a German VAT number: DE and 9 digits, such as DE123456789."),
    ("eu_vat", "AT12345678", "Enter an Austrian VAT number: ATU and 8 digits, such as ATU12345678."),
    ("eu_vat", "BE2123456789", "Enter a Belgian VAT number: BE and 10 digits, the first 0 or 1, such as BE0123456789."),
    ("eu_vat", "FR123456789", "Enter a French VAT number: FR, 2 letters or digits and 9 digits, such as FRAB123456789."),
    ("eu_vat", "NL123456789", "Enter a Dutch VAT number: NL, 9 digits, B and 2 digits, such as NL123456789B01."),
    ("eu_vat", "SE123456789102", "Enter a Swedish VAT number: SE and 12 digits ending in 01, such as SE123456789101."),
    ("eu_vat", "EL12345678", "Enter a Greek VAT number: EL and 9 digits, such as EL123456789."),
    ("eu_vat", "IT1234567891", "Enter an Italian VAT number: IT and 11 digits, such as IT12345678912."),
    ("eu_vat", "ES12345678", "Enter a Spanish VAT number: ES and 9 letters or digits, such as ESA1234567Z."),
    ("eu_vat", "PL12345678901", "Enter a Polish VAT number: PL and 10 digits, such as PL1234567890."),
    ("gb_vat", "GB12345678", "Enter a UK VAT number: GB and 9 digits, such as GB123456789."),
    ("gb_vat", "DE123456789", "Enter a UK VAT number: GB and 9 digits, such as GB123456789."),
    ("ch_vat", "123456789", "Enter a Swiss VAT number: CHE and 9 digits, such as CHE-123.456.789 MWST."),
    ("ch_vat", "CHE-123.456.78", "Enter a Swiss VAT number: CHE and 9 digits, such as CHE-123.456.789 MWST."),
    ("no_vat", "12345678MVA", "Enter a Norwegian VAT number: 9 digits and MVA, such as 123456789MVA."),
    ("au_abn", "5182475355", "Enter an ABN of 11 digits, such as 51 824 753 556."),
    ("au_abn", "51 824 753 557", "This ABN is not valid. Check the 11 digits and try again."),
    ("au_abn", "12345678912", "This ABN is not valid. Check the 11 digits and try again."),
    ("ca_bn", "12345678", "Enter a business number of 9 digits, such as 123456789."),
    ("ca_bn", "123456789RT0001", "Enter a business number of 9 digits, such as 123456789."),
    ("us_ein", "12-345678", "Enter an EIN of 9 digits, such as 12-3456789."),
    ("in_gst", "22AAAAA0000A1Y5", "Enter a GSTIN of 15 characters, such as 22AAAAA0000A1Z5."),
    ("in_gst", "AAAAAA0000A1Z5", "Enter a GSTIN of 15 characters, such as 22AAAAA0000A1Z5."),
    ("br_cnpj", "12.345.678/0001-9", "Enter a CNPJ of 14 digits, such as 12.345.678/0001-95."),
    ("jp_cn", "123456789123", "Enter a corporate number of 13 digits, such as 1234567891234."),
]


@pytest.mark.parametrize("kind, typed, stored, country", VALID)
def test_valid_tax_ids_are_kept_in_their_usual_form(kind, typed, stored, country):
    assert tax_ids.check(kind, typed) == (stored, country)


@pytest.mark.parametrize("kind, typed, message", INVALID)
def test_wrong_tax_ids_say_what_to_write(kind, typed, message):
    with pytest.raises(Invalid) as refused:
        tax_ids.check(kind, typed, "tax_ids[0].value", "tax_ids[0].type")
    assert (refused.value.message, refused.value.param) == (message, "tax_ids[0].value")


def test_every_type_and_eu_country_has_examples():
    assert {k for k, _, _, _ in VALID} == {k for k, _, _ in INVALID} == set(tax_ids.TYPES)
    assert {stored[:2] for k, _, stored, _ in VALID if k == "eu_vat"} == set(tax_ids.EU_VAT)


@pytest.mark.parametrize("kind, example", [(k, v[3]) for k, v in tax_ids.EU_VAT.items()])
def test_each_eu_example_in_a_message_is_itself_valid(kind, example):
    assert tax_ids.check("eu_vat", example)[0] == example


def test_an_unknown_type_names_the_type_field():
    with pytest.raises(Invalid) as refused:
        tax_ids.check("ca_gst_hst", "123456789RT0001", "tax_ids[2].value", "tax_ids[2].type")
    assert (refused.value.message, refused.value.param) == ("Choose a tax ID type from the list.", "tax_ids[2].type")


@pytest.mark.parametrize("digits, valid", [("51824753556", True), ("53004085616", True), ("51824753557", False),
                                           ("00000000000", False)])
def test_abn_checksum(digits, valid):
    assert tax_ids.abn_checksum_ok(digits) is valid
