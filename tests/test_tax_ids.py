"""Tax ids of every type Stripe accepts: checked by python-stdnum where it can (real numbers from
stdnum's own examples), kept as written where it cannot, refused in words naming the field."""

from __future__ import annotations

import typing

import pytest

from backend import tax_ids
from backend.addresses import Invalid

# type, as typed, as stored, country
VALID = [
    ("eu_vat", "DE136695976", "DE136695976", "DE"), ("eu_vat", "de 136 695 976", "DE136695976", "DE"),
    ("eu_vat", "ATU13585627", "ATU13585627", "AT"), ("eu_vat", "BE 403.019.261", "BE0403019261", "BE"),
    ("eu_vat", "EL094259216", "EL094259216", "GR"), ("eu_vat", "GR 094259216", "EL094259216", "GR"),
    ("eu_vat", "FR 40 303 265 045", "FR40303265045", "FR"), ("eu_vat", "nl004495445b01", "NL004495445B01", "NL"),
    ("eu_vat", "PL 856-734-62-15", "PL8567346215", "PL"), ("eu_vat", "XI980780684", "XI980780684", "GB"),
    ("eu_vat", "IE 6433435F", "IE6433435F", "IE"), ("eu_vat", "ESB58378431", "ESB58378431", "ES"),
    ("gb_vat", "GB 980 7806 84", "GB980780684", "GB"), ("gb_vat", "980780684", "GB980780684", "GB"),
    ("ch_vat", "che107787577iva", "CHE-107.787.577 IVA", "CH"), ("ch_uid", "CHE100155212", "CHE-100.155.212", "CH"),
    ("no_vat", "NO 995 525 828 MVA", "995525828MVA", "NO"),
    ("au_abn", "83914571673", "83 914 571 673", "AU"), ("au_acn", "004085616", "004 085 616", "AU"),
    ("ca_bn", "12302 6635", "123026635", "CA"), ("ca_gst_hst", "123026635 RT 0001", "123026635RT0001", "CA"),
    ("us_ein", "911144442", "91-1144442", "US"),
    ("in_gst", "27aapfu0939f1zv", "27AAPFU0939F1ZV", "IN"), ("br_cnpj", "16727230000197", "16.727.230/0001-97", "BR"),
    ("br_cpf", "39053344705", "390.533.447-05", "BR"), ("jp_cn", "5835678256246", "5-8356-7825-6246", "JP"),
    ("mx_rfc", "VACE-460910-SX6", "VACE 460910 SX6", "MX"), ("ar_cuit", "20055361682", "20-05536168-2", "AR"),
    ("cl_tin", "76086428-5", "76.086.428-5", "CL"), ("de_stn", " 181/815/0815 5", "181/815/08155", "DE"),
    ("es_cif", "B-64717838", "B64717838", "ES"), ("kr_brn", "1168200276", "116-82-00276", "KR"),
    ("tr_tin", "4540536920", "4540536920", "TR"), ("eu_oss_vat", "EU 372022452", "EU372022452", None),
    ("fr_siret", "73282932000074", "732 829 320 00074", "FR"), ("it_cf", "rccmnl83s18d969h", "RCCMNL83S18D969H", "IT"),
    ("is_kt", "4504013150", "450401-3150", "IS"), ("nz_gst", "4909185-0", "49-091-850", "NZ"),
    # Types stdnum cannot check: trimmed, kept as written.
    ("ca_pst_bc", " PST-1234-5678 ", "PST-1234-5678", "CA"), ("ae_trn", "123456789012345", "123456789012345", "AE"),
    ("hk_br", "12345678", "12345678", "HK"), ("sg_gst", "M2-1234567-8", "M2-1234567-8", "SG"),
    ("za_vat", "4123456789", "4123456789", "ZA"),
]
# type, as typed, the message, its example
INVALID = [
    ("eu_vat", "DE136695977", "This tax ID is not valid. Check it and try again.", None),
    ("eu_vat", "DE12345678", "Enter the tax ID in this form: DE136695976.", "DE136695976"),
    ("eu_vat", "FR12345", "Enter the tax ID in this form: FR40303265045.", "FR40303265045"),
    ("eu_vat", "GR12345", "Enter the tax ID in this form: EL094259216.", "EL094259216"),
    ("eu_vat", "123456789", "Enter the tax ID in this form: DE136695976.", "DE136695976"),
    ("eu_vat", "US123456789", "Enter the tax ID in this form: DE136695976.", "DE136695976"),
    ("gb_vat", "GB980780685", "This tax ID is not valid. Check it and try again.", None),
    ("gb_vat", "GB12345678", "Enter the tax ID in this form: GB980780684.", "GB980780684"),
    ("au_abn", "83 914 571 674", "This tax ID is not valid. Check it and try again.", None),
    ("au_abn", "8391457167", "Enter the tax ID in this form: 83 914 571 673.", "83 914 571 673"),
    ("us_ein", "12-345678", "Enter the tax ID in this form: 91-1144442.", "91-1144442"),
    ("br_cnpj", "16.727.230/0001-98", "This tax ID is not valid. Check it and try again.", None),
    ("no_vat", "995525828", "Enter the tax ID in this form: 995525828MVA.", "995525828MVA"),
    ("in_gst", "27AAPFU0939F1ZX", "This tax ID is not valid. Check it and try again.", None),
    ("ca_pst_bc", " - ", "This tax ID is not valid. Check it and try again.", None),
    ("ca_pst_bc", "1" * 41, "This tax ID is not valid. Check it and try again.", None),
]


@pytest.mark.parametrize("kind, typed, stored, country", VALID)
def test_valid_tax_ids_are_kept_in_their_usual_form_with_their_country(kind, typed, stored, country):
    assert tax_ids.check(kind, typed) == (stored, country)


@pytest.mark.parametrize("kind, typed, message, example", INVALID)
def test_wrong_tax_ids_say_what_to_write(kind, typed, message, example):
    with pytest.raises(Invalid) as refused:
        tax_ids.check(kind, typed, "tax_ids[0].value", "tax_ids[0].type")
    assert (refused.value.message, refused.value.param, refused.value.example) == (message, "tax_ids[0].value", example)


@pytest.mark.parametrize("kind", [kind for kind, found in tax_ids.TYPES.items() if found.module])
def test_each_checked_types_example_is_itself_valid_and_in_its_stored_form(kind):
    example = tax_ids.TYPES[kind].example
    assert tax_ids.check(kind, example)[0] == example


@pytest.mark.parametrize("prefix, example", tax_ids.EU_EXAMPLES.items())
def test_each_eu_countrys_example_is_its_own(prefix, example):
    assert example.startswith(prefix)
    assert tax_ids.check("eu_vat", example)[0] == example


def test_the_types_are_exactly_stripes():
    params = pytest.importorskip("stripe.params._tax_id_create_params")
    annotation = params.TaxIdCreateParams.__annotations__["type"]
    (literal,) = [arg for arg in typing.get_args(annotation) if typing.get_origin(arg) is typing.Literal]
    assert set(tax_ids.TYPES) == set(typing.get_args(literal))


def test_stdnum_checks_more_than_half_the_types():
    assert sum(1 for found in tax_ids.TYPES.values() if found.module) >= 60


def test_an_unknown_type_names_the_type_field():
    with pytest.raises(Invalid) as refused:
        tax_ids.check("vat", "DE136695976", "tax_ids[2].value", "tax_ids[2].type")
    assert (refused.value.message, refused.value.param) == ("Choose a tax ID type from the list.", "tax_ids[2].type")
