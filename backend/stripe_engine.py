"""The stripe engine: every change is made in the merchant's Stripe account first (see backend.engine)."""

from __future__ import annotations

import stripe

from backend.config import Config
from backend.stripe_customers import CustomerActions


class StripeEngine(CustomerActions):
    name = "stripe"

    def __init__(self, client: stripe.StripeClient, config: Config):
        self.client = client
        self.config = config
