"""Authentication, error shapes, body limits, clients and tickets over HTTP (in-process)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from regentra.models import Client


def test_unauthenticated_and_bad_tokens(site: Any) -> None:
    base = "/api/v1"
    r = site.get(f"{base}/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
    assert r.headers["www-authenticate"] == "Bearer"
    r = site.get(f"{base}/me", headers={"Authorization": "Bearer rgt_nope"})
    assert r.status_code == 401
    assert "invalid" in r.json()["error"]["message"]
    r = site.get(f"{base}/nowhere", headers={"Authorization": "Bearer rgt_nope"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_me(make_org: Any) -> None:
    kit = make_org("Acme Managed IT")
    with kit.api() as api:
        me = api.get("/me").json()
    assert me["email"] == kit.admin.email
    assert me["role"] == "admin"
    assert me["org"]["name"] == "Acme Managed IT"
    assert "password_hash" not in me


def test_client_crud_and_validation(make_org: Any) -> None:
    kit = make_org()
    with kit.api() as api:
        r = api.post("/clients", json={"name": "Contoso", "billing_email": "ap@contoso.example"})
        assert r.status_code == 201, r.text
        client = r.json()
        assert client["currency"] == "USD"  # the org's default
        assert client["compliance_enabled"] is False
        r = api.patch(f"/clients/{client['id']}", json={"currency": "eur", "hourly_rate": 9000})
        assert r.json()["currency"] == "EUR" and r.json()["hourly_rate"] == 9000
        dup = api.post("/clients", json={"name": "Contoso", "billing_email": "x@contoso.example"})
        assert dup.status_code == 409
        for bad, field in (
            ({"name": "", "billing_email": "a@b.example"}, "name"),
            ({"name": "X", "billing_email": "not-an-email"}, "email"),
            ({"name": "X", "billing_email": "a@b.example", "currency": "XXQ"}, "currency"),
            ({"name": "X", "billing_email": "a@b.example", "hourly_rate": -1}, "hourly_rate"),
        ):
            r = api.post("/clients", json=bad)
            assert r.status_code == 422, r.text
            assert field in r.json()["error"]["message"]
        assert api.get("/clients/not-a-uuid").status_code == 422
    with kit.db.session() as s:
        assert s.scalar(select(func.count()).where(Client.org_id == kit.org.id)) == 1


def test_malformed_json_and_oversized_body(make_org: Any) -> None:
    kit = make_org()
    with kit.api() as api:
        r = api.post(
            "/clients", content=b'{"name": "X", ', headers={"content-type": "application/json"}
        )
        assert r.status_code == 400
        assert r.json()["error"] == {
            "code": "malformed_json",
            "message": "the request body is not valid JSON",
        }
        big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'", "billing_email": "a@b.example"}'
        r = api.post("/clients", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"

        def chunks() -> Any:  # no Content-Length: counted while streaming
            for _ in range(3):
                yield b"x" * (1024 * 1024)

        r = api.post("/clients", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
    with kit.db.session() as s:
        assert s.scalar(select(func.count()).where(Client.org_id == kit.org.id)) == 0


def test_tickets(make_org: Any) -> None:
    kit = make_org()
    client = kit.client()
    tech = kit.add_user("technician")
    with kit.api(tech) as api:
        r = api.post("/tickets", json={"client_id": str(client.id), "title": "  Email down "})
        assert r.status_code == 201
        ticket = r.json()
        assert ticket["title"] == "Email down" and ticket["status"] == "open"
        r = api.patch(f"/tickets/{ticket['id']}", json={"status": "closed"})
        assert r.json()["status"] == "closed"
        assert api.patch(f"/tickets/{ticket['id']}", json={"status": "gone"}).status_code == 422
        closed = api.get("/tickets", params={"status": "closed"}).json()["items"]
        assert [t["id"] for t in closed] == [ticket["id"]]
        r = api.post("/tickets", json={"client_id": str(kit.org.id), "title": "x"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_client"


def test_audit_log_filters(make_org: Any) -> None:
    kit = make_org()
    kit.client(name="Audited")
    with kit.api() as api:
        everything = api.get("/audit-log").json()["items"]
        actions = {e["action"] for e in everything}
        assert {"org.created", "user.created", "client.created"} <= actions
        only = api.get("/audit-log", params={"action": "client.created"}).json()["items"]
        assert len(only) == 1 and only[0]["details"]["name"] == "Audited"
        assert only[0]["actor"] == kit.admin.email
        page = api.get("/audit-log", params={"limit": 1}).json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        nxt = api.get("/audit-log", params={"limit": 1, "cursor": page["next_cursor"]}).json()
        assert nxt["items"][0]["id"] != page["items"][0]["id"]
