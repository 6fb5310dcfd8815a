"""Generating invoices from approved time and editing drafts, over HTTP on both databases."""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from regentra.models import AuditEvent, Invoice, InvoiceLine, TimeEntry


class Team:
    """An org with a technician, an approver, a client at $120/h and a ticket."""

    def __init__(self, kit: Any, *, rate: int = 12000, currency: str = "USD") -> None:
        self.kit = kit
        self.tech = kit.add_user("technician")
        self.approver = kit.add_user("approver")
        self.client = kit.client(hourly_rate=rate, currency=currency)
        self.ticket = kit.ticket(self.client, title="Firewall upgrade")

    def log(
        self,
        minutes: int,
        *,
        days_ago: int = 0,
        status: str = "approved",
        billable: bool = True,
        ticket: Any = None,
    ) -> str:
        body = {
            "ticket_id": str((ticket or self.ticket).id),
            "work_date": (date.today() - timedelta(days=days_ago)).isoformat(),
            "minutes": minutes,
            "description": f"{minutes} minutes of work",
            "billable": billable,
        }
        with self.kit.api(self.tech) as api:
            r = api.post("/time-entries", json=body)
            assert r.status_code == 201, r.text
            entry_id: str = r.json()["id"]
            if status in ("submitted", "approved"):
                assert api.post(f"/time-entries/{entry_id}/submit").status_code == 200
        if status == "approved":
            with self.kit.api(self.approver) as api:
                r = api.post(f"/time-entries/{entry_id}/approve")
                assert r.status_code == 200, r.text
        return entry_id

    def generate(self, **body: Any) -> Any:
        with self.kit.api() as api:
            return api.post("/invoices", json={"client_id": str(self.client.id), **body})

    def entry(self, entry_id: str) -> dict[str, Any]:
        with self.kit.api() as api:
            body: dict[str, Any] = api.get(f"/time-entries/{entry_id}").json()
            return body


def _counts(kit: Any) -> tuple[int, int]:
    with kit.db.session() as s:
        invoices = s.scalar(select(func.count()).where(Invoice.org_id == kit.org.id)) or 0
        lines = s.scalar(select(func.count()).where(InvoiceLine.org_id == kit.org.id)) or 0
        return int(invoices), int(lines)


def test_draft_holds_approved_billable_uninvoiced_time_of_the_period(make_org: Any) -> None:
    team = Team(make_org())
    first = team.log(90, days_ago=3)  # 1.5 h x $120 = $180.00
    second = team.log(25, days_ago=2)  # 25 min x $120/h = $50.00
    team.log(60, days_ago=2, billable=False)
    team.log(60, days_ago=2, status="submitted")
    old = team.log(60, days_ago=40)
    other_ticket = team.kit.ticket(team.kit.client(hourly_rate=9000))
    team.log(60, ticket=other_ticket)

    r = team.generate(
        period_start=(date.today() - timedelta(days=7)).isoformat(),
        period_end=date.today().isoformat(),
        memo="  November support  ",
    )
    assert r.status_code == 201, r.text
    invoice = r.json()
    assert invoice["number"] == "INV-000001"
    assert invoice["status"] == "draft"
    assert invoice["currency"] == "USD"
    assert invoice["total"] == 18000 + 5000
    assert invoice["days_until_due"] == 30  # the org's default terms
    assert invoice["memo"] == "November support"
    assert invoice["client_name"] == team.client.name
    lines = invoice["lines"]
    assert [line["time_entry_id"] for line in lines] == [first, second]
    assert lines[0]["hours"] == "1.50" and lines[0]["unit_amount"] == 12000
    assert lines[0]["amount"] == 18000 and lines[1]["amount"] == 5000
    assert lines[0]["ticket_title"] == "Firewall upgrade"
    assert lines[0]["technician_name"] == team.tech.display_name
    assert lines[0]["work_date"] == (date.today() - timedelta(days=3)).isoformat()
    assert [event["action"] for event in invoice["timeline"]] == ["invoice.created"]

    # The billed entries are locked; the others are untouched.
    assert team.entry(first)["invoice_id"] == invoice["id"]
    assert team.entry(old)["invoice_id"] is None
    with team.kit.api(team.approver) as api:
        r = api.post(f"/time-entries/{first}/unapprove")
        assert r.status_code == 409 and r.json()["error"]["code"] == "entry_invoiced"

    # Numbers are sequential per org; the next invoice takes the older entry.
    r = team.generate()
    assert r.status_code == 201, r.text
    assert r.json()["number"] == "INV-000002"
    assert [line["time_entry_id"] for line in r.json()["lines"]] == [old]

    # Another org starts its own sequence.
    other = Team(make_org())
    other.log(30)
    assert other.generate().json()["number"] == "INV-000001"


