"""`python -m backend import FILE.json`: bring Stripe-shaped objects into the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backend import portal
from backend.store import billing
from backend.store.database import Database


class ImportFileError(Exception):
    """The file cannot be imported; nothing was written."""


def _no_constant(name: str) -> None:
    # Python reads NaN and Infinity, but they are not JSON: the API could never send such an object.
    raise ValueError(f"{name} is not allowed in JSON")


def read_objects(path: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read it: {exc.strerror}") from None
    except ValueError as exc:
        raise ImportFileError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ImportFileError(f"{path}: expected a JSON object with keys such as \"customers\", found {type(data).__name__}")
    unknown = sorted(set(data) - set(billing.KINDS))
    if unknown:
        raise ImportFileError(
            f"{path}: unknown key {unknown[0]!r}; use any of: {', '.join(billing.KINDS)}"
        )
    found: dict[str, list[dict[str, Any]]] = {}
    for kind, value in data.items():
        # A Stripe list object, as Stripe's API returns it, is accepted as well as a bare array.
        if isinstance(value, dict) and value.get("object") == "list":
            value = value.get("data")
        if not isinstance(value, list):
            raise ImportFileError(f"{path}: {kind}: expected a list of objects")
        for index, obj in enumerate(value):
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
                raise ImportFileError(f"{path}: {kind}[{index}]: each object needs a string \"id\"")
            if kind == "invoices":
                _check_links(path, obj)
        found[kind] = value
    return found


def _check_links(path: Path, invoice: dict[str, Any]) -> None:
    # The portal's pages link to these; a javascript: or data: link could run script there.
    for field in portal.INVOICE_LINKS:
        if invoice.get(field) is not None and not portal.https_url(invoice[field]):
            raise ImportFileError(
                f"{path}: invoices: invoice {invoice['id']} needs \"{field}\" as an https:// URL, or null")


def import_file(db: Database, path: Path) -> dict[str, int]:
    """Upsert every object of the file in one transaction: all of it, or none of it."""
    objects = read_objects(path)

    def write(conn: Any) -> dict[str, int]:
        counts = {}
        for kind in billing.KINDS:
            try:
                counts[kind] = billing.upsert(conn, kind, objects.get(kind, []))
            except billing.ObjectError as exc:
                raise ImportFileError(f"{path}: {kind}: {exc}") from None
        return counts

    return db.run(write)
