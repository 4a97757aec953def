"""Languages: every catalogue complete and sound, and a visitor's language chosen as a browser would expect."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from backend import i18n
from backend.i18n import LOCALES, accepted, canonical, match, native_name, plural_samples, translations

LOCALES_DIR = Path(__file__).resolve().parent.parent / "site" / "locales"
PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)[sd]")


def template_ids() -> set[str]:
    with open(LOCALES_DIR / "messages.pot", "rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


def test_every_locale_but_english_has_a_catalogue_and_no_catalogue_is_extra() -> None:
    folders = {p.parent.parent.name for p in LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")}
    assert folders == {i18n.folder(locale) for locale in LOCALES if locale != "en"}


@pytest.mark.parametrize("locale", [locale for locale in LOCALES if locale != "en"])
def test_each_catalogue_translates_every_string_of_the_template(locale: str) -> None:
    """Run `pybabel update` after `pybabel extract`, then translate what it adds (README, Languages)."""
    with open(LOCALES_DIR / i18n.folder(locale) / "LC_MESSAGES/messages.po", "rb") as handle:
        catalog = read_po(handle)
    ids = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    assert set(ids) == template_ids(), "the catalogue is out of step with messages.pot"
    problems = []
    for key, message in ids.items():
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        source = message.id[-1] if isinstance(message.id, tuple) else message.id
        if message.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        if isinstance(message.id, tuple) and len(forms) != catalog.num_plurals:
            problems.append(f"{len(forms)} plural forms of {catalog.num_plurals}: {key!r}")
        wanted = set(PLACEHOLDER.findall(source))
        for form in forms:
            found = set(PLACEHOLDER.findall(form or ""))
            # A plural form may say its number in words ("one month"), so {count} may be missing from it.
            needed = wanted - {"{count}"} if isinstance(message.id, tuple) else wanted
            if not (form or "").strip():
                problems.append(f"untranslated: {key!r}")
            elif not needed <= found <= wanted:
                problems.append(f"placeholders {sorted(found)} instead of {sorted(wanted)}: {key!r}")
    assert problems == []


def test_translations_are_read_from_the_po_files_with_plurals() -> None:
    german = translations("de")
    assert german.gettext("Sign in") == "Anmelden"
    assert german.ngettext("{count} invoice shown.", "{count} invoices shown.", 3) != "{count} invoices shown."
    assert translations("en").gettext("Sign in") == "Sign in"
    assert translations("en-GB").gettext("Canceled") == "Cancelled"


def test_a_missing_catalogue_is_an_error_never_english(tmp_path: Path) -> None:
    with pytest.raises(i18n.MissingCatalogue, match=r"the fr-CA catalogue .*/fr_CA/LC_MESSAGES/messages.po is missing"):
        translations("fr-CA", tmp_path)
    assert translations("en", tmp_path).gettext("Sign in") == "Sign in"


def test_the_catalogues_are_read_from_the_checkout_when_run_there() -> None:
    assert i18n.LOCALES_DIR == LOCALES_DIR
    assert i18n.catalogue("pt-BR") == LOCALES_DIR / "pt_BR/LC_MESSAGES/messages.po"


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (["de-AT", "en"], "de"),            # a regional variant falls back to its language
        (["pt-BR"], "pt-BR"),
        (["pt_br"], "pt-BR"),               # any case, either separator
        (["pt-PT"], "pt"),
        (["es-MX"], "es-419"),              # Latin American Spanish
        (["es-ES"], "es"),
        (["zh-CN"], "zh"),
        (["zh-Hans-CN"], "zh"),
        (["zh-Hant"], "zh-TW"),
        (["zh-Hant-HK"], "zh-HK"),          # the script is dropped, the region kept
        (["zh-MO"], "zh-HK"),
        (["no"], "nb"),
        (["tl"], "fil"),
        (["iw"], "he"),
        (["en-US"], "en"),
        (["en-GB"], "en-GB"),
        (["xx", "fr-CH"], "fr"),            # the first that matches wins
        (["xx"], None),
        ([], None),
    ],
)
def test_match_picks_what_a_browser_asks_for(requested: list[str], expected: str | None) -> None:
    assert match(requested, LOCALES) == expected


def test_match_offers_only_what_is_available() -> None:
    assert match(["es-MX", "de"], ["en", "de"]) == "de"
    assert match(["zh-Hant"], ["en", "zh"]) == "zh"
    assert match(["en-AU"], ["de", "en"]) == "en"


def test_accept_language_is_read_most_wanted_first() -> None:
    assert accepted("de-CH, en;q=0.8, fr;q=0.9, *;q=0.1, it;q=0") == ["de-CH", "fr", "en"]
    assert accepted("ja;q=bad, ko") == ["ko"]
    assert accepted("") == []


def test_canonical_names_a_supported_locale_or_nothing() -> None:
    assert (canonical("ZH_tw"), canonical("es-419"), canonical("en-US"), canonical("de")) == ("zh-TW", "es-419", None, "de")


def test_languages_name_themselves_on_the_menu() -> None:
    assert [native_name(x) for x in ("de", "es-419", "ja", "ar", "zh-HK")] == [
        "Deutsch", "Español (Latinoamérica)", "日本語", "العربية", "繁體中文（香港）"]


def test_plural_samples_cover_each_form_with_a_number_of_that_form() -> None:
    assert plural_samples("en") == {"one": 1, "other": 0}
    assert plural_samples("ru") == {"many": 0, "one": 1, "few": 2, "other": 100}
    assert plural_samples("ar") == {"zero": 0, "one": 1, "two": 2, "few": 3, "many": 11, "other": 100}
    assert plural_samples("ja") == {"other": 0}
