"""The postings API: the list (filters, cursor pages, invoice numbers), Retry (failed →
pending with a new generation, posted → 409, another org's → 404), an invoice's `quickbooks`
object, and the role and org boundaries of every new route."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from integrations.quickbooks.mapping_helpers import (
    SYNC,
    add_posting,
    declare_quickbooks_tasks,
    draft_invoice,
    queued,
)
from regentra import queue
from regentra.models import AuditEvent, QuickBooksPosting

POSTINGS = "/integrations/quickbooks/postings"


@pytest.fixture(autouse=True)
def _tasks() -> None:
    declare_quickbooks_tasks()
    queue.get_huey().flush()


def test_list_filters_and_pages(make_org, db):
    kit = make_org()
    first, second = draft_invoice(db, kit), draft_invoice(db, kit)
    made = {
        "inv": add_posting(
            db,
            kit,
            first,
            "invoice",
            "posted",
            qbo_id="101",
            qbo_type="Invoice",
            amount=15000,
            currency="USD",
        ),
        "pay": add_posting(
            db,
            kit,
            first,
            "payment",
            "failed",
            last_error="Invalid Reference Id: Account 7 is inactive",
            attempts=2,
        ),
        "fee": add_posting(db, kit, first, "fee", "waiting"),
        "inv2": add_posting(db, kit, second, "invoice", "pending"),
    }
    other = make_org()
    add_posting(db, other, draft_invoice(db, other), "invoice", "failed")
    api = kit.api()

    everything = api.get(POSTINGS).json()
    # Newest first (ids are time-ordered; by id within one millisecond), and not the other
    # org's row.
    newest_first = sorted((str(v) for v in made.values()), reverse=True)
    assert [i["id"] for i in everything["items"]] == newest_first
    assert everything["next_cursor"] is None
    pay = next(i for i in everything["items"] if i["kind"] == "payment")
    assert pay == {
        "id": str(made["pay"]),
        "kind": "payment",
        "state": "failed",
        "quickbooks_id": None,
        "quickbooks_type": None,
        "amount": None,
        "currency": None,
        "attempts": 2,
        "error": "Invalid Reference Id: Account 7 is inactive",
        "posted_at": None,
        "updated_at": pay["updated_at"],
        "invoice_id": str(first.id),
        "invoice_number": first.number,
    }

    def ids(**params: str) -> list[str]:
        answer = api.get(POSTINGS, params=params)
        assert answer.status_code == 200, answer.text
        return [i["id"] for i in answer.json()["items"]]

    assert ids(state="failed") == [str(made["pay"])]
    assert ids(kind="invoice") == sorted([str(made["inv2"]), str(made["inv"])], reverse=True)
    assert ids(kind="invoice", state="posted") == [str(made["inv"])]
    assert ids(invoice_id=str(second.id)) == [str(made["inv2"])]
    assert ids(state="skipped") == []

    page = api.get(POSTINGS, params={"limit": 3}).json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = api.get(POSTINGS, params={"limit": 3, "cursor": page["next_cursor"]}).json()
    assert [i["id"] for i in page["items"] + rest["items"]] == newest_first
    assert rest["next_cursor"] is None

    for bad in (
        {"state": "lost"},
        {"kind": "refund"},
        {"invoice_id": "x"},
        {"limit": 0},
        {"cursor": "!!"},
    ):
        answer = api.get(POSTINGS, params=bad)
        assert answer.status_code == 422, (bad, answer.text)


def test_retry(make_org, db):
    kit = make_org()
    invoice = draft_invoice(db, kit)
    failed = add_posting(
        db, kit, invoice, "payment", "failed", generation=0, last_error="Object Not Found"
    )
    posted = add_posting(db, kit, invoice, "invoice", "posted", qbo_id="9", qbo_type="Invoice")
    other = make_org()
    theirs = add_posting(db, other, draft_invoice(db, other), "payment", "failed")
    api = kit.api()

    answer = api.post(f"{POSTINGS}/{failed}/retry")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "pending"
    assert answer.json()["invoice_number"] == invoice.number
    with db.session() as s:
        row = s.get(QuickBooksPosting, failed)
        assert row.state == "pending" and row.generation == 1
        audit = s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "quickbooks.posting_retried", AuditEvent.org_id == kit.org.id
            )
        )
        assert audit is not None and audit.details["was"] == "failed"
    assert queued() == [(SYNC, (str(invoice.id),))]

    done = api.post(f"{POSTINGS}/{posted}/retry")
    assert done.status_code == 409 and done.json()["error"]["code"] == "posting_done"
    assert "already posted" in done.json()["error"]["message"]
    for missing in (theirs, uuid.uuid4()):
        assert api.post(f"{POSTINGS}/{missing}/retry").status_code == 404
    with db.session() as s:
        assert s.get(QuickBooksPosting, theirs).state == "failed"
    assert api.post(f"{POSTINGS}/not-an-id/retry").status_code == 422


def test_invoice_answers_its_postings(make_org, db, site):
    kit = make_org()
    invoice = draft_invoice(db, kit)
    api = kit.api()
    before = api.get(f"/invoices/{invoice.id}").json()["quickbooks"]
    assert before == {"invoice": None, "credit": None, "payment": None, "fee": None, "void": None}

    add_posting(
        db,
        kit,
        invoice,
        "invoice",
        "posted",
        qbo_id="55",
        qbo_type="Invoice",
        amount=15000,
        currency="USD",
    )
    add_posting(db, kit, invoice, "fee", "failed", last_error="The account is inactive")
    got = api.get(f"/invoices/{invoice.id}").json()["quickbooks"]
    assert got["invoice"]["state"] == "posted" and got["invoice"]["quickbooks_id"] == "55"
    assert got["invoice"]["amount"] == 15000
    assert got["fee"]["state"] == "failed" and got["fee"]["error"] == "The account is inactive"
    assert got["payment"] is None
    # Approvers read invoices, so they see it too.
    approver = kit.add_user("approver")
    assert kit.api(approver).get(f"/invoices/{invoice.id}").json()["quickbooks"]["fee"]
    schemas = site.app.openapi()["components"]["schemas"]
    assert "quickbooks" in schemas["InvoiceWithQuickBooks"]["required"]
    assert {"InvoiceQuickBooks", "PostingListItem", "QuickBooksMapping"} <= set(schemas)


def test_roles_and_orgs(make_org, connect_quickbooks, db):
    kit = make_org()
    connect_quickbooks(kit)
    invoice = draft_invoice(db, kit)
    mine = add_posting(db, kit, invoice, "payment", "failed")
    routes = [
        ("GET", "/integrations/quickbooks/mapping", None),
        ("PUT", "/integrations/quickbooks/mapping", {"deposit_account_id": "1"}),
        ("GET", POSTINGS, None),
        ("POST", f"{POSTINGS}/{mine}/retry", None),
    ]
    for role in ("technician", "approver"):
        api = kit.api(kit.add_user(role))
        for method, path, body in routes:
            answer = api.request(method, path, json=body)
            assert answer.status_code == 403, (role, method, path, answer.text)
    with db.session() as s:
        assert s.get(QuickBooksPosting, mine).state == "failed"

    # Another org's admin: none of this org's postings, and its own (unconnected) mapping.
    stranger = make_org().api()
    assert stranger.get(POSTINGS).json()["items"] == []
    assert stranger.get(POSTINGS, params={"invoice_id": str(invoice.id)}).json()["items"] == []
    assert stranger.post(f"{POSTINGS}/{mine}/retry").status_code == 404
    assert stranger.get(f"/invoices/{invoice.id}").status_code == 404
    mapping = stranger.get("/integrations/quickbooks/mapping")
    assert (
        mapping.status_code == 409 and mapping.json()["error"]["code"] == "quickbooks_not_connected"
    )
    assert queued() == []