def test_nothing_to_bill_is_a_409_that_writes_nothing(make_org: Any) -> None:
    team = Team(make_org())
    team.log(60, status="submitted")
    r = team.generate()
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "nothing_to_invoice"
    assert "no approved, billable, uninvoiced time" in r.json()["error"]["message"]
    assert _counts(team.kit) == (0, 0)
    # The refused attempt did not use up a number.
    team.log(60)
    assert team.generate().json()["number"] == "INV-000001"


def test_given_entries_must_all_be_billable_or_nothing_is_written(make_org: Any) -> None:
    team = Team(make_org())
    ok = team.log(60)
    draft = team.log(60, status="draft")
    r = team.generate(entry_ids=[ok, draft])
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "entries_not_billable"
    assert "1 of the 2 entries" in r.json()["error"]["message"]
    assert _counts(team.kit) == (0, 0)
    assert team.entry(ok)["invoice_id"] is None
    r = team.generate(entry_ids=[ok])
    assert r.status_code == 201 and len(r.json()["lines"]) == 1


def test_bad_input_gets_a_clear_4xx(make_org: Any) -> None:
    team = Team(make_org())
    team.log(60)
    foreign = Team(make_org())
    with team.kit.api() as api:
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"client_id": str(foreign.client.id)}, 422, "client_id does not match"),
            ({"client_id": "not-a-uuid"}, 422, "client_id"),
            (
                {
                    "client_id": str(team.client.id),
                    "period_start": "2026-02-01",
                    "period_end": "2026-01-01",
                },
                422,
                "period_start must not be after period_end",
            ),
            ({"client_id": str(team.client.id), "days_until_due": 400}, 422, "days_until_due"),
            ({"client_id": str(team.client.id), "entry_ids": []}, 422, "entry_ids"),
            ({"client_id": str(team.client.id), "surprise": 1}, 422, "surprise"),
        ]
        for body, status, text in cases:
            r = api.post("/invoices", json=body)
            assert r.status_code == status, (body, r.text)
            assert text in r.text, (body, r.text)
    assert _counts(team.kit) == (0, 0)


def test_draft_editing_releases_and_adds_lines(make_org: Any) -> None:
    kit = make_org()
    team = Team(kit)
    a = team.log(60)
    b = team.log(30)
    invoice = team.generate().json()
    assert invoice["total"] == 12000 + 6000
    url = f"/invoices/{invoice['id']}"
    with kit.api() as api:
        r = api.patch(url, json={"days_until_due": 14, "memo": "Thank you"})
        assert r.status_code == 200, r.text
        assert r.json()["days_until_due"] == 14 and r.json()["memo"] == "Thank you"
        assert api.patch(url, json={"days_until_due": None}).status_code == 422

        line_b = next(line for line in invoice["lines"] if line["time_entry_id"] == b)
        r = api.delete(f"{url}/lines/{line_b['id']}")
        assert r.status_code == 200, r.text
        assert r.json()["total"] == 12000
        assert team.entry(b)["invoice_id"] is None  # released: billable again

        r = api.post(f"{url}/lines", json={"description": "Site visit", "unit_amount": 7500})
        assert r.status_code == 201, r.text
        assert r.json()["total"] == 12000 + 7500
        manual = r.json()["lines"][-1]
        assert manual["kind"] == "manual" and manual["quantity"] == 1

        item = api.post(
            "/catalog", json={"name": "Backup licence", "unit_amount": 1500, "currency": "usd"}
        ).json()
        r = api.post(f"{url}/lines", json={"catalog_item_id": item["id"], "quantity": 3})
        assert r.status_code == 201, r.text
        assert r.json()["total"] == 12000 + 7500 + 4500
        catalog_line = r.json()["lines"][-1]
        assert catalog_line["kind"] == "catalog" and catalog_line["description"] == "Backup licence"

        for bad, text in (
            ({"unit_amount": 100}, "needs a description"),
            ({"description": "x"}, "needs unit_amount"),
            ({"description": "x", "unit_amount": -1}, "greater than or equal to 0"),
            ({"catalog_item_id": item["id"], "unit_amount": 5}, "not both"),
        ):
            r = api.post(f"{url}/lines", json=bad)
            assert r.status_code == 422 and text in r.text, (bad, r.text)
        eur = api.post(
            "/catalog", json={"name": "Euro thing", "unit_amount": 100, "currency": "eur"}
        ).json()
        r = api.post(f"{url}/lines", json={"catalog_item_id": eur["id"]})
        assert r.status_code == 422 and "priced in EUR" in r.json()["error"]["message"]

        timeline = [event["action"] for event in api.get(url).json()["timeline"]]
        assert timeline == [
            "invoice.created",
            "invoice.updated",
            "invoice.line_removed",
            "invoice.line_added",
            "invoice.line_added",
        ]

        # Deleting the draft releases every entry; the number is not reused.
        assert api.delete(url).status_code == 204
        assert api.get(url).status_code == 404
        assert team.entry(a)["invoice_id"] is None
        assert _counts(kit) == (0, 0)
        r = team.generate()
        assert r.json()["number"] == "INV-000002"
        assert {line["time_entry_id"] for line in r.json()["lines"]} == {a, b}


