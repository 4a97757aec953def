"""`python -m backend check` with billing.engine stripe: the key tried with one call against a real Stripe
emulator, and every missing or refused setting said word for word. A restricted key's 403, which the
emulator cannot give, is tested at the SDK boundary."""

from __future__ import annotations

from pathlib import Path

import pytest
from processes import free_port
from stripe_boundary import scripted_client
from stripe_emulator import Emulator
from test_cli import SECRET, failure, run

from backend.settings import Settings
from backend.stripe_check import problems

WEBHOOK_SECRET = "whsec_porch_check_test"
KEY_UNSET = ("PORCH_STRIPE_SECRET_KEY is unset: billing.engine is stripe. Set it to a secret key (sk_live_... or "
             "sk_test_...) or a restricted key (rk_...) from https://dashboard.stripe.com/apikeys")
WEBHOOK_UNSET = ("PORCH_STRIPE_WEBHOOK_SECRET is unset: billing.engine is stripe, and Porch checks Stripe's webhooks "
                 "with it. `python -m backend stripe webhook --url https://YOUR-PORTAL/api/stripe/webhook` registers "
                 "the endpoint and prints it")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("business:\n  name: Acme\nbilling:\n  engine: stripe\n")
    return tmp_path


def check(**env: str) -> list[str]:
    """The problems `check` lists (its lines after the first), when it finds any."""
    lines = failure(run("check", PORCH_SECRET_KEY=SECRET, **env)).splitlines()
    assert lines[0] == "Error: check found problems:"
    return [line.removeprefix("  ") for line in lines[1:]]


def test_check_tries_the_key_and_passes(folder, stripe_emulator: Emulator):
    result = run("check", PORCH_SECRET_KEY=SECRET, PORCH_STRIPE_SECRET_KEY=stripe_emulator.key,
                 PORCH_STRIPE_API_BASE=stripe_emulator.url, PORCH_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        f"stripe:   the key lists customers at {stripe_emulator.url}, webhook secret set", "All good."]


def test_check_says_the_key_and_webhook_secret_are_unset(folder):
    assert check() == [KEY_UNSET, WEBHOOK_UNSET]


def test_check_says_stripe_refused_the_key(folder, stripe_emulator: Emulator):
    # The emulator, like Stripe, answers 401 to a key it does not know.
    assert check(PORCH_STRIPE_SECRET_KEY="rk_test_unknown", PORCH_STRIPE_API_BASE=stripe_emulator.url,
                 PORCH_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET) == [
        ("PORCH_STRIPE_SECRET_KEY was refused by Stripe (401): it is not a secret (sk_) or restricted (rk_) key of "
        "an account, or it was rolled. Copy it again from https://dashboard.stripe.com/apikeys")]


def test_check_says_stripe_is_unreachable_naming_the_setting(folder):
    closed = f"http://127.0.0.1:{free_port()}"
    assert check(PORCH_STRIPE_SECRET_KEY="sk_test_anything", PORCH_STRIPE_API_BASE=closed,
                 PORCH_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET) == [
        (f"cannot reach Stripe at {closed} (PORCH_STRIPE_API_BASE) to list customers: the connection failed. "
        "Check the address and this machine's network")]


def test_check_says_the_webhook_secret_is_not_one(folder, stripe_emulator: Emulator):
    assert check(PORCH_STRIPE_SECRET_KEY=stripe_emulator.key, PORCH_STRIPE_API_BASE=stripe_emulator.url,
                 PORCH_STRIPE_WEBHOOK_SECRET=stripe_emulator.key) == [
        ("PORCH_STRIPE_WEBHOOK_SECRET does not start with whsec_: set it to the webhook endpoint's signing secret, "
        "not an API key")]


def test_check_leaves_stripe_alone_with_the_local_engine(folder):
    (folder / "config.yaml").write_text("business:\n  name: Acme\n")
    result = run("check", PORCH_SECRET_KEY=SECRET)
    assert result.exit_code == 0, result.output
    assert "stripe" not in result.stdout


def settings_with(key: str) -> Settings:
    return Settings(config_path=Path("config.yaml"), database_url="sqlite:///porch.db", secret_key=b"",
                    smtp_url=None, outbox_dir=Path("outbox"), stripe_secret_key=key,
                    stripe_webhook_secret=WEBHOOK_SECRET)


def test_a_restricted_key_without_a_permission_is_named_at_the_sdk_boundary():
    # Stripe's answer to a restricted key that lacks a permission names the permission it would need.
    refused = {"error": {"type": "invalid_request_error", "message": (
        "The provided key 'rk_test_******************abcd' does not have the required permissions for this "
        "endpoint on account 'acct_1032D82eZvKYlo2C'. Having the 'rak_customer_read' permission would allow "
        "this request to continue.")}}
    client, http = scripted_client((403, refused))
    assert problems(settings_with("rk_test_abcd"), client) == [
        ("PORCH_STRIPE_SECRET_KEY lacks a permission Porch needs: Stripe refused to list customers (403, it lacks "
        "rak_customer_read). Give the restricted key the permissions listed in the README's \"Connect Stripe\".")]
    assert [(sent.method, sent.path, sent.params) for sent in http.sent] == [("GET", "/v1/customers", {"limit": "1"})]


def test_a_403_without_a_permission_named_says_stripes_message_at_the_sdk_boundary():
    client, _ = scripted_client((403, {"error": {"type": "invalid_request_error", "message": "Not allowed."}}))
    assert problems(settings_with("rk_test_abcd"), client) == [
        ("PORCH_STRIPE_SECRET_KEY lacks a permission Porch needs: Stripe refused to list customers (403: Not "
        "allowed). Give the restricted key the permissions listed in the README's \"Connect Stripe\".")]
