"""Languages: the locales Porch speaks, their catalogues, and choosing one for a visitor.

site/locales/<folder>/LC_MESSAGES/messages.po holds one gettext catalogue per locale for
the pages and the mail. The .po files are read as they are, so there is no compile step
and no binary file to keep in step. English is the source language and has no catalogue.
Locale tags are BCP 47 as Stripe writes them (pt-BR, es-419); the folders use Babel's
underscore (pt_BR).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from backend.resources import LOCALES_DIR, WHERE

if TYPE_CHECKING:
    from babel.support import NullTranslations

SOURCE = "en"
# Every locale Stripe's portal offers, then the right-to-left ones Porch adds.
LOCALES = (
    "en", "en-AU", "en-CA", "en-GB", "en-IE", "en-IN", "en-NZ", "en-SG",
    "bg", "cs", "da", "de", "el", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr", "hu", "id", "it",
    "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl", "sv",
    "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
    "ar", "he",
)
# Tags browsers send that mean one of the locales above under another name.
ALIASES = {
    "no": "nb", "nn": "nb", "tl": "fil", "iw": "he", "in": "id", "zh-cn": "zh", "zh-sg": "zh",
    "zh-hant": "zh-TW", "zh-hans": "zh", "zh-mo": "zh-HK", "pt-pt": "pt", "es-es": "es",
}
# Babel's own names for these are long ("中文 (繁體字, 中國香港特別行政區)"); these are how the languages name themselves on a menu.
NATIVE_NAMES = {"zh": "简体中文", "zh-HK": "繁體中文（香港）", "zh-TW": "繁體中文（台灣）"}


def canonical(tag: str) -> str | None:
    """The supported locale `tag` names, whatever its case or separator ("pt_br" -> "pt-BR"), else None."""
    wanted = tag.replace("_", "-").lower()
    return next((locale for locale in LOCALES if locale.lower() == wanted), None)


def folder(locale: str) -> str:
    return locale.replace("-", "_")


def match(requested: Iterable[str], available: Iterable[str]) -> str | None:
    """The first of `available` that one of `requested` (most wanted first) asks for: the tag itself,
    then its language and region without a script (zh-Hant-HK -> zh-HK), a name it goes by
    (zh-Hant -> zh-TW, no -> nb), a regional Spanish as es-419, then its language alone."""
    offered = {locale.lower(): locale for locale in available}
    for tag in requested:
        parts = tag.strip().replace("_", "-").lower().split("-")
        language = parts[0]
        script = next((p for p in parts[1:] if len(p) == 4 and p.isalpha()), "")
        region = next((p for p in parts[1:] if len(p) == 2 and p.isalpha() or len(p) == 3 and p.isdigit()), "")
        candidates = ["-".join(parts), f"{language}-{region}", f"{language}-{script}"]
        candidates += [ALIASES.get(c, "").lower() for c in candidates]
        if language == "es" and region not in ("", "es"):
            candidates.append("es-419")
        candidates += [ALIASES.get(language, "").lower(), language]
        found = next((offered[c] for c in candidates if c in offered), None)
        if found:
            return found
    return None


def accepted(header: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first ("de-CH, en;q=0.8" -> ["de-CH", "en"])."""
    weighted = []
    for position, item in enumerate(header.split(",")):
        tag, *params = (part.strip() for part in item.split(";"))
        weight = next((p[2:] for p in params if p.startswith("q=")), "1")
        try:
            q = float(weight)
        except ValueError:
            continue
        if tag and tag != "*" and q > 0:
            weighted.append((-q, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


# Babel is imported where it is used: the config schema needs only the names above, and the
# backend's start should not pay for the CLDR data.


def direction(locale: str) -> str:
    from babel import Locale

    return "rtl" if Locale.parse(folder(locale)).character_order == "right-to-left" else "ltr"


def native_name(locale: str) -> str:
    """The language as it names itself, capitalised for a menu: "Deutsch", "Español (Latinoamérica)"."""
    from babel import Locale

    if locale in NATIVE_NAMES:
        return NATIVE_NAMES[locale]
    parsed = Locale.parse(folder(locale))
    name = parsed.get_display_name(parsed) or locale
    return name[:1].upper() + name[1:]


def plural_samples(locale: str) -> dict[str, int]:
    """A whole number for each plural category the language has (CLDR's one, few, many, other...),
    so that the build can ask gettext for each form the page may need."""
    from babel import Locale

    rule = Locale.parse(folder(locale)).plural_form
    samples: dict[str, int] = {}
    for n in [*range(201), 1000, 1000000]:
        samples.setdefault(rule(n), n)
    # Russian and others use "other" only for fractions; the page still needs a form to fall back on.
    samples.setdefault("other", 100)
    return samples


class MissingCatalogue(Exception):
    """A locale's catalogue is not where Porch looks: its pages and mail would silently be English."""


def catalogue(locale: str, locales_dir: Path = LOCALES_DIR) -> Path:
    """The .po file of a locale other than English, which must exist."""
    path = locales_dir / folder(locale) / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        raise MissingCatalogue(f"the {locale} catalogue {path} is missing, so its pages and mail would be English; {WHERE}")
    return path


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str = SOURCE, locales_dir: Path = LOCALES_DIR) -> NullTranslations:
    """The catalogue for a locale, read from its .po file once. English needs none."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    if locale == SOURCE:
        return NullTranslations()
    path = catalogue(locale, locales_dir)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=folder(locale))
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")
