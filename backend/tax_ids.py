"""Tax ids as customers type them, for every type Stripe accepts: checked with python-stdnum
where it knows the type (format, length and check digits), kept as written where it does not,
and stored in their usual form with the country Stripe gives them."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from types import ModuleType

from stdnum.exceptions import InvalidChecksum, ValidationError

from backend.addresses import Invalid

MAX = 5
# A value of a type stdnum cannot check is kept as written, within this many characters.
MAX_UNCHECKED = 40


@dataclass(frozen=True)
class Kind:
    """A tax id type: its official abbreviation (the same in every language, so a page names the
    type by it and the country), and stdnum's module for it with a valid number of that form."""

    abbreviation: str
    module: str | None = None
    example: str | None = None


# Every type of Stripe's tax_id.type enum (stripe-python 16, API 2025). The abbreviation is the
# one the issuing country uses; TIN (taxpayer identification number) where it has none in Latin letters.
TYPES: dict[str, Kind] = {
    "ad_nrt": Kind("NRT", "ad.nrt", "U-132950-X"), "ae_trn": Kind("TRN"), "al_tin": Kind("NIPT", "al.nipt", "J91402501L"),
    "am_tin": Kind("TIN"), "ao_tin": Kind("NIF"), "ar_cuit": Kind("CUIT", "ar.cuit", "20-05536168-2"),
    "au_abn": Kind("ABN", "au.abn", "83 914 571 673"), "au_acn": Kind("ACN", "au.acn", "004 085 616"),
    "au_arn": Kind("ARN"), "au_wpn": Kind("WPN"), "aw_tin": Kind("TIN"), "az_tin": Kind("VÖEN", "az.voen", "1401555071"),
    "ba_tin": Kind("JIB"), "bb_tin": Kind("TIN"), "bd_bin": Kind("BIN"), "bf_ifu": Kind("IFU"), "bg_uic": Kind("UIC"),
    "bh_vat": Kind("VAT"), "bj_ifu": Kind("IFU"), "bo_tin": Kind("NIT"), "br_cnpj": Kind("CNPJ", "br.cnpj", "16.727.230/0001-97"),
    "br_cpf": Kind("CPF", "br.cpf", "390.533.447-05"), "bs_tin": Kind("TIN"), "bw_vat": Kind("VAT"),
    "by_tin": Kind("UNP", "by.unp", "200988541"), "ca_bn": Kind("BN", "ca.bn", "123026635"),
    "ca_gst_hst": Kind("GST/HST", "ca.bn", "123026635RT0001"), "ca_pst_bc": Kind("PST-BC"), "ca_pst_mb": Kind("PST-MB"),
    "ca_pst_sk": Kind("PST-SK"), "ca_qst": Kind("QST"), "cd_nif": Kind("NIF"), "ch_uid": Kind("UID", "ch.uid", "CHE-100.155.212"),
    "ch_vat": Kind("MWST/TVA/IVA", "ch.vat", "CHE-107.787.577 IVA"), "ci_vat": Kind("VAT"), "cl_tin": Kind("RUT", "cl.rut", "76.086.428-5"),
    "cm_niu": Kind("NIU"), "cn_tin": Kind("USCC", "cn.uscc", "91110000600037341L"), "co_nit": Kind("NIT", "co.nit", "213.123.432-1"),
    "cr_tin": Kind("TIN"), "cv_nif": Kind("NIF"), "cz_dic": Kind("DIČ", "cz.dic", "25123891"),
    "de_stn": Kind("St.-Nr.", "de.stnr", "181/815/08155"), "do_rcn": Kind("RNC", "do.rnc", "1-01-85004-3"),
    "ec_ruc": Kind("RUC", "ec.ruc", "1792060346001"), "eg_tin": Kind("TIN", "eg.tn", "100-531-385"),
    "es_cif": Kind("NIF", "es.nif", "B64717838"), "et_tin": Kind("TIN"), "eu_oss_vat": Kind("OSS VAT", "eu.oss", "EU372022452"),
    "eu_vat": Kind("VAT", "eu.vat", "DE136695976"), "fo_vat": Kind("V-tal", "fo.vn", "623857"),
    "fr_siren": Kind("SIREN", "fr.siren", "404 833 048"), "fr_siret": Kind("SIRET", "fr.siret", "732 829 320 00074"),
    "fr_spi": Kind("SPI", "fr.nif", "30 23 217 600 053"), "gb_vat": Kind("VAT", "gb.vat", "GB980780684"),
    "ge_vat": Kind("VAT"), "gh_tin": Kind("TIN", "gh.tin", "C0000803561"), "gi_tin": Kind("TIN"),
    "gn_nif": Kind("NIF", "gn.nifp", "693-770-885"), "hk_br": Kind("BR"), "hr_oib": Kind("OIB", "hr.oib", "33392005961"),
    "hu_tin": Kind("TIN"), "ic_nif": Kind("NIF"), "id_npwp": Kind("NPWP", "id.npwp", "01.312.166.0-091.000"),
    "il_vat": Kind("VAT"), "in_gst": Kind("GSTIN", "in_.gstin", "27AAPFU0939F1ZV"), "is_kt": Kind("kt.", "is_.kennitala", "450401-3150"),
    "is_vat": Kind("VSK", "is_.vsk", "00621"), "it_cf": Kind("CF", "it.codicefiscale", "RCCMNL83S18D969H"),
    "jp_cn": Kind("CN", "jp.cn", "5-8356-7825-6246"), "jp_rn": Kind("RN"), "jp_trn": Kind("TRN"),
    "ke_pin": Kind("PIN", "ke.pin", "P051365947M"), "kg_tin": Kind("TIN"), "kh_tin": Kind("TIN"),
    "kr_brn": Kind("BRN", "kr.brn", "116-82-00276"), "kz_bin": Kind("BIN"), "la_tin": Kind("TIN"), "li_uid": Kind("UID"),
    "li_vat": Kind("VAT"), "lk_vat": Kind("VAT"), "ma_vat": Kind("VAT"), "md_cf": Kind("CF"), "md_vat": Kind("VAT"),
    "me_pib": Kind("PIB", "me.pib", "02655284"), "mk_vat": Kind("EDB", "mk.edb", "4030000375897"), "mr_nif": Kind("NIF"),
    "mu_vat": Kind("VAT"), "mx_rfc": Kind("RFC", "mx.rfc", "VACE 460910 SX6"), "my_frp": Kind("FRP"), "my_itn": Kind("ITN"),
    "my_sst": Kind("SST"), "mz_nuit": Kind("NUIT", "mz.nuit", "400 339 910"), "ng_tin": Kind("TIN"),
    "no_vat": Kind("MVA", "no.mva", "995525828MVA"), "no_voec": Kind("VOEC"), "np_pan": Kind("PAN"), "nz_bn": Kind("NZBN"),
    "nz_gst": Kind("GST", "nz.ird", "49-091-850"), "om_vat": Kind("VAT"), "pe_ruc": Kind("RUC", "pe.ruc", "20512333797"),
    "ph_tin": Kind("TIN"), "pl_nip": Kind("NIP", "pl.nip", "856-734-62-15"), "pt_nif": Kind("NIF", "pt.nif", "501964843"),
    "py_ruc": Kind("RUC", "py.ruc", "80028061-0"), "ro_tin": Kind("CIF", "ro.cf", "RO18547290"),
    "rs_pib": Kind("PIB", "rs.pib", "101134702"), "ru_inn": Kind("INN", "ru.inn", "123456789047"), "ru_kpp": Kind("KPP"),
    "sa_vat": Kind("VAT"), "sg_gst": Kind("GST"), "sg_uen": Kind("UEN", "sg.uen", "00192200M"), "si_tin": Kind("DŠ", "si.ddv", "50223054"),
    "sm_coe": Kind("COE", "sm.coe", "51"), "sn_ninea": Kind("NINEA", "sn.ninea", "3067221"), "sr_fin": Kind("FIN"),
    "sv_nit": Kind("NIT", "sv.nit", "0614-050707-104-8"), "th_vat": Kind("TIN", "th.tin", "1-2345-45678-78-1"),
    "tj_tin": Kind("TIN"), "tr_tin": Kind("VKN", "tr.vkn", "4540536920"), "tt_bir": Kind("BIR"), "tt_vat": Kind("VAT"),
    "tw_vat": Kind("UBN", "tw.ubn", "00501503"), "tz_vat": Kind("VAT"), "ua_vat": Kind("VAT"), "ug_tin": Kind("TIN"),
    "us_ein": Kind("EIN", "us.ein", "91-1144442"), "uy_ruc": Kind("RUT", "uy.rut", "21-100342-001-7"), "uz_tin": Kind("TIN"),
    "uz_vat": Kind("VAT"), "ve_rif": Kind("RIF", "ve.rif", "V114702834"), "vn_tin": Kind("MST", "vn.mst", "0100233488"),
    "za_vat": Kind("VAT"), "zm_tin": Kind("TPIN"), "zw_tin": Kind("TIN"),
}
# An EU VAT number's example is one of its own country's, by prefix (stdnum's own examples).
EU_EXAMPLES = {
    "AT": "ATU13585627", "BE": "BE0403019261", "BG": "BG175074752", "CY": "CY10259033P", "CZ": "CZ25123891",
    "DE": "DE136695976", "DK": "DK13585628", "EE": "EE100931558", "EL": "EL094259216", "ES": "ESB58378431",
    "FI": "FI20774740", "FR": "FR40303265045", "HR": "HR33392005961", "HU": "HU12892312", "IE": "IE6433435F",
    "IT": "IT00743110157", "LT": "LT119511515", "LU": "LU15027442", "LV": "LV40003521600", "MT": "MT11679112",
    "NL": "NL004495445B01", "PL": "PL8567346215", "PT": "PT501964843", "RO": "RO18547290", "SE": "SE123456789701",
    "SI": "SI50223054", "SK": "SK2022749619", "XI": "XI980780684",
}
# Greece's VAT numbers start EL; Northern Ireland's XI ones are the UK's. The OSS number is the EU's own, of no country.
COUNTRY_OF_PREFIX = {"EL": "GR", "XI": "GB"}
# Stripe writes these types in their compact form, with the country's prefix for UK VAT numbers.
COMPACT = {"eu_vat": "", "gb_vat": "GB", "no_vat": ""}


