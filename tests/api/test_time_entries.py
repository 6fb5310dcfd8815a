"""Time entry workflow over HTTP against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from regentra.models import AuditEvent, TimeEntry


def _count_entries(kit: Any) -> int:
    with kit.db.session() as s:
        return int(s.scalar(select(func.count()).where(TimeEntry.org_id == kit.org.id)) or 0)


def _body(ticket: Any, **over: Any) -> dict[str, Any]:
    return {
        "ticket_id": str(ticket.id),
        "work_date": date.today().isoformat(),
        "minutes": 90,
        "description": "Replaced switch",
        **over,
    }


def test_full_workflow_and_audit(make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    client = kit.client(hourly_rate=12000)
    ticket = kit.ticket(client)
    with kit.api(tech) as api:
        r = api.post("/time-entries", json=_body(ticket))
        assert r.status_code == 201, r.text
        entry = r.json()
        assert entry["status"] == "draft"
        assert entry["hourly_rate"] == 12000  # from the client
        assert entry["amount"] == 18000  # 1.5 h x 120.00
        assert entry["currency"] == "USD"
        r = api.patch(f"/time-entries/{entry['id']}", json={"minutes": 100})
        assert r.status_code == 200 and r.json()["minutes"] == 100
        r = api.post(f"/time-entries/{entry['id']}/submit")
        assert r.status_code == 200 and r.json()["status"] == "submitted"
        # A submitted entry cannot be edited by its technician.
        r = api.patch(f"/time-entries/{entry['id']}", json={"minutes": 10})
        assert r.status_code == 409
        assert "submitted" in r.json()["error"]["message"]
    with kit.api(approver) as api:
        r = api.post(f"/time-entries/{entry['id']}/reject", json={"reason": "  "})
        assert r.status_code == 422
        r = api.post(f"/time-entries/{entry['id']}/reject", json={"reason": "Add detail"})
        assert r.status_code == 200 and r.json()["rejection_reason"] == "Add detail"
    with kit.api(tech) as api:
        r = api.patch(f"/time-entries/{entry['id']}", json={"description": "Replaced PoE switch"})
        assert r.status_code == 200 and r.json()["status"] == "rejected"
        assert api.post(f"/time-entries/{entry['id']}/submit").json()["status"] == "submitted"
    with kit.api(approver) as api:
        r = api.post(f"/time-entries/{entry['id']}/approve")
        assert r.status_code == 200 and r.json()["status"] == "approved"
        assert r.json()["decided_by_id"] == str(approver.id)
        # Approving twice is an illegal transition.
        assert api.post(f"/time-entries/{entry['id']}/approve").status_code == 409
        r = api.post(f"/time-entries/{entry['id']}/unapprove")
        assert r.status_code == 200 and r.json()["status"] == "submitted"
        assert api.post(f"/time-entries/{entry['id']}/approve").status_code == 200
    with kit.api() as api:
        log = api.get("/audit-log", params={"subject_id": entry["id"]}).json()["items"]
    actions = [e["action"] for e in reversed(log)]
    assert actions == [
        "time_entry.created",
        "time_entry.updated",
        "time_entry.submitted",
        "time_entry.rejected",
        "time_entry.updated",
        "time_entry.submitted",
        "time_entry.approved",
        "time_entry.unapproved",
        "time_entry.approved",
    ]


def test_self_approval_is_refused_unless_enabled(make_org: Any) -> None:
    kit = make_org()
    approver = kit.add_user("approver")
    entry = kit.entry(approver, status="submitted")
    with kit.api(approver) as api:
        r = api.post(f"/time-entries/{entry.id}/approve")
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "self_approval"
        assert "your own time" in r.json()["error"]["message"]
        assert api.get(f"/time-entries/{entry.id}").json()["status"] == "submitted"
        bulk = api.post("/time-entries/bulk-approve", json={"ids": [str(entry.id)]}).json()
        assert bulk["approved"] == [] and bulk["failed"][0]["error"]["code"] == "self_approval"
    # The org may allow it.
    with kit.db.session() as s:
        from regentra.models import Org

        org = s.get(Org, kit.org.id)
        assert org is not None
        org.allow_self_approval = True
        s.commit()
    with kit.api(approver) as api:
        assert api.post(f"/time-entries/{entry.id}/approve").status_code == 200


def test_technician_edits_only_own_entries(make_org: Any) -> None:
    kit = make_org()
    alice, bob = kit.add_user("technician"), kit.add_user("technician")
    entry = kit.entry(alice)
    with kit.api(bob) as api:
        # Bob cannot see, edit or submit Alice's entry: to him it does not exist.
        assert api.get(f"/time-entries/{entry.id}").status_code == 404
        assert api.patch(f"/time-entries/{entry.id}", json={"minutes": 5}).status_code == 404
        assert api.post(f"/time-entries/{entry.id}/submit").status_code == 404
        assert api.get("/time-entries").json()["items"] == []
        # Nor log time as her, nor set his own rate.
        body = _body(kit.ticket(), technician_id=str(alice.id))
        assert api.post("/time-entries", json=body).status_code == 403
        assert api.post("/time-entries", json=_body(kit.ticket(), hourly_rate=1)).status_code == 403


def test_invoiced_entry_is_immutable(make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    entry = kit.entry(tech, status="approved", approver=approver)
    from regentra.invoices import service as invoicing
    from regentra.invoices.schemas import InvoiceCreate
    from regentra.models import Org, User

    def bill(s: Any) -> str:  # a draft invoice links (locks) the entry
        data = InvoiceCreate(client_id=entry.client_id, entry_ids=[entry.id])
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        return str(invoicing.generate(s, org=org, user=admin, data=data).id)

    invoice_id = kit._commit(bill)
    with kit.api(approver) as api:
        r = api.post(f"/time-entries/{entry.id}/unapprove")
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "entry_invoiced"
        assert api.post(f"/time-entries/{entry.id}/reject", json={"reason": "x"}).status_code == 409
    with kit.api() as api:
        r = api.patch(f"/time-entries/{entry.id}", json={"minutes": 5})
        assert r.status_code in (403, 409)
    with kit.api(tech) as api:
        assert api.patch(f"/time-entries/{entry.id}", json={"minutes": 5}).status_code == 409
        assert api.post(f"/time-entries/{entry.id}/submit").status_code == 409
        got = api.get(f"/time-entries/{entry.id}").json()
    assert got["status"] == "approved" and got["minutes"] == 60
    assert got["invoice_id"] == invoice_id


@pytest.mark.parametrize(
    ("override", "status", "fragment"),
    [
        ({"minutes": -5}, 422, "minutes"),
        ({"minutes": 0}, 422, "minutes"),
        ({"minutes": 1441}, 422, "minutes"),
        ({"minutes": 12.5}, 422, "minutes"),
        ({"minutes": "ninety"}, 422, "minutes"),
        ({"ticket_id": "not-a-uuid"}, 422, "ticket_id"),
        ({"ticket_id": "0192e0c4-0000-7000-8000-000000000000"}, 422, "ticket"),
        ({"work_date": "2026-13-45"}, 422, "work_date"),
        ({"work_date": (date.today() + timedelta(days=30)).isoformat()}, 422, "future"),
        ({"surprise": 1}, 422, "surprise"),
    ],
)
def test_bad_entry_input_is_refused_and_writes_nothing(
    make_org: Any, override: dict[str, Any], status: int, fragment: str
) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    ticket = kit.ticket()
    before = _count_entries(kit)
    with kit.api(tech) as api:
        r = api.post("/time-entries", json=_body(ticket, **override))
    assert r.status_code == status, r.text
    assert fragment in r.json()["error"]["message"]
    assert _count_entries(kit) == before


def test_other_orgs_ticket_is_unknown(make_org: Any) -> None:
    a, b = make_org(), make_org()
    ticket_a = a.ticket()
    before = _count_entries(a) + _count_entries(b)
    with b.api() as api:
        r = api.post("/time-entries", json=_body(ticket_a))
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "unknown_ticket",
        "message": "ticket_id does not match any ticket",
    }
    assert _count_entries(a) + _count_entries(b) == before


def test_closed_ticket_takes_no_time(make_org: Any) -> None:
    kit = make_org()
    ticket = kit.ticket()
    with kit.api() as api:
        assert api.patch(f"/tickets/{ticket.id}", json={"status": "closed"}).status_code == 200
        r = api.post("/time-entries", json=_body(ticket))
        assert r.status_code == 409 and r.json()["error"]["code"] == "ticket_closed"


@pytest.mark.e2e
def test_concurrent_approvals_apply_once(live_server: Any, make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    approvers = [kit.add_user("approver") for _ in range(4)]
    entry = kit.entry(tech, status="submitted")
    for a in approvers:
        kit.token(a)
    statuses: list[int] = []
    barrier = threading.Barrier(len(approvers))

    def go(user: Any) -> None:
        with kit.api(user) as api:
            barrier.wait()
            statuses.append(api.post(f"/time-entries/{entry.id}/approve").status_code)

    threads = [threading.Thread(target=go, args=(a,)) for a in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409, 409, 409]
    with kit.db.session() as s:
        approvals = s.scalar(
            select(func.count()).where(
                AuditEvent.subject_id == str(entry.id), AuditEvent.action == "time_entry.approved"
            )
        )
    assert approvals == 1


def test_list_filters_and_pagination(make_org: Any) -> None:
    kit = make_org()
    tech = kit.add_user("technician")
    client = kit.client()
    ticket = kit.ticket(client)
    made = [kit.entry(tech, ticket=ticket).id for _ in range(5)]
    kit.entry(tech, status="submitted")
    with kit.api() as api:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "client_id": str(client.id)}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/time-entries", params=params).json()
            seen += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [str(i) for i in reversed(made)]  # newest first, each once
        submitted = api.get("/time-entries", params={"status": "submitted"}).json()["items"]
        assert len(submitted) == 1
        by_tech = api.get("/time-entries", params={"technician_id": str(tech.id)}).json()
        assert len(by_tech["items"]) == 6
        future = (date.today() + timedelta(days=2)).isoformat()
        assert api.get("/time-entries", params={"date_from": future}).json()["items"] == []
        assert api.get("/time-entries", params={"limit": 201}).status_code == 422
        assert api.get("/time-entries", params={"cursor": "!!"}).status_code == 422
        assert api.get("/time-entries", params={"status": "paid"}).status_code == 422
