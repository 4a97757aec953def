"""Customers choose their default payment method, remove one, or go to add one (features.payment_method_update)."""

from __future__ import annotations

from backend.openapi import Operation

OPERATIONS: list[Operation] = []
