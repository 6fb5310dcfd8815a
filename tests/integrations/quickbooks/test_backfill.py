"""A post-from date in the past backfills: invoices sent and paid before QuickBooks was
connected (dated on or after post-from) are mirrored, with their payments and fees, when the
mapping is saved (`quickbooks.resume` → `quickbooks.backfill`, batched); one dated before
post-from is not. An invoice paid while QuickBooks was disconnected is picked up by the hourly
sweep (filtered on post-from, not on when the company was connected). On SQLite and
PostgreSQL, against both sandboxes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp, connect_billing
from integrations.quickbooks.posting_helpers import Books, accounts_of, books, save_mapping
from regentra import queue
from regentra.integrations.quickbooks import postings, tasks
from regentra.integrations.stripe import reconcile as reconciliation
from regentra.kit.time import utcnow
from regentra.models import Invoice

Connect = Callable[..., QboOrg]


def test_saving_a_mapping_with_an_earlier_post_from_backfills_in_batches(
    stripe_app: StripeApp,
    connect_quickbooks: Connect,
    db: Any,
    run_tasks: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    billing = connect_billing(stripe_app)
    run_tasks()
    sent = billing.sent_invoice()
    paid = billing.sent_invoice()
    too_old = billing.sent_invoice()
    with db.session() as s:
        s.execute(
            update(Invoice)
            .where(Invoice.id == uuid.UUID(too_old["id"]))
            .values(sent_at=utcnow() - timedelta(days=60))
        )
        s.commit()
    with billing.control() as control:
        r = control.post(f"/_sandbox/invoices/{paid['stripe_invoice_id']}/pay")
        assert r.status_code == 200, r.text
    reconciliation.reconcile_org(billing.kit.org.id)
    run_tasks()
    qbo = connect_quickbooks(billing.kit)  # connected only now (December 2, say)
    b = Books(billing, qbo, db, run_tasks, accounts_of(qbo))
    assert b.invoice_row(paid["id"]).status == "paid"
    assert b.rows(sent["id"]) == {} and b.rows(paid["id"]) == {}

    monkeypatch.setattr(tasks, "BACKFILL_BATCH", 1)
    save_mapping(db, b.org_id, b.accounts, post_from=date.today() - timedelta(days=30))
    with db.session() as s:
        queue.enqueue(s, postings.RESUME_TASK, str(b.org_id))
        s.commit()
    ran = b.run_tasks()
    assert ran.count(tasks.BACKFILL_TASK) >= 2  # a full batch enqueues the next one
    assert b.states(sent["id"]) == {"invoice": "posted"}
    assert b.states(paid["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
    assert b.rows(too_old["id"]) == {}
    assert len(b.objects("Invoice")) == 2 and len(b.objects("Payment")) == 1
    assert len(b.objects("Purchase")) == 1

    # Idempotent: resuming again posts nothing more.
    with db.session() as s:
        queue.enqueue(s, postings.RESUME_TASK, str(b.org_id))
        s.commit()
    b.run_tasks()
    assert len(b.objects("Invoice")) == 2 and len(b.objects("Payment")) == 1


def test_the_sweep_posts_an_invoice_paid_while_quickbooks_was_disconnected(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks, post_from=date.today())
    sent = b.billing.sent_invoice()
    b.run_tasks()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    queue.get_huey().flush()  # QuickBooks was disconnected: no payment task ran
    an_hour_ago = utcnow() - timedelta(hours=1)
    with db.session() as s:
        s.execute(update(Invoice).where(Invoice.org_id == b.org_id).values(updated_at=an_hour_ago))
        s.commit()
    b.set_connection(connected_at=utcnow())  # reconnected after the invoice was paid
    tasks.postings_sweep()
    assert b.run_tasks() == [postings.SYNC_TASK]
    assert b.states(sent["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
