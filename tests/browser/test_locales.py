"""Every locale in a real Chromium on the narrowest phone: each page and dialog says nothing in
English that the locale's catalogue translates, nothing overflows its box, <html lang dir> is
right, and amounts and dates are written the locale's way. Also: which language a visitor gets."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from babel.messages.pofile import read_po
from routed import ORIGIN, PLANS, PORTAL, SELF_SERVICE, Session, refusal

from backend import i18n
from backend.i18n import LOCALES, translations

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

PHONE = {"width": 320, "height": 720}
PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)[sd]")
REPLIES = {
    "GET /api/portal": [(200, SELF_SERVICE, {})],
    "GET /api/plans": [(200, PLANS, {})],
    "POST /api/login/session": [(401, refusal("portal_link_invalid", "The link has expired or was already used."), {})],
    "GET /api/invoices/in_1": [(200, {"invoice": PORTAL["invoices"][0] | {"lines": {"data": [
        {"description": "Pro", "amount": 2900, "quantity": 1}]}}, "customer": PORTAL["customer"], "business": {"name": "Acme"}}, {})],
}

# Every visible text and every accessible name or hint on the page, each whole.
TEXTS = """() => [...document.querySelectorAll('body *')]
  .filter((el) => el.checkVisibility({visibilityProperty: true}))
  .flatMap((el) => [el.innerText, el.getAttribute('aria-label'), el.getAttribute('placeholder'), el.getAttribute('alt')])
  .concat([document.title])
  .filter(Boolean).map((text) => text.trim())"""

# Boxes whose content is wider than they are, and boxes that stick out of the screen.
OVERFLOWS = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width) found.push(`the page scrolls sideways (${document.documentElement.scrollWidth}px)`);
  const classes = (el) => (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes(el);
  for (const el of document.querySelectorAll('body *')) {
    if (!el.checkVisibility({visibilityProperty: true}) || el.closest('.visually-hidden, .skip')) continue;
    // Kept for screen readers only, clipped to a pixel: nobody sees it overflow.
    if (el.clientWidth <= 1 || el.clientHeight <= 1) continue;
    if (el.matches('input, select, textarea, option')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'inline' || style.textOverflow === 'ellipsis' || ['auto', 'scroll'].includes(style.overflowX)) continue;
    const text = (el.innerText || '').trim().slice(0, 40);
    if (el.scrollWidth > el.clientWidth + 1) found.push(`${name(el)} "${text}" is ${el.scrollWidth}px of content in ${el.clientWidth}px`);
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 || box.left < -1) {
      found.push(`${name(el)} "${text}" sticks out of the screen (${Math.round(box.left)}..${Math.round(box.right)}px)`);
    }
  }
  return found;
}"""


@cache
def english_only(locale: str) -> tuple[re.Pattern[str], list[tuple[str, re.Pattern[str]]]]:
    """The template's strings that `locale` translates to something else, as patterns that match
    them shown in English, whatever fills their placeholders; and all of them as one pattern,
    so that each text on a page is tried once. Strings of placeholders and punctuation alone
    ("{start} – {end}") say nothing in any language and are left out."""
    with open(i18n.LOCALES_DIR / i18n.folder(locale) / "LC_MESSAGES/messages.po", "rb") as handle:
        catalog = read_po(handle)
    found = []
    for message in catalog:
        if not message.id:
            continue
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        translated = message.string if isinstance(message.string, tuple) else (message.string,)
        for source in english:
            if source in translated or not re.search(r"[A-Za-z]{2}", PLACEHOLDER.sub("", source)):
                continue
            found.append((source, ".+?".join(re.escape(part) for part in PLACEHOLDER.split(source))))
    return re.compile("|".join(f"(?:{p})" for _, p in found), re.S), [(s, re.compile(p, re.S)) for s, p in found]


def problems(page: Any, locale: str, state: str) -> list[str]:
    said = []
    if locale.split("-")[0] != "en":
        anything, each = english_only(locale)
        for text in set(page.evaluate(TEXTS)):
            if anything.fullmatch(text):
                said += [f"{state}: English {source!r} in {text!r}" for source, pattern in each if pattern.fullmatch(text)]
    return said + [f"{state}: {overflow}" for overflow in page.evaluate(OVERFLOWS)]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_page_and_dialog_is_in_the_language_and_fits_a_phone(session: Callable[..., Session], locale: str) -> None:
    s = session(REPLIES, viewport=PHONE, locale=locale)
    base = "/" if locale == "en" else f"/{locale}/"
    found: list[str] = []

    page = s.open(base + "login/")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [locale, i18n.direction(locale)]
    found += problems(page, locale, "sign-in")
    page.locator("details.languages summary").click()
    found += problems(page, locale, "language menu")

    page = s.open(base + "portal/")
    expect(page.locator("#content")).to_be_visible()
    found += problems(page, locale, "portal")
    for opener, n in (("#subscriptions button", 0), ("#subscriptions button", 1), ("#payment-methods button", 0),
                      ("#details-actions button", 0)):
        page.locator(opener).nth(n).click()
        dialog = page.locator("dialog[open]")
        expect(dialog).to_be_visible()
        if dialog.locator("#plan-choices").count():
            expect(dialog.get_by_role("radio").first).to_be_visible()
        found += problems(page, locale, f"dialog {dialog.get_attribute('id')}")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)

    page = s.open(base + "receipt/?invoice=in_1")
    expect(page.get_by_role("article")).to_be_visible()
    found += problems(page, locale, "receipt")

    page = s.open(base + "portal/#session=spent")
    expect(page.locator("#failure")).to_be_visible()
    found += problems(page, locale, "a portal link that cannot open")
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("locale", "amount", "date"),
    [("de", "29,00 $", "21.01.2026"), ("fr", "29,00 $US", "21 janv. 2026"), ("ja", "$29.00", "2026/01/21"),
     ("ar", "US$", "21\u200f/01\u200f/2026"), ("pt-BR", "US$ 29,00", "21 de jan. de 2026")],
)
def test_amounts_and_dates_are_written_the_locale_way(
    session: Callable[..., Session], locale: str, amount: str, date: str
) -> None:
    page = session(REPLIES, locale=locale).open(f"/{locale}/portal/")
    subscription = page.locator("#subscriptions > li").first
    expect(subscription).to_contain_text(amount)
    expect(subscription).to_contain_text(date)


