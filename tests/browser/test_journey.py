"""The whole journey in Debian's Chromium against the real backend: login link with a
prefilled email, the code from the mail, the portal, and back out."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


def sign_in(page, live_server, address="jenny@example.com"):
    page.goto(f"{live_server.url}/login/?prefilled_email={address.replace('@', '%40')}")
    expect(page.locator("#email")).to_have_value(address)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#code")).to_be_focused()
    code = live_server.next_code()
    page.locator("#code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/portal/")
    return code


def test_login_link_to_portal_and_back_out(page, live_server):
    code = sign_in(page, live_server)
    expect(page.locator("#subscriptions")).to_contain_text("Pro")
    expect(page.locator("#subscriptions")).to_contain_text("$29.00")
    expect(page.locator("#payment-methods")).to_contain_text("4242")
    expect(page.locator("#details")).to_contain_text("Jenny Rosen")
    expect(page.locator("#invoices")).to_contain_text("JENNY-0013")

    # Neither the code nor the session is visible to the page's scripts.
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert code not in page.content()
    assert code not in page.url

    # Caught as it starts: once loaded, the sign-in page takes ?signed_out=1 out of the address bar.
    with page.expect_navigation(url=f"{live_server.url}/login/?signed_out=1"):
        page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live_server.url}/portal/")
    page.wait_for_url(f"{live_server.url}/login/")
    assert page.problems == []


def test_the_prefilled_email_can_be_edited(page, live_server):
    page.goto(f"{live_server.url}/login/?prefilled_email=jenny%40example.com")
    page.locator("#email").fill("sam@example.com")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#code-help")).to_contain_text("sam@example.com")
    page.locator("#code").fill(live_server.next_code())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/portal/")
    expect(page.locator("#subscriptions")).to_contain_text("Team")


def test_an_unknown_email_looks_the_same_and_mails_nothing(page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.locator("#email").fill("nobody@example.com")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#code-help")).to_contain_text("nobody@example.com")
    page.locator("#code").fill("123456")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#code-error")).not_to_be_empty()
    assert live_server.mail.empty()


def test_a_wrong_code_is_explained_and_the_right_one_still_works(page, live_server):
    page.goto(f"{live_server.url}/login/?prefilled_email=jenny%40example.com")
    page.get_by_role("button", name="Continue").click()
    code = live_server.next_code()
    page.locator("#code").fill(f"{(int(code) + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#code-error")).not_to_be_empty()
    expect(page.locator("#code")).to_have_value("")
    page.locator("#code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/portal/")


def test_sign_in_with_the_keyboard_alone(page, live_server):
    page.goto(f"{live_server.url}/login/?prefilled_email=jenny%40example.com")
    page.locator("#email").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#code")).to_be_focused()
    page.keyboard.type(live_server.next_code())
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/portal/")


def test_pages_are_served_with_a_strict_csp(page, live_server):
    response = page.goto(f"{live_server.url}/login/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
