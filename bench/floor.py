"""The floor for GET /api/portal: the same customer's objects for the same session, with the least code.

    PORCH_DATABASE_URL=... PORCH_SECRET_KEY=... python bench/floor.py --port 8002

A bare ASGI app, served by uvicorn with the backend's own arguments (backend/cli.py's
SERVER_OPTIONS), that answers GET /api/portal as directly as the stores allow: it reads the
session cookie, HMACs it as backend/keys.py does, runs ONE query with the driver's own cursor
(sqlite3, or psycopg on PostgreSQL) that checks the session and returns the customer, their
subscriptions, the newest shown invoices, their payment methods, retention offers, and the prices
and products their subscriptions use, and writes the stored JSON texts joined into one object.
No framework, no ORM, no parsing, no middleware: bench/load.py measures the backend's portal
against it, and what the backend costs above it is the price of everything it does besides.

Not byte-identical to the backend's answer: the objects are as stored, not cut to the fields the
page shows, and the prices come beside the subscriptions rather than inside them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

# The repository is not installed for bench scripts.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from backend.cli import SERVER_OPTIONS
from backend.keys import digest
from backend.sessions import ABSOLUTE, IDLE, LOCAL_COOKIE
from backend.store.billing import INVOICE_PAGE

PARTS = ("customer", "subscriptions", "invoices", "payment_methods", "retention_offers", "prices", "products")
# The price ids of the customer's subscription items: an item's price is an id, or the price itself.
PRICE_IDS = {
    "sqlite": "SELECT coalesce(json_extract(i.value, '$.price.id'), json_extract(i.value, '$.price')) AS id "
              "FROM subscriptions, json_each(subscriptions.data, '$.items.data') AS i WHERE customer = (SELECT id FROM s)",
    "postgresql": "SELECT coalesce(i -> 'price' ->> 'id', i ->> 'price') AS id "
                  "FROM subscriptions, jsonb_array_elements(subscriptions.data::jsonb -> 'items' -> 'data') AS i "
                  "WHERE customer = (SELECT id FROM s)",
}
QUERY = f"""
WITH s AS (SELECT customer AS id FROM sessions WHERE token_hash = ? AND NOT revoked AND last_seen > ? AND created > ?),
p AS ({{price_ids}})
SELECT 0 AS part, created, id, data FROM customers WHERE id = (SELECT id FROM s)
UNION ALL SELECT 1, created, id, data FROM subscriptions WHERE customer = (SELECT id FROM s)
UNION ALL SELECT * FROM (SELECT 2, created, id, data FROM invoices
    WHERE customer = (SELECT id FROM s) AND (status IS NULL OR status != 'draft')
    ORDER BY created DESC, id DESC LIMIT {INVOICE_PAGE}) AS shown
UNION ALL SELECT 3, created, id, data FROM payment_methods WHERE customer = (SELECT id FROM s)
UNION ALL SELECT 4, created, subscription, data FROM retention_offers WHERE customer = (SELECT id FROM s)
UNION ALL SELECT 5, created, id, data FROM prices WHERE id IN (SELECT id FROM p)
UNION ALL SELECT 6, created, id, data FROM products WHERE id IN (SELECT product FROM prices WHERE id IN (SELECT id FROM p))
ORDER BY part, created DESC, id DESC
"""
SECRET = os.environ["PORCH_SECRET_KEY"].encode()
URL = os.environ["PORCH_DATABASE_URL"]
HEADERS = [(b"content-type", b"application/json")]
NOT_SIGNED_IN = b'{"error":{"code":"not_signed_in","message":"Sign in to continue."}}'


def answer(rows: list[tuple[int, int, str, str]]) -> bytes | None:
    found: list[list[str]] = [[] for _ in PARTS]
    for part, _created, _id, data in rows:
        found[part].append(data)
    if not found[0]:
        return None
    lists = ",".join(f'"{name}":[{",".join(found[n])}]' for n, name in enumerate(PARTS) if n)
    return f'{{"customer":{found[0][0]},{lists}}}'.encode()


if URL.startswith("sqlite:///"):
    sql = QUERY.format(price_ids=PRICE_IDS["sqlite"])
    # The backend's SQLite settings (backend/store/database.py): reads on the event loop, in WAL.
    connection = sqlite3.connect(URL.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")

    async def open_store() -> None:
        pass

    async def read(params: tuple[str, int, int]) -> list[tuple[int, int, str, str]]:
        return connection.execute(sql, params).fetchall()
else:
    import psycopg

    sql = QUERY.format(price_ids=PRICE_IDS["postgresql"]).replace("?", "%s")
    pool: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()

    async def open_store() -> None:
        # As many connections as SQLAlchemy's pool keeps open for the backend; opened on uvicorn's event loop.
        for _ in range(5):
            pool.put_nowait(await psycopg.AsyncConnection.connect(
                URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True))

    async def read(params: tuple[str, int, int]) -> list[tuple[int, int, str, str]]:
        conn = await pool.get()
        try:
            return await (await conn.execute(sql, params)).fetchall()
        finally:
            pool.put_nowait(conn)


def session_token(scope: dict) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            for pair in value.decode("latin-1").split(";"):
                key, _, token = pair.strip().partition("=")
                if key == LOCAL_COOKIE:
                    return token
    return None


async def app(scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await open_store()
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    token = session_token(scope)
    body = b'{"status":"ok"}' if scope["path"] == "/api/health" else None  # for bench/load.py to see it is up
    if token and body is None:
        now = int(time.time())
        body = answer(await read((digest(SECRET, "session", token), now - IDLE, now - ABSOLUTE)))
    status = 200 if body is not None else 401
    body = body if body is not None else NOT_SIGNED_IN
    await send({"type": "http.response.start", "status": status,
                "headers": HEADERS + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8002)
    port = parser.parse_args().port
    uvicorn.run(app, host="127.0.0.1", port=port, **SERVER_OPTIONS)