def test_only_drafts_change(make_org: Any) -> None:
    from regentra.audit.service import Actor
    from regentra.invoices import service, transitions
    from regentra.models import Org

    team = Team(make_org())
    team.log(60)
    invoice = team.generate().json()

    def void(s: Any) -> None:
        org = s.get(Org, team.kit.org.id)
        found = service.get(s, org_id=org.id, invoice_id=uuid.UUID(invoice["id"]))
        transitions.mark_void(
            s, org=org, actor=Actor.system(), invoice=found, release_entries=False
        )

    team.kit._commit(void)
    url = f"/invoices/{invoice['id']}"
    with team.kit.api() as api:
        for method, path, body in (
            ("PATCH", url, {"memo": "x"}),
            ("POST", f"{url}/lines", {"description": "x", "unit_amount": 1}),
            ("DELETE", f"{url}/lines/{invoice['lines'][0]['id']}", None),
            ("DELETE", url, None),
        ):
            r = api.request(method, path, json=body)
            assert r.status_code == 409, (method, path, r.text)
            assert r.json()["error"]["code"] == "not_draft"
            assert "only drafts can be changed" in r.json()["error"]["message"]
        listed = api.get("/invoices", params={"status": "void"}).json()["items"]
        assert [i["id"] for i in listed] == [invoice["id"]]
        assert api.get("/invoices", params={"status": "draft"}).json()["items"] == []
        assert api.get("/invoices", params={"status": "lost"}).status_code == 422


@pytest.mark.e2e
def test_concurrent_generations_never_bill_an_entry_twice(live_server: Any, make_org: Any) -> None:
    team = Team(make_org())
    entry_ids = [team.log(15 + i) for i in range(6)]
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def generate() -> None:
        barrier.wait()
        results.append(team.generate())

    threads = [threading.Thread(target=generate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409, 409, 409], [r.text for r in results]
    assert all(
        r.json()["error"]["code"] == "nothing_to_invoice" for r in results if r.status_code == 409
    )
    with team.kit.db.session() as s:
        billed = s.execute(
            select(InvoiceLine.time_entry_id, func.count())
            .where(InvoiceLine.org_id == team.kit.org.id)
            .group_by(InvoiceLine.time_entry_id)
        ).all()
        assert sorted(str(entry_id) for entry_id, _ in billed) == sorted(entry_ids)
        assert all(count == 1 for _, count in billed)
        assert s.scalar(select(func.count()).where(Invoice.org_id == team.kit.org.id)) == 1
        linked = s.scalars(
            select(TimeEntry.invoice_id).where(TimeEntry.org_id == team.kit.org.id)
        ).all()
        assert len(set(linked)) == 1
        created = s.scalar(
            select(func.count()).where(
                AuditEvent.org_id == team.kit.org.id, AuditEvent.action == "invoice.created"
            )
        )
        assert created == 1


def test_preview_shows_what_would_be_billed(make_org: Any) -> None:
    team = Team(make_org())
    entry = team.log(45)
    with team.kit.api() as api:
        r = api.get("/invoices/preview", params={"client_id": str(team.client.id)})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 9000 and body["currency"] == "USD"
        assert [line["time_entry_id"] for line in body["lines"]] == [entry]
        assert body["lines"][0]["technician_name"] == team.tech.display_name
        # Nothing was locked by looking.
        assert team.entry(entry)["invoice_id"] is None
        r = api.get(
            "/invoices/preview",
            params={
                "client_id": str(team.client.id),
                "period_start": "2000-01-01",
                "period_end": "2000-01-31",
            },
        )
        assert r.json()["lines"] == [] and r.json()["total"] == 0
