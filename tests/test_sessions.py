"""Sessions: an opaque HttpOnly cookie, idle and absolute expiry, revoked on the server at logout."""

from __future__ import annotations

import sqlalchemy as sa
from helpers import Outbox, sign_in
from starlette.testclient import TestClient

from backend.sessions import ABSOLUTE, FRAMED_COOKIE, IDLE, SECURE_COOKIE, TOUCH_AFTER
from backend.store.tables import sessions


def cookie_header(client, outbox) -> str:
    challenge = client.post("/api/login/code", json={"email": "jenny@example.com"}).json()["challenge"]
    answer = client.post("/api/login/verify", json={"challenge": challenge, "code": outbox.last_code()})
    return answer.headers["set-cookie"]


def test_cookie_on_plain_http_localhost_is_httponly_lax_and_not_secure(client, outbox):
    header = cookie_header(client, outbox)
    name, _, attributes = header.partition(";")
    assert name.startswith("porch_session=")
    parts = {p.strip().split("=")[0].lower(): p.strip() for p in attributes.split(";")}
    assert "httponly" in parts
    assert parts["samesite"].lower() == "samesite=lax"
    assert parts["path"] == "Path=/"
    assert "secure" not in parts
    assert "domain" not in parts


def test_cookie_over_https_is_host_prefixed_and_secure(app, settings):
    with TestClient(app, base_url="https://billing.acme.example") as client:
        outbox = Outbox(client, settings.outbox_dir)
        header = cookie_header(client, outbox)
        assert header.startswith("__Host-porch_session=")
        assert "; Secure" in header and "HttpOnly" in header and "Path=/" in header
        assert client.get("/api/portal").status_code == 200


def test_plain_http_on_another_host_still_gets_a_secure_cookie(app, settings):
    # Behind a proxy that forgot X-Forwarded-Proto the cookie must stay Secure.
    with TestClient(app, base_url="http://billing.acme.example") as client:
        header = cookie_header(client, Outbox(client, settings.outbox_dir))
        assert header.startswith("__Host-porch_session=") and "; Secure" in header


def test_the_token_is_opaque_and_at_least_128_bits(client, outbox):
    sign_in(client, outbox)
    token = client.cookies["porch_session"]
    assert len(token) >= 22  # 128 bits in URL-safe base64
    assert "cus_" not in token


def test_idle_sessions_expire_after_30_minutes(client, outbox, clock):
    sign_in(client, outbox)
    clock.advance(IDLE - 1)
    assert client.get("/api/portal").status_code == 200
    clock.advance(IDLE)
    assert client.get("/api/portal").status_code == 401


