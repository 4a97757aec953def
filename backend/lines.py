"""The lines of a change's preview and of the invoice it makes, as the portal shows them, whichever
engine computed their amounts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from backend.store import billing


def day_text(moment: int) -> str:
    at = datetime.fromtimestamp(moment, UTC)
    return f"{at.day} {at:%b %Y}"


def line(description: str, amount: int, proration_line: bool, start: int, end: int, price: str,
         quantity: int) -> dict[str, Any]:
    """One line of a preview or an invoice, in the shape the portal's preview shows."""
    return {"description": description, "amount": amount, "proration": proration_line,
            "period": {"start": start, "end": end}, "price": price, "quantity": quantity}


def price_name(conn: sa.Connection, price: dict[str, Any]) -> str:
    """What the customer calls a price: its nickname, else its product's name, else its id."""
    product = price.get("product")
    if not isinstance(product, dict):
        product = (billing.get(conn, "products", product) if isinstance(product, str) else None) or {}
    return str(price.get("nickname") or product.get("name") or price["id"])