@functools.cache
def _module(name: str) -> ModuleType:
    return importlib.import_module("stdnum." + name)


def _checked(kind: str, module: ModuleType, value: str) -> str:
    compact: str = module.validate(value)
    if kind == "eu_vat" and compact.startswith("GR"):
        compact = "EL" + compact[2:]
    if kind in COMPACT:
        return COMPACT[kind] + compact
    return module.format(compact) if hasattr(module, "format") else compact


def _example(kind: str, value: str) -> str | None:
    if kind == "eu_vat":
        prefix = "".join(value.split()).upper()[:2].replace("GR", "EL")
        return EU_EXAMPLES.get(prefix, TYPES[kind].example)
    return TYPES[kind].example


def country(kind: str, value: str) -> str | None:
    """The tax id's country as Stripe gives it: the type's, or for an EU VAT number its prefix's."""
    if kind == "eu_oss_vat":
        return None
    if kind == "eu_vat":
        return COUNTRY_OF_PREFIX.get(value[:2], value[:2])
    return kind.split("_")[0].upper()


def check(kind: str, value: str, param: str = "value", type_param: str = "type") -> tuple[str, str | None]:
    """The value in its usual form and its country, or Invalid naming what to fix."""
    found = TYPES.get(kind)
    if found is None:
        raise Invalid("Choose a tax ID type from the list.", type_param)
    if found.module is None:
        text = " ".join(value.split())
        if not any(c.isalnum() for c in text) or len(text) > MAX_UNCHECKED:
            raise Invalid("This tax ID is not valid. Check it and try again.", param)
        return text, country(kind, text)
    try:
        stored = _checked(kind, _module(found.module), value)
    except InvalidChecksum:
        raise Invalid("This tax ID is not valid. Check it and try again.", param) from None
    except ValidationError:
        example = _example(kind, value)
        raise Invalid(f"Enter the tax ID in this form: {example}.", param, example) from None
    return stored, country(kind, stored)