def test_activity_keeps_a_session_alive_up_to_12_hours(client, outbox, clock):
    sign_in(client, outbox)
    for _ in range(ABSOLUTE // (IDLE - 60)):
        clock.advance(IDLE - 60)
        assert client.get("/api/portal").status_code == 200
    clock.advance(ABSOLUTE - (ABSOLUTE // (IDLE - 60)) * (IDLE - 60))
    answer = client.get("/api/portal")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_signed_in"


def test_logout_revokes_the_session_on_the_server(client, outbox):
    sign_in(client, outbox)
    token = client.cookies["porch_session"]
    answer = client.post("/api/logout", json={})
    assert answer.status_code == 204
    assert 'porch_session=""' in answer.headers["set-cookie"] or "Max-Age=0" in answer.headers["set-cookie"]
    client.cookies.set("porch_session", token)  # a copy kept by an attacker
    assert client.get("/api/portal").status_code == 401


def test_logout_without_a_session_is_harmless(client):
    assert client.post("/api/logout", json={}).status_code == 204


def test_a_forged_token_is_refused(client):
    client.cookies.set("porch_session", "A" * 43)
    assert client.get("/api/portal").status_code == 401


def test_the_portal_without_a_session_is_401(client):
    answer = client.get("/api/portal")
    assert answer.status_code == 401
    assert answer.json() == {"error": {"code": "not_signed_in", "message": "Sign in to continue."}}


def test_a_request_writes_last_seen_only_once_it_is_a_minute_old(client, outbox, clock, db):
    # Reads must stay reads: on SQLite every write takes the store's single write lock.
    sign_in(client, outbox)
    last_seen = lambda: db.run(lambda conn: conn.execute(sa.select(sessions.c.last_seen)).scalar_one())  # noqa: E731
    signed_in_at = last_seen()
    clock.advance(TOUCH_AFTER - 1)
    assert client.get("/api/portal").status_code == 200
    assert last_seen() == signed_in_at
    clock.advance(1)
    assert client.get("/api/portal").status_code == 200
    assert last_seen() == signed_in_at + TOUCH_AFTER


def cookies_of(answer) -> dict[str, str]:
    """Each Set-Cookie header of an answer by the cookie's name."""
    return {header.split("=", 1)[0]: header for header in answer.headers.get_list("set-cookie")}


def framed_sign_in(client, outbox) -> dict[str, str]:
    challenge = client.post("/api/login/code", json={"email": "jenny@example.com"}).json()["challenge"]
    answer = client.post("/api/login/verify", json={"challenge": challenge, "code": outbox.last_code(), "framed": True})
    assert answer.status_code == 200, answer.text
    return cookies_of(answer)


def attributes(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_a_sign_in_in_a_frame_gets_a_partitioned_cookie_even_on_plain_http_localhost(client, outbox):
    # A frame on another site keeps only SameSite=None; Secure; Partitioned; browsers take Secure from localhost.
    found = framed_sign_in(client, outbox)
    assert attributes(found[FRAMED_COOKIE]) == {
        "httponly", f"max-age={ABSOLUTE}", "path=/", "samesite=none", "secure", "partitioned"}
    # The first-party cookie goes: where a browser sends both, it would be read first.
    assert "max-age=0" in attributes(found["porch_session"])


def test_a_framed_session_is_read_from_its_cookie_over_https(app, settings):
    with TestClient(app, base_url="https://billing.acme.example") as client:
        found = framed_sign_in(client, Outbox(client, settings.outbox_dir))
        assert set(found) == {FRAMED_COOKIE, SECURE_COOKIE}
        assert "partitioned" in attributes(found[FRAMED_COOKIE]) and "max-age=0" in attributes(found[SECURE_COOKIE])
        assert set(client.cookies.keys()) == {FRAMED_COOKIE}
        assert client.get("/api/portal").status_code == 200


def test_the_framed_cookie_opens_nothing_to_another_sites_frame_on_the_merchants_page(app, settings):
    # SameSite=None: under the merchant's site the browser sends it with an embedded stranger's requests too.
    with TestClient(app, base_url="https://billing.acme.example") as client:
        framed_sign_in(client, Outbox(client, settings.outbox_dir))
        for stranger in ({"Origin": "https://ads.example"}, {"Sec-Fetch-Site": "cross-site"}):
            assert client.get("/api/portal", headers=stranger).json()["error"]["code"] == "cross_site"
        assert client.get("/api/portal", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_an_unframed_sign_in_still_gets_only_the_lax_host_cookie(app, settings):
    with TestClient(app, base_url="https://billing.acme.example") as client:
        challenge = client.post("/api/login/code", json={"email": "jenny@example.com"}).json()["challenge"]
        code = Outbox(client, settings.outbox_dir).last_code()
        found = cookies_of(client.post("/api/login/verify", json={"challenge": challenge, "code": code, "framed": False}))
        assert set(found) == {SECURE_COOKIE}
        assert attributes(found[SECURE_COOKIE]) == {"httponly", f"max-age={ABSOLUTE}", "path=/", "samesite=lax", "secure"}


def test_logout_clears_the_partitioned_cookie_too(app, settings):
    with TestClient(app, base_url="https://billing.acme.example") as client:
        framed_sign_in(client, Outbox(client, settings.outbox_dir))
        token = client.cookies[FRAMED_COOKIE]
        found = cookies_of(client.post("/api/logout", json={}))
        # Each deleted with its own attributes: a browser deletes a partitioned cookie only with Partitioned.
        assert attributes(found[FRAMED_COOKIE]) >= {"max-age=0", "path=/", "samesite=none", "secure", "partitioned"}
        assert attributes(found[SECURE_COOKIE]) >= {"max-age=0", "path=/", "samesite=lax", "secure"}
        client.cookies.set(FRAMED_COOKIE, token)  # a copy kept by an attacker
        assert client.get("/api/portal").status_code == 401


def test_switching_account_in_a_frame_keeps_the_session_in_the_partitioned_cookie(app, settings):
    with TestClient(app, base_url="https://billing.acme.example") as client:
        framed_sign_in(client, Outbox(client, settings.outbox_dir))
        found = cookies_of(client.post("/api/accounts/cus_jenny_new/switch", json={}))
        assert set(found) == {FRAMED_COOKIE, SECURE_COOKIE} and "partitioned" in attributes(found[FRAMED_COOKIE])
        assert client.get("/api/portal").json()["customer"]["id"] == "cus_jenny_new"


def test_framed_must_be_true_or_false(client, outbox):
    challenge = client.post("/api/login/code", json={"email": "jenny@example.com"}).json()["challenge"]
    answer = client.post("/api/login/verify", json={"challenge": challenge, "code": "123456", "framed": "maybe"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "framed"
