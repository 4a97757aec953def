"""Several customers on one email address: sign-in keeps Stripe's pick, the portal lists the others,
and the session moves to any of them, and to no one else's (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from conftest import JSON, NOW, Outbox, sign_in

from backend import sessions
from backend.events import audit_entries
from backend.store import billing
from backend.store.tables import sessions as sessions_table

DAY = 86400


def put(db: Any, kind: str, *objects: dict[str, Any]) -> None:
    db.run(billing.upsert, kind, list(objects))


def customer(cid: str, email: str | None, created: int, name: str | None = None) -> dict[str, Any]:
    return {"id": cid, "object": "customer", "email": email, "name": name, "created": created}


def switch(client: Any, cid: str) -> Any:
    return client.post(f"/api/accounts/{cid}/switch", json={})


def test_sign_in_keeps_the_default_pick_and_the_portal_lists_every_account_in_its_order(client, outbox):
    assert sign_in(client, outbox)["id"] == "cus_jenny"
    data = client.get("/api/portal").json()
    assert data["customer"]["id"] == "cus_jenny"
    # Active first (the one sign-in picks), then the newest: the demo's three customers of jenny@example.com.
    assert data["accounts"] == [
        {"id": "cus_jenny", "name": "Jenny Rosen", "created": NOW - 400 * DAY,
         "subscriptions": [{"status": "active", "plan": "Pro"}]},
        {"id": "cus_jenny_new", "name": "Jenny Rosen (new)", "created": NOW - 10 * DAY, "subscriptions": []},
        {"id": "cus_jenny_old", "name": "Jenny Rosen", "created": NOW - 900 * DAY,
         "subscriptions": [{"status": "canceled", "plan": "Starter"}]},
    ]


def test_a_customer_alone_on_the_address_gets_no_list(client, outbox):
    sign_in(client, outbox, "sam@example.com")
    assert "accounts" not in client.get("/api/portal").json()


def test_the_list_sends_no_metadata_or_other_fields(client, outbox, db):
    put(db, "customers", customer("cus_jenny_new", "JENNY@example.com", NOW - 10 * DAY, "New") | {
        "metadata": {"crm_id": "secret"}, "phone": "+1 555 0100", "address": {"line1": "1 Main St"}})
    sign_in(client, outbox)
    listed = {a["id"]: a for a in client.get("/api/portal").json()["accounts"]}
    assert listed["cus_jenny_new"] == {"id": "cus_jenny_new", "name": "New", "created": NOW - 10 * DAY,
                                       "subscriptions": []}


def test_switching_moves_the_session_to_the_other_customer_and_only_there(client, outbox):
    sign_in(client, outbox)
    old_token = client.cookies["porch_session"]
    answer = switch(client, "cus_jenny_old")
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer"]["id"] == "cus_jenny_old"
    assert "HttpOnly" in answer.headers["set-cookie"] and "SameSite=lax" in answer.headers["set-cookie"]
    assert client.cookies["porch_session"] != old_token
    data = client.get("/api/portal").json()
    assert data["customer"]["id"] == "cus_jenny_old"
    assert [s["id"] for s in data["subscriptions"]] == ["sub_jenny_old"]
    assert {i["id"] for i in data["invoices"]} == {f"in_jold_{n:04d}" for n in range(1, 5)}
    assert data["payment_methods"] == []
    # The same list, whoever the session is on.
    assert [a["id"] for a in data["accounts"]] == ["cus_jenny", "cus_jenny_new", "cus_jenny_old"]
    # The previous customer's objects are out of reach now, as anyone else's.
    assert client.get("/api/invoices/in_jenny_0013").status_code == 404
    assert client.get("/api/invoices/in_jold_0004").status_code == 200
    assert client.post("/api/payment_methods/pm_jenny_visa/default", json={}).status_code == 404
    assert client.post("/api/subscriptions/sub_jenny_pro/cancel", json={}).status_code == 404


def test_the_old_token_stops_working_after_a_switch(client, outbox):
    sign_in(client, outbox)
    old_token = client.cookies["porch_session"]
    assert switch(client, "cus_jenny_new").status_code == 200
    client.cookies.clear()
    client.cookies.set("porch_session", old_token)
    assert client.get("/api/portal").status_code == 401
    assert switch(client, "cus_jenny").status_code == 401


def test_switching_back_and_forth(client, outbox):
    sign_in(client, outbox)
    for cid in ("cus_jenny_new", "cus_jenny_old", "cus_jenny"):
        assert switch(client, cid).status_code == 200
        assert client.get("/api/portal").json()["customer"]["id"] == cid


def test_a_customer_with_another_email_is_404_and_the_session_stays(client, outbox):
    sign_in(client, outbox)
    token = client.cookies["porch_session"]
    for other in ("cus_sam", "cus_noemail", "cus_nobody"):
        answer = switch(client, other)
        assert answer.status_code == 404
        assert answer.json() == {"error": {"code": "not_found", "message": "No such account."}}
        assert "set-cookie" not in answer.headers
    assert client.cookies["porch_session"] == token
    assert client.get("/api/portal").json()["customer"]["id"] == "cus_jenny"


def test_switching_to_the_current_customer_changes_nothing(client, outbox, db):
    sign_in(client, outbox)
    token = client.cookies["porch_session"]
    answer = switch(client, "cus_jenny")
    assert answer.status_code == 200 and answer.json()["customer"]["id"] == "cus_jenny"
    assert "set-cookie" not in answer.headers and client.cookies["porch_session"] == token
    assert db.run(audit_entries) == []


def test_a_switch_is_audit_logged(client, outbox, db):
    sign_in(client, outbox)
    switch(client, "cus_jenny_old")
    (entry,) = db.run(audit_entries)
    assert (entry["customer"], entry["action"], entry["object_id"], entry["event"]) == (
        "cus_jenny", "session.switched", "cus_jenny_old", "")
    assert entry["client"] == "testclient"


def test_the_accounts_follow_the_email_the_code_proved_not_the_customers_current_one(client, outbox, db):
    sign_in(client, outbox)
    # An import changes the signed-in customer's address, and gives another customer Jenny's.
    jenny = db.run(billing.get, "customers", "cus_jenny") | {"email": "someone.else@example.com"}
    put(db, "customers", jenny, customer("cus_kim", "jenny@example.com", NOW - 200 * DAY, "Kim, now Jenny's"))
    listed = [a["id"] for a in client.get("/api/portal").json()["accounts"]]
    assert listed == ["cus_jenny", "cus_kim", "cus_jenny_new", "cus_jenny_old"]
    assert switch(client, "cus_kim").status_code == 200
    # cus_jenny no longer has the proven address: out of reach once left.
    assert switch(client, "cus_jenny").status_code == 404


def test_a_past_due_account_behind_a_newer_empty_one_can_be_reached(client, outbox, db):
    put(db, "customers", customer("cus_alex_new", "alex@example.com", NOW - DAY, "Alex Kim"))
    # Stripe's rule picks the newer one: neither has an active or trialing subscription.
    assert sign_in(client, outbox, "alex@example.com")["id"] == "cus_alex_new"
    data = client.get("/api/portal").json()
    assert data["subscriptions"] == []
    assert data["accounts"][1] == {"id": "cus_alex", "name": "Alex Kim", "created": NOW - 500 * DAY,
                                   "subscriptions": [{"status": "past_due", "plan": "Pro"}]}
    assert switch(client, "cus_alex").status_code == 200
    data = client.get("/api/portal").json()
    assert [s["status"] for s in data["subscriptions"]] == ["past_due"]
    assert any(i["status"] == "open" for i in data["invoices"])


def test_both_forms_of_an_international_domain_are_one_address(client, outbox, db):
    put(db, "customers", customer("cus_u", "anna@bücher.example", NOW - 2 * DAY, "Unicode"),
        customer("cus_a", "ANNA@xn--bcher-kva.example", NOW - DAY, "ASCII"))
    # Mail goes to the ASCII form; the session proves the address as typed, in Unicode.
    challenge = client.post("/api/login/code", json={"email": "anna@bücher.example"}).json()["challenge"]
    code = outbox.last_code("anna@xn--bcher-kva.example")
    assert client.post("/api/login/verify", json={"challenge": challenge, "code": code}).status_code == 200
    assert [a["id"] for a in client.get("/api/portal").json()["accounts"]] == ["cus_a", "cus_u"]
    assert switch(client, "cus_u").status_code == 200


def test_a_switch_keeps_the_session_s_12_hours_from_the_sign_in(client, outbox, clock):
    sign_in(client, outbox)
    for _ in range(sessions.ABSOLUTE // (sessions.IDLE - 60)):
        clock.advance(sessions.IDLE - 60)
        assert switch(client, "cus_jenny_old").status_code == 200
        assert switch(client, "cus_jenny").status_code == 200
    clock.advance(sessions.ABSOLUTE % (sessions.IDLE - 60))
    assert client.get("/api/portal").status_code == 401


def test_switches_are_limited_per_address(client, outbox, clock):
    sign_in(client, outbox)
    for n in range(10):
        assert switch(client, ("cus_jenny_old", "cus_jenny")[n % 2]).status_code == 200
    answer = switch(client, "cus_jenny_new")
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 0
    clock.advance(60)
    assert switch(client, "cus_jenny_new").status_code == 200


def test_a_switch_is_a_state_change_under_the_cross_site_rules(client, outbox):
    sign_in(client, outbox)
    path = "/api/accounts/cus_jenny_old/switch"
    assert client.post(path, content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
    assert client.post(path, json={}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post(path, json={"extra": 1}).status_code == 400
    assert client.get(path).status_code == 405
    assert client.get("/api/portal").json()["customer"]["id"] == "cus_jenny"


def test_without_a_session_a_switch_is_401(client):
    answer = client.post("/api/accounts/cus_jenny/switch", json={}, headers=JSON)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "not_signed_in"


def test_a_session_from_before_sessions_kept_the_email_reaches_only_its_customer(client, db, clock):
    token = db.run(sessions.create, client.app.state.secret, "cus_jenny", int(clock()))
    client.cookies.set("porch_session", token)
    assert "accounts" not in client.get("/api/portal").json()
    assert switch(client, "cus_jenny_old").status_code == 404


def test_the_session_stores_the_proven_address_lower_cased(client, outbox, db):
    challenge = client.post("/api/login/code", json={"email": "Jenny@Example.COM"}).json()["challenge"]
    code = Outbox(client, client.app.state.settings.outbox_dir).last_code()
    assert client.post("/api/login/verify", json={"challenge": challenge, "code": code}).status_code == 200
    assert db.run(lambda conn: conn.execute(sa.select(sessions_table.c.email)).scalar_one()) == "jenny@example.com"


def test_the_operation_is_in_the_openapi_document(client):
    operation = client.get("/api/openapi.json").json()["paths"]["/api/accounts/{id}/switch"]["post"]
    assert {"401", "404", "429", "200"} <= set(operation["responses"])
    assert operation["security"] == [{"session": []}]


def test_one_customer_on_the_address_costs_the_portal_no_query_of_its_own(client, outbox, db):
    """The session's query counts the other customers on the address by index; with none, nothing more runs."""
    sign_in(client, outbox, "sam@example.com")
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "email_lower" in statement:
            statements.append((statement, parameters))

    engine = client.app.state.db.engine
    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        assert client.get("/api/portal").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    ((statement, parameters),) = statements
    assert "FROM sessions" in statement
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "ix_customers_email_lower_created" in plan
