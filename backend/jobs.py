"""Durable job queues in the database (mail, webhook deliveries), drained by workers.

A job is taken under a lease: a worker that dies mid-job leaves it to be taken
again when the lease runs out, so nothing queued is lost."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from backend.store.database import Database

log = logging.getLogger("porch.jobs")
LEASE = 120
BATCH = 20
POLL = 5.0


def claim(conn: sa.Connection, table: sa.Table, now: int) -> list[Any]:
    """Take due jobs under a lease; of competing workers only one takes each job.

    One update takes them all: a job another worker took meanwhile is no longer due (its lease
    is in the future), so the update passes it over and does not return it. Each code request
    queues a job, and an update a job cost the mail worker more than the request's own writes."""
    due = table.c.status.in_(("pending", "sending")) & (table.c.next_attempt_at <= now)
    rows = conn.execute(sa.select(table).where(due).order_by(table.c.id).limit(BATCH)).all()
    if not rows:
        return []
    taken = set(conn.execute(
        table.update().where(table.c.id.in_([row.id for row in rows]), due)
        .values(status="sending", next_attempt_at=now + LEASE).returning(table.c.id)
    ).scalars())
    return [row for row in rows if row.id in taken]


def finish(conn: sa.Connection, table: sa.Table, finished: list[tuple[int, dict[str, Any]]]) -> None:
    """Record how each job of a pass ended, in one transaction."""
    for job_id, values in finished:
        conn.execute(table.update().where(table.c.id == job_id).values(**values))


def backoff(attempts: int, cap: int) -> int:
    """Seconds to wait before try number `attempts + 1`: 10, 20, 40 ... up to `cap`."""
    return min(cap, 5 * 2**attempts)


class Worker:
    """Runs passes over a queue: when woken, and every few seconds for jobs other processes queued."""

    table: sa.Table
    name = "queue"

    def __init__(self, db: Database, clock: Callable[[], float] = time.time):
        self.db = db
        self.clock = clock
        self.wake = asyncio.Event()
        self.stopping = False
        self.finished: list[tuple[int, dict[str, Any]]] = []  # the pass's jobs as they end: (id, values)

    async def run(self) -> None:
        while not self.stopping:
            # Cleared before the pass, not after: a job queued during the pass wakes the next one.
            self.wake.clear()
            try:
                handled = await self.process_due()
            except Exception:  # the worker must outlive a database hiccup; the jobs stay queued
                log.exception("%s: pass failed; trying again", self.name)
                handled = 0
            if handled == BATCH:
                continue  # a full batch: more may be due now
            try:
                await asyncio.wait_for(self.wake.wait(), POLL)
            except TimeoutError:
                pass

    async def process_due(self) -> int:
        """One pass over due jobs; returns how many were handled."""
        now = int(self.clock())
        jobs = await self.db.call(claim, self.table, now)
        # How the pass's jobs ended is written once, after the last: a transaction each was, on SQLite's
        # single writer, a second write for every code request. A process that dies mid-pass leaves its
        # jobs to be taken again once their lease runs out, as it did mid-job before.
        self.finished = []
        try:
            for job in jobs:
                if self.stopping:
                    break  # the rest wait out their lease and go to whichever process takes them next
                await self.handle(job, now)
        finally:
            if self.finished:
                await self.db.call(finish, self.table, self.finished)
        return len(jobs)

    async def stop(self, task: asyncio.Task[None], grace: float) -> None:
        """Finish the job in hand, then stop: cancelled mid-send, a mail that the server had
        already accepted would stay unmarked and go out again once its lease ran out."""
        self.stopping = True
        self.wake.set()
        try:
            await asyncio.wait_for(task, grace)
        except TimeoutError:
            pass  # wait_for cancelled the task: a job that hangs must not hold up the stop

    async def handle(self, job: Any, now: int) -> None:
        raise NotImplementedError

    async def finish(self, job: Any, values: dict[str, Any]) -> None:
        """How a job ended, written with the rest of its pass."""
        self.finished.append((job.id, values))
