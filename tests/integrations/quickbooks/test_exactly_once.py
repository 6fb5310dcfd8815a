"""Exactly once, whatever happens: duplicate webhooks plus a reconciliation plus the task run
again; a crash between QuickBooks' answer and our commit; QuickBooks down for a while (the
postings stay pending, then post once); QuickBooks rate-limiting (429s backed off). On
SQLite and PostgreSQL, in-process against both sandboxes (a QuickBooks sandbox of the test's
own where its limits or faults change)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sandbox.quickbooks.conftest import QboSandbox, start_sandbox, stop_sandbox
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import (
    Books,
    books,
    control,
    minor,
    own_quickbooks,
    requests_of,
)
from integrations.stripe.test_webhook_events import body_of, deliver, events_of, sign, webhook_url
from regentra import queue
from regentra.integrations.quickbooks import posting_rows, posting_run, postings
from regentra.integrations.quickbooks.errors import QuickBooksUnavailable
from regentra.models import AuditEvent

Connect = Callable[..., QboOrg]


@pytest.fixture
def b(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., list[str]]
) -> Books:
    return books(stripe_app, connect_quickbooks, db, run_tasks)


@pytest.fixture
def own_qbo() -> Iterator[QboSandbox]:
    sandbox = start_sandbox("--rate-limit", "0")
    yield sandbox
    stop_sandbox(sandbox)


def _one_of_each(b: Books, invoice_id: str) -> None:
    for entity in ("Customer", "Invoice", "Payment", "Purchase"):
        assert len(b.objects(entity)) == 1, entity
    assert b.states(invoice_id) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
    assert b.one("Invoice")["Balance"] == 0


def test_duplicate_webhooks_a_reconciliation_and_reruns_post_once(b: Books) -> None:
    sent = b.billing.sent_invoice()
    sid = sent["stripe_invoice_id"]
    b.pay(sid)
    (event,) = events_of(b.billing, sid, "invoice.paid")
    body = body_of(event)
    url = webhook_url(b.billing)
    for _ in range(3):
        r = deliver(b.billing.kit, url, body, sign(body, b.billing.webhook_secret))
        assert r.status_code == 200, r.text
    b.reconcile()
    with b.db.session() as s:
        for name in ("quickbooks.record_payment", postings.SYNC_TASK, postings.SYNC_TASK):
            queue.enqueue(s, name, sent["id"])
        s.commit()
    b.run_tasks()
    posting_run.sync_invoice(uuid.UUID(sent["id"]))
    posting_run.sync_invoice(uuid.UUID(sent["id"]))
    _one_of_each(b, sent["id"])
    txn = b.balance_transaction(sid)
    assert minor(b.one("Purchase")["TotalAmt"]) == txn["fee"]
    assert minor(b.one("Payment")["TotalAmt"]) == sent["total"]


@pytest.mark.parametrize("kind", ["invoice", "payment", "fee"])
def test_a_crash_between_quickbooks_and_the_commit_still_posts_once(
    b: Books, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The worker dies after QuickBooks made the object and before the row says so: the next
    run (a retry or the sweep) finds the object and records it; nothing is made twice."""
    real = posting_rows.posted
    crashed: list[str] = []

    def crash_once(row: posting_rows.Row, **kw: Any) -> bool:
        if row.kind == kind and not crashed:
            crashed.append(kw["qbo_id"])
            raise RuntimeError("worker killed before commit")
        return real(row, **kw)

    monkeypatch.setattr(posting_rows, "posted", crash_once)
    sent = b.billing.sent_invoice()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    with pytest.raises(RuntimeError):
        posting_run.sync_invoice(uuid.UUID(sent["id"]))
    assert crashed and b.states(sent["id"])[kind] == "pending"
    b.run_tasks()  # the tasks enqueued by sent and paid (the retry)
    posting_run.sync_invoice(uuid.UUID(sent["id"]))
    _one_of_each(b, sent["id"])
    row = b.rows(sent["id"])[kind]
    assert row.qbo_id == crashed[0] and row.attempts == 2


def test_two_runs_racing_on_one_posting_record_one_object(b: Books) -> None:
    """Two workers on the same posting (the same generation): both create with the same
    requestid, QuickBooks answers both with one object, one conditional UPDATE wins."""
    sent = b.billing.sent_invoice()
    invoice_id = uuid.UUID(sent["id"])
    loaded = posting_run.load(invoice_id)
    assert loaded is not None
    facts, mapping = loaded
    posting_rows.ensure(facts.org_id, invoice_id, ["invoice"], mapping.realm_id)
    row = posting_rows.read_all(facts.org_id, invoice_id)["invoice"]
    from regentra.integrations.quickbooks.client import QuickBooks

    outcomes = []
    with QuickBooks(facts.org_id) as qbo:
        for _ in range(2):  # the second is the other worker, with the same snapshot
            run = posting_run.Run(facts, mapping, qbo)
            outcome = posting_run.RUNNERS["invoice"](run, row, False)
            assert isinstance(outcome, dict)
            outcomes.append(
                posting_rows.posted(row, number=facts.number, realm_id=mapping.realm_id, **outcome)
            )
    assert outcomes == [True, False]
    assert len(b.objects("Invoice")) == 1
    with b.db.session() as s:
        audits = s.query(AuditEvent).filter_by(action="quickbooks.posted").count()
    assert audits == 1


def test_quickbooks_down_for_a_while_then_posted_once(
    stripe_app: StripeApp,
    own_qbo: QboSandbox,
    monkeypatch: pytest.MonkeyPatch,
    db: Any,
    run_tasks: Callable[..., list[str]],
) -> None:
    connect = own_quickbooks(
        own_qbo, monkeypatch, db, qbo_retries="1", qbo_backoff_base_seconds="0.01"
    )
    b = books(stripe_app, connect, db, run_tasks)
    sent = b.billing.sent_invoice()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    control(own_qbo, "faults", rate_503=1)
    try:
        for attempt in (1, 2):
            with pytest.raises(QuickBooksUnavailable):
                posting_run.sync_invoice(uuid.UUID(sent["id"]))
            row = b.rows(sent["id"])["invoice"]
            assert row.state == "pending" and row.attempts == attempt
            assert "503" in (row.last_error or "")
        assert b.states(sent["id"]) == {
            "invoice": "pending",
            "payment": "pending",
            "fee": "pending",
        }
    finally:
        control(own_qbo, "faults", rate_503=0)
    b.run_tasks()
    _one_of_each(b, sent["id"])
    assert b.rows(sent["id"])["invoice"].last_error is None


def test_429s_are_backed_off_and_everything_posts(
    stripe_app: StripeApp,
    own_qbo: QboSandbox,
    monkeypatch: pytest.MonkeyPatch,
    db: Any,
    run_tasks: Callable[..., list[str]],
) -> None:
    connect = own_quickbooks(
        own_qbo, monkeypatch, db, qbo_retries="6", qbo_backoff_base_seconds="0.05"
    )
    b = books(stripe_app, connect, db, run_tasks)
    sent = [b.billing.sent_invoice() for _ in range(2)]
    control(own_qbo, "limits", per_minute=500, per_second=3)
    for invoice in sent:
        b.pay(invoice["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    statuses = [r["status"] for r in requests_of(own_qbo, b.qbo.realm)]
    assert 429 in statuses
    assert len(b.objects("Payment")) == 2 and len(b.objects("Purchase")) == 2
    for invoice in sent:
        assert b.states(invoice["id"]) == {
            "invoice": "posted",
            "payment": "posted",
            "fee": "posted",
        }
