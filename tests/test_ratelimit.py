"""Floods of code requests against the sending limits of SPEC section 7, and which client
address the limits count: the peer, or what X-Forwarded-For says only when a trusted proxy says it.

The single limits (one a minute, ten an hour, per client address) are in test_signin.py;
here attackers spread their requests over addresses, emails and an hour, and others must still get in."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from helpers import Clock
from processes import Backend
from starlette.testclient import TestClient

from backend import ratelimit
from backend.store.tables import mail_queue, rate_events

MINUTE = 60
HOUR = 3600


def ask(app: Any, address: str, email: str) -> httpx.Response:
    """A code request from a peer at `address`; the app's lifespan is the `client` fixture's, so the pool lives on."""
    with closing(TestClient(app, base_url="http://localhost", client=(address, 40000))) as client:
        return client.post("/api/login/code", json={"email": email})


def refused(answer: httpx.Response) -> bool:
    if answer.status_code == 202:
        return False
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "rate_limited"
    assert int(answer.headers["retry-after"]) > 0
    return True


def counted(db: Any, table: sa.Table) -> int:
    return db.run(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar(), write=False)


def test_a_flood_for_one_email_from_ever_new_addresses_gets_it_thirty_codes_an_hour(
    app, client, clock: Clock, db
):
    start = clock()
    accepted = []
    for n in range(150):  # every 30 seconds for 75 minutes, each time from an address not seen before
        if not refused(ask(app, f"198.51.{n // 200}.{n % 200 + 1}", "jenny@example.com")):
            accepted.append(clock() - start)
        if n == 40:
            # Mid-flood, another customer from another address gets in.
            assert ask(app, "203.0.113.50", "sam@example.com").status_code == 202
        clock.advance(30)
    # Each address may have one; all together thirty an hour, and the window slides.
    assert accepted == [k * 30 for k in range(30)] + [HOUR + k * 30 for k in range(30)]
    assert counted(db, mail_queue) == len(accepted) + 1


def test_a_flood_from_one_address_across_emails_is_bounded_and_others_still_get_in(
    app, client, clock: Clock, db
):
    attacker = "198.51.100.66"
    per_minute = []
    for minute in range(8):
        answers = [ask(app, attacker, f"person{minute}.{n}@example.com") for n in range(15)]
        per_minute.append(sum(not refused(a) for a in answers))
        assert ask(app, f"203.0.113.{minute + 1}", f"colleague{minute}@example.com").status_code == 202
        clock.advance(MINUTE)
    # Ten a minute, sixty an hour; the others' requests were never in the attacker's count.
    assert per_minute == [10] * 6 + [0, 0]
    assert refused(ask(app, attacker, "jenny@example.com"))
    assert ask(app, "203.0.113.99", "jenny@example.com").status_code == 202
    clock.advance(HOUR - 8 * MINUTE)
    assert ask(app, attacker, "late@example.com").status_code == 202


def test_an_ipv6_client_is_its_64_and_an_ipv4_client_its_address():
    assert ratelimit.client("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert ratelimit.client("2001:DB8:1:2::1") == ratelimit.client("2001:db8:1:2:ffff::") == "2001:db8:1:2::/64"
    assert ratelimit.client("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert ratelimit.client("::ffff:198.51.100.7") == ratelimit.client("198.51.100.7") == "198.51.100.7"
    assert ratelimit.client("testclient") == "testclient"


def test_pruning_keeps_each_event_as_long_as_its_window_looks_back(db, clock: Clock):
    now = int(clock())
    events = [(key, now - age) for key in ("send:address:x", "long:fail:email:x")
              for age in (ratelimit.DAY - 1, ratelimit.DAY, ratelimit.LONG_WINDOW - 1, ratelimit.LONG_WINDOW)]
    db.run(lambda conn: [ratelimit.record(conn, at, key) for key, at in events])
    assert db.run(ratelimit.prune, now) == 4
    kept = db.run(lambda conn: conn.execute(sa.select(rate_events.c.key, rate_events.c.at)).all(), write=False)
    assert sorted(kept) == sorted([("send:address:x", now - ratelimit.DAY + 1)] + [
        ("long:fail:email:x", now - age) for age in (ratelimit.DAY - 1, ratelimit.DAY, ratelimit.LONG_WINDOW - 1)])


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(db, database_url, tmp_path: Path):
    """A real process: uvicorn itself would believe X-Forwarded-For from 127.0.0.1 unless told not to."""
    proxy = "127.0.0.2"  # the loopback network is all this machine's: a second peer address to trust
    with Backend(tmp_path / "backend", database_url, PORCH_TRUSTED_PROXIES=proxy) as backend, \
            backend.client() as direct, \
            backend.client(transport=httpx.HTTPTransport(local_address=proxy)) as through_proxy:

        def ask_as(client: httpx.Client, email: str, forwarded: str) -> int:
            return client.post("/api/login/code", json={"email": email},
                               headers={"X-Forwarded-For": forwarded}).status_code

        # From a peer not in PORCH_TRUSTED_PROXIES, a new forged address each time changes nothing.
        direct_answers = [ask_as(direct, f"direct{n}@example.com", f"192.0.2.{n + 1}") for n in range(11)]
        assert direct_answers == [202] * 10 + [429]

        # From the trusted proxy, each forwarded client has its own count.
        assert [ask_as(through_proxy, f"spread{n}@example.com", f"198.51.100.{n + 1}") for n in range(11)] == [202] * 11
        one_client = [ask_as(through_proxy, f"same{n}@example.com", "198.51.100.200") for n in range(11)]
        assert one_client == [202] * 10 + [429]
        # A client behind the proxy who sends its own header is known by the entry the proxy appended.
        assert ask_as(through_proxy, "forged@example.com", "203.0.113.7, 198.51.100.200") == 429
        assert ask_as(through_proxy, "other@example.com", "198.51.100.201") == 202

    keys = db.run(lambda conn: set(conn.execute(
        sa.select(rate_events.c.key).where(rate_events.c.key.startswith("send:address:"))).scalars()), write=False)
    assert keys == {"send:address:127.0.0.1"} | {f"send:address:198.51.100.{n}" for n in (*range(1, 12), 200, 201)}
