"""A real Stripe emulator for the tests: localstripe, one process per test worker, emptied before each test.

`stripe_emulator` gives its address; point PORCH_STRIPE_API_BASE (Settings.stripe_api_base) at it.
Any key starting sk_ is accepted by it. Webhooks it delivers are configured with `webhook(...)`.
`stripe_settings` are the test settings pointed at it, and `emulator_client` the merchant's side of it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import stripe
from processes import free_port, stop, wait_until_healthy

from backend import stripe_api
from backend.settings import Settings

HERE = Path(__file__).parent
KEY = "sk_test_porch_emulator"
WEBHOOK_SECRET = "whsec_test_porch_0123456789abcdef"


@dataclass
class Emulator:
    url: str
    key: str = KEY

    def reset(self) -> None:
        """Forget every object (webhook configurations stay)."""
        httpx.delete(self.url + "/_config/data", timeout=10).raise_for_status()

    def webhook(self, name: str, url: str, secret: str, events: list[str] | None = None) -> None:
        """Have the emulator deliver (signed with `secret`) the events named, or all, to `url`."""
        form = [("url", url), ("secret", secret)] + [("events[]", e) for e in events or []]
        # A form with a repeated key: httpx takes that only as bytes already encoded.
        httpx.post(f"{self.url}/_config/webhooks/{name}", content=urlencode(form).encode(), timeout=10,
                   headers={"Content-Type": "application/x-www-form-urlencoded"}).raise_for_status()


@pytest.fixture(scope="session")
def stripe_emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    port = free_port()
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, str(HERE / "localstripe_server.py"), str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url + "/v1/customers?limit=1", log, "localstripe",
                           headers={"Authorization": f"Bearer {KEY}"})
        yield Emulator(url)
    finally:
        stop(process)


@pytest.fixture
def stripe_emulator(stripe_emulator_process: Emulator) -> Emulator:
    stripe_emulator_process.reset()
    return stripe_emulator_process


@pytest.fixture
def stripe_settings(settings: Settings, stripe_emulator: Emulator) -> Settings:
    """The tests' settings (conftest `settings`) with billing.engine stripe's pointed at the emulator."""
    return replace(settings, stripe_secret_key=stripe_emulator.key, stripe_api_base=stripe_emulator.url,
                   stripe_webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
def emulator_client(stripe_settings: Settings) -> stripe.StripeClient:
    """The merchant's side: changes made in Stripe itself (the Dashboard, their own code)."""
    return stripe_api.client(stripe_settings)
