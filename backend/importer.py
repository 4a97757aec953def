"""`python -m backend import FILE.json`: bring Stripe-shaped objects into the store.

The file's shapes are read by backend.stripe_objects; this module reads the file and writes what
it holds in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend import stripe_objects
from backend.store import billing
from backend.store.database import Database


class ImportFileError(Exception):
    """The file cannot be imported; nothing was written."""


@dataclass(frozen=True)
class Imported:
    """How many objects of each kind were written, and how many were removed (deleted objects, and what only they owned)."""

    written: dict[str, int]
    removed: dict[str, int]


def _no_constant(name: str) -> None:
    # Python reads NaN and Infinity, but they are not JSON: the API could never send such an object.
    raise ValueError(f"{name} is not allowed in JSON")


def read_objects(path: Path) -> stripe_objects.Batch:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read it: {exc.strerror}") from None
    except ValueError as exc:
        raise ImportFileError(f"{path}: not valid JSON: {exc}") from None
    try:
        return stripe_objects.read_file(data)
    except stripe_objects.ObjectError as exc:
        raise ImportFileError(f"{path}: {exc}") from None


def write(conn: Any, batch: stripe_objects.Batch) -> Imported:
    """Upsert the batch's objects and remove its deleted ones: the one way Stripe's objects enter the store,
    from a file, from a sync or from a webhook."""
    written = {kind: billing.upsert(conn, kind, batch.objects[kind].values()) for kind in billing.KINDS}
    removed = dict.fromkeys(billing.KINDS, 0)
    for kind in billing.KINDS:
        for kind_removed, count in billing.remove(conn, kind, list(batch.deleted[kind])).items():
            removed[kind_removed] += count
    return Imported(written, removed)


def import_file(db: Database, path: Path) -> Imported:
    """Upsert every object of the file and remove the deleted ones, in one transaction: all of it, or none of it."""
    batch = read_objects(path)
    return db.run(write, batch)
