"""The stripe engine's changes to customers and their payment methods (see backend.engine)."""

from __future__ import annotations

import stripe

from backend.config import Config


class CustomerActions:
    client: stripe.StripeClient
    config: Config
