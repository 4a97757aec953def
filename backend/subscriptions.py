"""Customers cancel, resume and change their subscriptions (features.subscription_cancel, subscription_update)."""

from __future__ import annotations

from backend.openapi import Operation

OPERATIONS: list[Operation] = []
