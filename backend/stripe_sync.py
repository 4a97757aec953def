"""`python -m backend sync`: bring the merchant's Stripe account into the store.

A full run lists everything the portal shows, step by step (products, prices, customers with their
tax ids and payment methods, subscriptions, invoices), with the SDK's auto-pagination, and commits
each page of 100 through the normalising reader (backend.stripe_objects) and the importer, together
with the id of the page's last object: memory stays flat, and a run that is interrupted continues
after its last committed page when it is run again.

A run after a finished one is incremental: it lists Stripe's events since the last run began (less
a margin for the difference between this machine's clock and Stripe's) and re-fetches each object
an event names, rather than storing the event's copy: an event's object is rendered in the API
version of its time and without the customer's tax ids, events come in no dependable order, and
one object changed ten times needs one fetch, not ten writes of old states. An object Stripe no
longer has (404, or a deleted customer) is removed. Events that already existed when the last run
began are skipped: that run read their changes already. Stripe keeps events for 30 days; a last
run older than that makes a full run, and the run says why.

One run at a time: two would each continue from the same cursor and write over each other's pages.
A run claims the store first (a row of sync_lock, taken under a lock of its own) and renews the claim
in the transaction of each page it commits; a second run is refused, saying since when the first
has run. A run that crashed leaves its claim behind, and the claim lapses LEASE seconds after its
last page; a run that finds its own claim lapsed and taken stops before its next page."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import sqlalchemy as sa
import stripe

from backend import importer, stripe_objects
from backend.store import billing, tables
from backend.store.database import Database, hold
from backend.stripe_api import as_dict

PAGE = 100
# This machine's clock may run behind Stripe's: events are listed from this long before a run began.
MARGIN = 300
EVENTS_KEPT = 30 * 86400
# Stripe lists payment methods one customer at a time: a request each, made this many at once, well
# under Stripe's rate limit (100 reads a second in live mode; the SDK retries a 429 after a pause).
WORKERS = 8
STEPS = ("products", "prices", "customers", "subscriptions", "invoices")
RUN = "run"
EVENTS = "events"
# What an event's object names, by its "object": the kind to re-fetch, and the field holding its id.
TARGETS = {
    "customer": ("customers", "id"), "tax_id": ("customers", "customer"),
    "payment_method": ("payment_methods", "id"), "subscription": ("subscriptions", "id"),
    "invoice": ("invoices", "id"), "product": ("products", "id"), "price": ("prices", "id"), "plan": ("plans", "id"),
}
# A removed object as the reader takes it, by the kind that was fetched.
DELETED_OBJECT = {"customers": "customer", "payment_methods": "payment_method", "subscriptions": "subscription",
                  "invoices": "invoice", "products": "product", "prices": "price", "plans": "plan"}
# How long a run's claim outlives its last committed page: far above the time one page takes (a page of
# customers lists their payment methods, 8 at a time), so only a run that stopped loses it.
LEASE = 15 * 60
LOCK = "sync"

Obj = dict[str, Any]
Progress = Callable[[str, int], None]


class SyncError(Exception):
    """Stripe answered something the sync cannot store; what was committed before stays."""


class SyncBusy(Exception):
    """Another run holds the store."""


@dataclass(frozen=True)
class Claim:
    """A run's hold on the store: whose it is, and the clock its lease is counted by."""

    owner: str
    now: Callable[[], float]


@dataclass
class Synced:
    """What one run did: full or incremental and why, and how many objects of each kind it wrote and removed.
    An object counts where it was listed or fetched; its copies inside others (an item's price) are stored
    but not counted again."""

    full: bool
    why: str
    written: dict[str, int] = field(default_factory=lambda: dict.fromkeys(billing.KINDS, 0))
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(billing.KINDS, 0))
    seconds: float = 0.0

    def add(self, objects: list[Obj], removed: dict[str, int]) -> None:
        for obj in objects:
            if not stripe_objects.is_deleted(obj):
                self.written[stripe_objects.KIND_OF[obj["object"]]] += 1
        for kind in billing.KINDS:
            self.removed[kind] += removed[kind]


