"""The merchant's Stripe account connected, end to end in Debian's Chromium: a customer made in the
Stripe emulator (localstripe) is brought in by `python -m backend sync`, signs in to a live server with
billing.engine stripe, cancels; the subscription is then read back from the emulator, not from Porch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import ROOT

from backend import stripe_api
from backend.cli import main
from backend.settings import SETTINGS

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

# The sample config with the Stripe engine; its branding paths made absolute, for a copy outside the repository.
STRIPE = (ROOT / "config.yaml").read_text(encoding="utf-8").replace(
    " site/assets/", f" {ROOT}/site/assets/") + "\nbilling:\n  engine: stripe\n"
EMAIL = "morgan@example.com"  # no demo customer has it (backend/demo.py)


@pytest.fixture(name="settings")
def stripe_settings(settings: Any, stripe_emulator: Any) -> Any:
    return replace(settings, stripe_secret_key=stripe_emulator.key, stripe_api_base=stripe_emulator.url)


def customer_in_stripe(client: Any) -> tuple[str, str]:
    """A customer with a card and a monthly subscription, made through Stripe's API; their ids."""
    product = client.v1.products.create({"name": "Stripe Pro"})
    client.v1.plans.create({"id": "stripe-pro-monthly", "product": product.id, "amount": 2900, "currency": "usd",
                            "interval": "month", "nickname": "Stripe Pro monthly"})
    customer = client.v1.customers.create({"email": EMAIL, "name": "Morgan Lee"})
    card = client.v1.payment_methods.create({"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    client.v1.payment_methods.attach(card.id, {"customer": customer.id})
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"plan": "stripe-pro-monthly"}]})
    return customer.id, subscription.id


def sync(settings: Any, folder: Path) -> str:
    """`python -m backend sync`, as the merchant runs it, on the live server's store."""
    config = folder / "stripe.yaml"
    config.write_text(STRIPE, encoding="utf-8")
    environ: dict[str, str | None] = {name: None for name, _, _ in SETTINGS} | {
        "PORCH_CONFIG": str(config), "PORCH_DATABASE_URL": settings.database_url,
        "PORCH_SECRET_KEY": settings.secret_key.decode(), "PORCH_OUTBOX_DIR": str(folder / "outbox"),
        "PORCH_STRIPE_SECRET_KEY": settings.stripe_secret_key, "PORCH_STRIPE_API_BASE": settings.stripe_api_base}
    result = CliRunner().invoke(main, ["sync"], env=environ)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_customer_synced_from_stripe_cancels_and_stripe_has_it(page, live_server_with, settings, db,
                                                                 tmp_path) -> None:
    client = stripe_api.client(settings)
    _, subscription_id = customer_in_stripe(client)
    sync(settings, tmp_path)
    server = live_server_with(STRIPE)

    page.goto(f"{server.url}/login/?prefilled_email={EMAIL.replace('@', '%40')}")
    page.get_by_role("button", name="Continue").click()
    page.locator("#code").fill(server.next_code())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/portal/")
    expect(page.locator("#subscriptions")).to_contain_text("Stripe Pro")
    expect(page.locator("#payment-methods")).to_contain_text("4242")

    page.get_by_role("button", name="Cancel subscription").click()
    page.get_by_role("dialog", name="Why are you leaving?").get_by_role("radio", name="It's too expensive").check()
    page.get_by_role("dialog", name="Why are you leaving?").get_by_role("button", name="Continue").click()
    page.get_by_role("dialog", name="Before you go").get_by_role("button", name="No thanks, continue").click()
    page.get_by_role("dialog", name="Cancel subscription").get_by_role("button", name="Cancel subscription").click()
    expect(page.locator("#status")).to_contain_text("Your subscription will end on")
    expect(page.get_by_role("button", name="Don't cancel")).to_be_visible()

    in_stripe = client.v1.subscriptions.retrieve(subscription_id)
    assert in_stripe.cancel_at_period_end is True
    assert in_stripe.status == "active"
    assert page.problems == []
