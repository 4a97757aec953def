"""Message catalogues: site/locales holds one gettext catalogue for the pages and the mail."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALES = Path(__file__).resolve().parent.parent / "site" / "locales"


@lru_cache(maxsize=64)
def translations(locale: str = "en", locales_dir: Path = LOCALES) -> NullTranslations:
    """The catalogue for a locale; English, the source language, needs none."""
    return Translations.load(str(locales_dir), [locale.replace("-", "_"), "en"], domain="messages")