def test_a_root_page_follows_the_browser_and_a_locale_folder_keeps_its_language(session: Callable[..., Session]) -> None:
    s = session({}, locale="de-AT")
    page = s.open("/login/?prefilled_email=jenny%40example.com")
    page.wait_for_url(ORIGIN + "/de/login/")  # the query is carried over, then read and cleared by the page
    expect(page.locator("#email")).to_have_value("jenny@example.com")
    assert page.evaluate("document.documentElement.lang") == "de"
    page = s.open("/fr/login/")
    assert page.url == ORIGIN + "/fr/login/" and page.evaluate("document.documentElement.lang") == "fr"

    chinese = session(REPLIES, locale="zh-Hant-HK").open("/portal/")
    chinese.wait_for_url(ORIGIN + "/zh-HK/portal/")
    mexican = session({}, locale="es-MX").open("/login/")
    mexican.wait_for_url(ORIGIN + "/es-419/login/")
    unknown = session({}, locale="xx").open("/login/")
    assert unknown.url == ORIGIN + "/login/" and unknown.evaluate("document.documentElement.lang") == "en"


def test_a_locale_on_a_link_wins_and_is_remembered(session: Callable[..., Session]) -> None:
    s = session(REPLIES, locale="de-DE")
    page = s.open("/login/?locale=pt-br&prefilled_email=jenny%40example.com")
    page.wait_for_url(ORIGIN + "/pt-BR/login/")
    expect(page.locator("#email")).to_have_value("jenny@example.com")
    # The remembered choice beats the browser on the root pages, and a link can still change it.
    page = s.open("/portal/")
    page.wait_for_url(ORIGIN + "/pt-BR/portal/")
    page = s.open("/pt-BR/receipt/?invoice=in_1&locale=ja")
    page.wait_for_url(ORIGIN + "/ja/receipt/?invoice=in_1")
    page = s.open("/login/?locale=en")  # the default lives at the root: asking for it stays there
    page.wait_for_url(ORIGIN + "/login/")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert s.open("/login/").evaluate("document.documentElement.lang") == "en"


def test_the_language_menu_keeps_the_page_and_its_query(session: Callable[..., Session]) -> None:
    page = session(REPLIES).open("/receipt/?invoice=in_1")
    expect(page.get_by_role("article")).to_be_visible()
    page.locator("details.languages summary").click()
    page.get_by_role("link", name="Deutsch").click()
    page.wait_for_url(ORIGIN + "/de/receipt/?invoice=in_1")
    expect(page.get_by_role("article")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "de"
    page.locator("details.languages summary").click()
    expect(page.get_by_role("link", name="Deutsch")).to_have_attribute("aria-current", "true")


def test_sign_in_asks_for_the_code_email_in_the_page_language(session: Callable[..., Session]) -> None:
    s = session({"POST /api/login/code": [(202, {"challenge": "ch_1"}, {})]}, locale="ko")
    page = s.open("/ko/login/")
    page.locator("#email").fill("jenny@example.com")
    page.locator("#email-form button[type=submit]").click()
    expect(page.locator("#code")).to_be_focused()
    (call,) = s.sent("POST /api/login/code")
    assert call["body"] == '{"email":"jenny@example.com","locale":"ko"}'


def test_a_refused_field_is_explained_in_the_page_language_with_the_apis_example(session: Callable[..., Session]) -> None:
    s = session({**REPLIES, "PATCH /api/customer": [
        (400, refusal("invalid_address", "Enter a postal code such as 10117.", "address.postal_code", "10117"), {}),
        (400, refusal("duplicate_tax_id", "This tax ID is already in the list.", "tax_ids[0].value"), {}),
    ]}, locale="de")
    page = s.open("/de/portal/")
    page.locator("#details-actions button").click()
    dialog = page.locator("dialog[open]")
    dialog.locator("#details-name").fill("Jenny Rosen")
    dialog.locator("button[type=submit]").click()
    german = translations("de")
    said = german.gettext("Enter a postal code such as {example}.").replace("{example}", "10117")
    assert "10117" in said and "Enter" not in said
    expect(dialog.locator("[aria-invalid=true]")).to_have_accessible_description(said)
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator("[aria-invalid=true]")).to_have_accessible_description(german.gettext("This tax ID is already in the list."))


def test_customer_data_keeps_its_own_order_on_a_right_to_left_page(session: Callable[..., Session]) -> None:
    portal = {**SELF_SERVICE, "customer": {**PORTAL["customer"], "phone": "+49 30 1234567"}}
    page = session({"GET /api/portal": [(200, portal, {})]}, locale="ar").open("/ar/portal/")
    phone = page.locator("#details bdi", has_text="+49 30 1234567")
    expect(phone).to_have_count(1)
    # Isolated, the number reads +49 30 1234567 rather than 1234567 30 49+, in a right-to-left list.
    assert phone.evaluate("node => node.matches(':dir(ltr)') && node.closest('dd').matches(':dir(rtl)')")