def _when(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _claim(conn: sa.Connection, claim: Claim) -> None:
    # SQLite's writing transactions are serial already; on PostgreSQL two runs starting at once queue here.
    hold(conn, "porch:sync")
    table, now = tables.sync_lock, int(claim.now())
    held = conn.execute(sa.select(table).where(table.c.name == LOCK)).first()
    if held is not None and held.expires_at > now:
        raise SyncBusy(f"another sync is running since {_when(held.started_at)} ({held.owner}); wait for it to "
                       f"finish, or, if it has stopped, run again after {_when(held.expires_at)}, when its claim "
                       "lapses")
    conn.execute(table.delete().where(table.c.name == LOCK))
    conn.execute(table.insert().values(name=LOCK, owner=claim.owner, started_at=now, expires_at=now + LEASE))


def _renew(conn: sa.Connection, claim: Claim) -> None:
    table = tables.sync_lock
    mine = (table.c.name == LOCK) & (table.c.owner == claim.owner)
    if not conn.execute(table.update().where(mine).values(expires_at=int(claim.now()) + LEASE)).rowcount:
        raise SyncBusy(f"this sync went {LEASE // 60} minutes without committing a page, and its claim lapsed and "
                       "was taken by another run: that run goes on, and this one stops here")


def _release(conn: sa.Connection, claim: Claim) -> None:
    table = tables.sync_lock
    conn.execute(table.delete().where((table.c.name == LOCK) & (table.c.owner == claim.owner)))


def _state(conn: sa.Connection) -> dict[str, Any]:
    return {row.step: row for row in conn.execute(sa.select(tables.stripe_sync))}


def _begin(conn: sa.Connection, claim: Claim, started_at: int, since: int | None, seen: list[str],
           skipped: list[str]) -> None:
    _renew(conn, claim)
    conn.execute(tables.stripe_sync.delete())
    conn.execute(tables.stripe_sync.insert(), [{
        "step": RUN, "started_at": started_at, "since": since, "seen": json.dumps(seen),
        "skipped": json.dumps(skipped),
    }])


def _step(conn: sa.Connection, step: str, started_at: int, **values: Any) -> None:
    table = tables.stripe_sync
    if not conn.execute(table.update().where(table.c.step == step).values(values)).rowcount:
        conn.execute(table.insert().values(step=step, started_at=started_at, **values))


def _finish(conn: sa.Connection, claim: Claim, step: str, started_at: int, at: float) -> None:
    _renew(conn, claim)
    _step(conn, step, started_at, finished_at=int(at))


def _pages(objects: Iterable[Any], size: int) -> Iterator[list[Obj]]:
    found = iter(objects)
    while page := [as_dict(obj) for obj in islice(found, size)]:
        yield page


def _listing(client: stripe.StripeClient, step: str, after: str | None, page: int) -> Iterator[Any]:
    """Every object of a step, newest first, from after the object `after`, page by page as the loop asks."""
    # Any: the SDK types each list's parameters apart, and these are shared.
    params: Any = {"limit": page} | ({"starting_after": after} if after else {})
    if step == "products":
        return client.v1.products.list(params).auto_paging_iter()
    if step == "prices":
        try:
            return client.v1.prices.list(params).auto_paging_iter()
        except stripe.StripeError as exc:
            if exc.http_status != 404:
                raise
            # An emulator without the Prices API (localstripe): its plans, which the reader makes prices.
            return client.v1.plans.list(params).auto_paging_iter()
    if step == "customers":
        # A customer's tax ids are not in it unless asked for.
        return client.v1.customers.list(params | {"expand": ["data.tax_ids"]}).auto_paging_iter()
    if step == "subscriptions":
        return client.v1.subscriptions.list(params | {"status": "all"}).auto_paging_iter()
    return client.v1.invoices.list(params).auto_paging_iter()


def _payment_methods(client: stripe.StripeClient, customer_id: str) -> list[Obj]:
    listing = client.v1.payment_methods.list({"customer": customer_id, "limit": PAGE})
    return [as_dict(method) for method in listing.auto_paging_iter()]


def _fetch(client: stripe.StripeClient, kind: str, object_id: str) -> list[Obj]:
    """The object as Stripe has it now (a customer with its tax ids and payment methods), or a deleted one."""
    try:
        if kind == "customers":
            customer = as_dict(client.v1.customers.retrieve(object_id, {"expand": ["tax_ids"]}))
            if stripe_objects.is_deleted(customer):
                return [customer]
            return [customer, *_payment_methods(client, object_id)]
        service: Any = {"payment_methods": client.v1.payment_methods, "subscriptions": client.v1.subscriptions,
                   "invoices": client.v1.invoices, "products": client.v1.products, "prices": client.v1.prices,
                   "plans": client.v1.plans}[kind]
        return [as_dict(service.retrieve(object_id))]
    except stripe.StripeError as exc:
        if exc.http_status != 404:
            raise
        return [{"id": object_id, "object": DELETED_OBJECT[kind], "deleted": True}]


def _target(event: Obj) -> tuple[str, str] | None:
    """The object an event is about, as (kind to fetch, id); None for events about nothing the portal shows."""
    obj = (event.get("data") or {}).get("object") or {}
    if obj.get("object") not in TARGETS:
        return None
    kind, key = TARGETS[obj["object"]]
    object_id = billing.ref(obj.get(key))
    return (kind, object_id) if isinstance(object_id, str) else None


def _batch(objects: Iterable[Obj], where: str) -> stripe_objects.Batch:
    batch = stripe_objects.Batch()
    for obj in objects:
        try:
            batch.add(obj, where)
        except stripe_objects.ObjectError as exc:
            raise SyncError(str(exc)) from None
    return batch.finished()


def _commit(conn: sa.Connection, claim: Claim, batch: stripe_objects.Batch, owners: list[str], step: str,
            started_at: int, cursor: str, seen: list[str]) -> dict[str, int]:
    """Store a page, and where the step got to, in one transaction with the renewal of the run's claim;
    returns how many of each kind went. `owners` are the customers whose every payment method the page
    lists: any other stored for them was detached in Stripe."""
    _renew(conn, claim)
    imported = importer.write(conn, batch)
    stale = sorted(billing.payment_method_ids(conn, owners) - set(batch.objects["payment_methods"]))
    removed = billing.remove(conn, "payment_methods", stale)
    _step(conn, step, started_at, cursor=cursor)
    if seen:
        table = tables.stripe_sync
        known = json.loads(conn.execute(sa.select(table.c.seen).where(table.c.step == RUN)).scalar() or "[]")
        conn.execute(table.update().where(table.c.step == RUN).values(seen=json.dumps(known + seen)))
    return {kind: n + removed[kind] for kind, n in imported.removed.items()}


def _event_ids(client: stripe.StripeClient, since: int) -> list[str]:
    params: Any = {"limit": PAGE, "created": {"gte": since}}
    listing = client.v1.events.list(params)
    return [event.id for event in listing.auto_paging_iter()]


def _full(db: Database, client: stripe.StripeClient, claim: Claim, state: dict[str, Any], started_at: int,
          synced: Synced, progress: Progress, size: int) -> None:
    for step in STEPS:
        row = state.get(step)
        if row is not None and row.finished_at is not None:
            continue
        done = 0
        for page in _pages(_listing(client, step, row.cursor if row is not None else None, size), size):
            owners: list[str] = []
            if step == "customers":
                owners = [customer["id"] for customer in page]
                with ThreadPoolExecutor(WORKERS) as pool:
                    listed = pool.map(lambda owner: _payment_methods(client, owner), owners)
                    page = page + [method for methods in listed for method in methods]
            cursor = owners[-1] if owners else page[-1]["id"]
            synced.add(page, db.run(_commit, claim, _batch(page, f"{step}: "), owners, step, started_at, cursor, []))
            done += len(owners or page)
            progress(step, done)
        db.run(_finish, claim, step, started_at, time.time())


def _incremental(db: Database, client: stripe.StripeClient, claim: Claim, state: dict[str, Any], started_at: int,
                 synced: Synced, progress: Progress, size: int) -> None:
    run = state[RUN]
    skipped = set(json.loads(run.skipped or "[]"))
    row = state.get(EVENTS)
    params: Any = {"limit": size, "created": {"gte": run.since}}
    if row is not None and row.cursor:
        params["starting_after"] = row.cursor
    done = 0
    for page in _pages(client.v1.events.list(params).auto_paging_iter(), size):
        objects: list[Obj] = []
        owners: list[str] = []
        # Once per page: each page's events existed before its fetches began, so one fetch reads them all;
        # an event of a later page may be newer than a fetch made for an earlier one.
        fetched: set[tuple[str, str]] = set()
        for event in page:
            target = _target(event)
            if event["id"] in skipped or target is None or target in fetched:
                continue
            fetched.add(target)
            found = _fetch(client, *target)
            objects += found
            if target[0] == "customers" and not stripe_objects.is_deleted(found[0]):
                owners.append(target[1])
        # This run read, after each of these events, the object it names: the next run need not.
        seen = [event["id"] for event in page if event["created"] >= started_at - MARGIN]
        synced.add(objects, db.run(_commit, claim, _batch(objects, "events: "), owners, EVENTS, started_at,
                                   page[-1]["id"], seen))
        done += len(page)
        progress(EVENTS, done)


def _plan(run: Any, full: bool, began: float) -> tuple[bool, bool, str]:
    """(continue the unfinished run?, full?, why), from the last run's row."""
    if run is None:
        return False, True, "Full sync: no sync has run before."
    if run.finished_at is None and run.since is None:
        return True, True, f"Continuing the full sync begun {_when(run.started_at)}, after its last committed page."
    if full:
        return False, True, "Full sync, as asked (--full)."
    if run.finished_at is None and began - run.since < EVENTS_KEPT:
        return True, False, (f"Continuing the incremental sync begun {_when(run.started_at)}, "
                             "after its last committed page.")
    since = run.since if run.finished_at is None else run.started_at - MARGIN
    if began - since >= EVENTS_KEPT:
        days = int((began - since) // 86400)
        return False, True, (f"Full sync: the changes to read go back {days} days, and Stripe keeps events "
                             "for 30 days only.")
    return False, False, f"Incremental sync: what changed since {_when(since + MARGIN)}."


def sync(db: Database, client: stripe.StripeClient, full: bool = False, now: Callable[[], float] = time.time,
         progress: Progress = lambda step, done: None, page: int = PAGE) -> Synced:
    """Run (or continue) a sync, committing `page` objects at a time; returns what it did. Stripe's errors
    leave as stripe.StripeError, with every page committed before them kept and the next run continuing
    after them. SyncBusy: another run holds the store."""
    # Fits the column (255) whatever the host is called; the token tells apart two runs of one process.
    claim = Claim(f"process {os.getpid()} on {socket.gethostname()[:200]}, run {secrets.token_hex(4)}", now)
    db.run(_claim, claim)
    try:
        return _run(db, client, claim, full, progress, page)
    finally:
        # A claim the store cannot take back now lapses by itself.
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            db.run(_release, claim)


def _run(db: Database, client: stripe.StripeClient, claim: Claim, full: bool, progress: Progress,
         page: int) -> Synced:
    now = claim.now
    began = now()
    run: Any = db.run(_state, write=False).get(RUN)
    resume, is_full, why = _plan(run, full, began)
    started_at = run.started_at if resume else int(began)
    if not resume and is_full:
        # Events that exist now describe changes the listing will read: the next run skips them.
        db.run(_begin, claim, started_at, None, _event_ids(client, started_at - MARGIN), [])
    elif not resume:
        # Read from the last run that finished (an unfinished one's reach is its own `since`).
        since = run.since if run.finished_at is None else run.started_at - MARGIN
        db.run(_begin, claim, started_at, since, [], json.loads(run.seen or "[]") if run.finished_at is not None
               else [])
    synced = Synced(is_full, why)
    state = db.run(_state, write=False)
    if is_full:
        _full(db, client, claim, state, started_at, synced, progress, page)
    else:
        _incremental(db, client, claim, state, started_at, synced, progress, page)
    db.run(_finish, claim, RUN, started_at, now())
    synced.seconds = now() - began
    return synced
