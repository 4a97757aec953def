"""The menu of accounts in Debian's Chromium, against the real backend: a customer whose newer,
empty account hides a past-due one signs in, finds the past-due one in the menu beside "Signed in
as", and switches to it with the keyboard; the page says so and shows that account's bill."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from helpers import NOW
from live import sign_in
from routed import PORTAL, refusal
from test_accessibility import RULES, violations
from test_self_service import status

from backend.store import billing

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

DAY = 86400
AXE = Axe()


@pytest.fixture
def alex_twice(db: Any) -> None:
    """Alex signs up again: a newer customer on the same address, with no subscription, which
    Stripe's rule signs in as (neither has an active or trialing plan), hiding the past-due one."""
    db.run(billing.upsert, "customers", [{
        "id": "cus_alex_new", "object": "customer", "email": "alex@example.com", "name": None, "created": NOW - 2 * DAY,
    }])


def test_a_past_due_account_behind_a_newer_empty_one_is_one_switch_away(tab, live_server, alex_twice) -> None:
    page = sign_in(tab, live_server, "alex@example.com")
    expect(page.locator("#subscriptions-empty")).to_be_visible()  # the empty one, as sign-in picks it
    menu = page.get_by_role("combobox", name="Account")
    expect(menu).to_be_visible()
    expect(menu).to_have_accessible_description(
        "Your email address has more than one account. Choose one to see its billing.")
    expect(menu.locator("option")).to_have_text([
        "Customer since Sep 19, 2026 – No subscription",
        "Alex Kim – Pro (Past due)",
    ])
    expect(menu).to_have_value("cus_alex_new")

    # Choosing alone changes nothing: the button does, so arrowing through the list never reloads the page.
    menu.focus()
    page.keyboard.press("ArrowDown")
    expect(menu).to_have_value("cus_alex")
    page.keyboard.press("Tab")
    switch = page.get_by_role("button", name="Switch")
    expect(switch).to_be_focused()
    expect(page.locator("#subscriptions-empty")).to_be_visible()
    page.keyboard.press("Enter")

    expect(status(page)).to_have_text("Switched to Alex Kim.")
    expect(page.locator("#subscriptions > li")).to_contain_text("Past due")
    expect(page.locator("#invoices")).to_contain_text("Open")
    expect(menu).to_have_value("cus_alex")
    expect(switch).to_be_focused()
    assert AXE.run(page, options=RULES).response["violations"] == []

    # A fresh page stays on the account switched to.
    page.reload()
    expect(page.locator("#subscriptions > li")).to_contain_text("Past due")
    expect(page.get_by_role("combobox", name="Account")).to_have_value("cus_alex")


def test_a_customer_alone_on_the_address_sees_no_menu(tab, live_server) -> None:
    page = sign_in(tab, live_server, "sam@example.com")
    expect(page.locator("#subscriptions > li")).to_have_count(1)
    expect(page.locator("#accounts")).to_be_hidden()



def test_another_tab_follows_a_switch_and_closes_its_dialogs(tab, live_server) -> None:
    page = sign_in(tab, live_server)
    other = page.context.new_page()
    other.goto(f"{live_server.url}/portal/")
    expect(other.locator("#subscriptions > li")).to_contain_text("Pro")
    other.get_by_role("button", name="Edit details").click()
    expect(other.get_by_role("dialog", name="Billing details")).to_be_visible()

    menu = page.get_by_role("combobox", name="Account")
    menu.select_option("cus_jenny_old")
    page.get_by_role("button", name="Switch").click()
    expect(status(page)).to_have_text("Switched to Jenny Rosen.")

    # The other tab's form was Jenny's current customer's; saving it now would change the one switched to.
    expect(other.get_by_role("dialog", name="Billing details")).to_be_hidden()
    expect(status(other)).to_have_text("Switched to Jenny Rosen.")
    expect(other.locator("#subscriptions > li")).to_contain_text("Canceled")
    expect(other.get_by_role("combobox", name="Account")).to_have_value("cus_jenny_old")


ACCOUNTS = [
    {"id": "cus_1", "name": "Jenny", "created": 1_700_000_000, "subscriptions": []},
    {"id": "cus_2", "name": None, "created": 1_600_000_000,
     "subscriptions": [{"status": "past_due", "plan": "Pro"}, {"status": "canceled", "plan": None}]},
]


def test_the_menu_in_light_and_dark_on_a_phone_and_right_to_left(session, scheme) -> None:
    s = session({"GET /api/portal": [(200, {**PORTAL, "accounts": ACCOUNTS}, {})]}, color_scheme=scheme)
    page = s.open("/portal/")
    menu = page.get_by_role("combobox", name="Account")
    expect(menu.locator("option")).to_have_text(["Jenny – No subscription",
                                                 "Customer since Sep 13, 2020 – Pro (Past due), Canceled"])
    found = violations(page, "menu of accounts")
    page.goto(page.url.replace("/portal/", "/ar/portal/"))
    expect(page.locator("#accounts")).to_be_visible()
    found += violations(page, "menu of accounts in Arabic")
    assert found == []


def test_an_account_gone_meanwhile_is_said_and_the_list_refreshed(session) -> None:
    s = session({
        "GET /api/portal": [(200, {**PORTAL, "accounts": ACCOUNTS}, {}), (200, PORTAL, {})],
        "POST /api/accounts/cus_2/switch": [(404, refusal("not_found"), {})],
    })
    page = s.open("/portal/")
    page.get_by_role("combobox", name="Account").select_option("cus_2")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("alert").filter(has_text="This option is not available.")).to_be_visible()
    expect(page.locator("#accounts")).to_be_hidden()  # the new list: no other account left
    (call,) = s.sent("POST /api/accounts/cus_2/switch")
    assert call["body"] == "{}" and call["headers"]["content-type"] == "application/json"
