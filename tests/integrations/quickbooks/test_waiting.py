"""Postings that cannot run wait, and resume: no mapping saved yet, a connection that needs
reconnecting (the refresh token refused for good), then `quickbooks.resume` after the
mapping is saved or the reconnect; the hourly sweep re-enqueues postings left pending; the
task names are registered and the sweep is scheduled. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select, update
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import books, save_mapping
from regentra import periodic, queue, task_registry
from regentra.audit.service import Actor
from regentra.integrations.quickbooks import (
    connection,
    oauth,
    postings,
    tasks,
    tokens,
)
from regentra.kit.time import utcnow
from regentra.models import Invoice, QuickBooksConnection, QuickBooksPosting

Connect = Callable[..., QboOrg]


def test_the_task_names_are_registered_and_the_sweep_is_hourly() -> None:
    queue.get_huey()
    names = {spec.name for spec in task_registry.declared()}
    for name in (
        "quickbooks.mirror_invoice",
        "quickbooks.void_invoice",
        "quickbooks.record_payment",
        "quickbooks.sync_invoice",
        "quickbooks.resume",
        "quickbooks.postings_sweep",
    ):
        assert name in names
    entry = next(e for e in periodic.SCHEDULE if e.name == "quickbooks.postings")
    assert entry.task == "quickbooks.postings_sweep"
    stripe = next(e for e in periodic.SCHEDULE if e.name == "stripe.reconcile")
    from datetime import datetime

    minutes = [m for m in range(60) if entry.schedule(datetime(2026, 12, 2, 10, m))]
    assert len(minutes) == 1
    assert not stripe.schedule(datetime(2026, 12, 2, 10, minutes[0]))


def test_no_mapping_yet_means_waiting_then_resume_posts(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks, mapped=False)
    sent = b.billing.sent_invoice()
    b.run_tasks()
    row = b.rows(sent["id"])["invoice"]
    assert row.state == "waiting" and "mapping" in (row.last_error or "")
    assert b.objects("Invoice") == []
    save_mapping(db, b.org_id, b.accounts)
    with db.session() as s:
        queue.enqueue(s, postings.RESUME_TASK, str(b.org_id))
        s.commit()
    assert b.run_tasks() == [postings.RESUME_TASK, postings.SYNC_TASK]
    assert b.states(sent["id"]) == {"invoice": "posted"}
    assert len(b.objects("Invoice")) == 1


def test_reconnect_needed_means_waiting_then_resume_after_reconnecting_posts(
    stripe_app: StripeApp,
    connect_quickbooks: Connect,
    qbo_app: Any,
    db: Any,
    run_tasks: Callable[..., Any],
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    sent = b.billing.sent_invoice()
    b.run_tasks()
    # Intuit refuses the refresh token for good: the connection needs a reconnect.
    with db.session() as s:
        conn = s.scalar(select(QuickBooksConnection).where(QuickBooksConnection.org_id == b.org_id))
        assert conn is not None
        tokens.mark_reconnect_needed(s, conn=conn, reason="The refresh token was revoked")
        s.commit()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    rows = b.rows(sent["id"])
    assert (rows["payment"].state, rows["fee"].state) == ("waiting", "waiting")
    assert "revoked" in (rows["payment"].last_error or "")
    assert rows["payment"].attempts == 0  # no retry storm: nothing was tried
    assert b.objects("Payment") == []

    # The admin connects again (same company), and the reconnect resumes the postings.
    auth = oauth.auth_client()
    url = auth.get_authorization_url(oauth.SCOPES, state_token=uuid.uuid4().hex)
    location = qbo_app.authorize_url_answer(url, b.qbo.realm)
    query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
    with db.session() as s:
        connection.complete(
            s,
            org_id=b.org_id,
            actor=Actor.of(b.billing.kit.admin),
            code=query["code"],
            realm_id=query["realmId"],
        )
        queue.enqueue(s, postings.RESUME_TASK, str(b.org_id))
        s.commit()
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
    assert len(b.objects("Payment")) == 1 and len(b.objects("Purchase")) == 1


def test_the_sweep_enqueues_postings_left_pending(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    sent = b.billing.sent_invoice()
    b.run_tasks()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    queue.get_huey().flush()  # the worker died with the payment task: no row was made
    assert b.states(sent["id"]) == {"invoice": "posted"}
    tasks.postings_sweep()
    assert b.run_tasks() == []  # too recent: a task may still be on it
    an_hour_ago = utcnow() - timedelta(hours=1)
    b.set_connection(connected_at=utcnow() - timedelta(hours=2))  # paid while connected
    with db.session() as s:
        s.execute(update(Invoice).where(Invoice.org_id == b.org_id).values(updated_at=an_hour_ago))
        s.commit()
    tasks.postings_sweep()
    assert b.run_tasks() == [postings.SYNC_TASK]
    assert b.states(sent["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}

    # A posting left pending (an outage outlasted the task's retries) is enqueued again.
    with db.session() as s:
        s.execute(
            update(QuickBooksPosting)
            .where(QuickBooksPosting.org_id == b.org_id, QuickBooksPosting.kind == "fee")
            .values(state="pending", updated_at=an_hour_ago)
        )
        s.commit()
    tasks.postings_sweep()
    assert b.run_tasks() == [postings.SYNC_TASK]
    assert b.states(sent["id"])["fee"] == "posted"  # found by its DocNumber, not made twice
    assert len(b.objects("Purchase")) == 1


def test_a_refresh_refused_mid_run_makes_the_postings_wait(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    """The access token has expired and Intuit refuses the refresh token (revoked): the
    connection needs a reconnect and the postings wait; the task does not fail or retry."""
    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    with db.session() as s:
        _, refresh = tokens.saved(s, org_id=b.org_id)
    assert refresh is not None
    oauth.auth_client().revoke(token=refresh)
    b.set_connection(access_expires_at=utcnow() - timedelta(minutes=1))
    sent = b.billing.sent_invoice()
    assert b.run_tasks() == ["quickbooks.mirror_invoice"]
    row = b.rows(sent["id"])["invoice"]
    assert row.state == "waiting" and "invalid_grant" in (row.last_error or "")
    with db.session() as s:
        conn = s.scalar(select(QuickBooksConnection).where(QuickBooksConnection.org_id == b.org_id))
        assert conn is not None and conn.reconnect_needed_at is not None
    assert b.objects("Invoice") == []


def test_the_servers_quickbooks_keys_removed_makes_the_postings_wait(
    stripe_app: StripeApp,
    connect_quickbooks: Connect,
    db: Any,
    run_tasks: Callable[..., Any],
    monkeypatch: Any,
) -> None:
    """The operator removed REGENTRA_QBO_CLIENT_ID while the access token needs a refresh:
    the postings wait, saying which setting is missing, instead of failing."""
    from regentra.config import get_settings

    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    b.set_connection(access_expires_at=utcnow() - timedelta(minutes=1))
    monkeypatch.setenv("REGENTRA_QBO_CLIENT_ID", "")
    get_settings.cache_clear()
    sent = b.billing.sent_invoice()
    assert b.run_tasks() == ["quickbooks.mirror_invoice"]
    row = b.rows(sent["id"])["invoice"]
    assert row.state == "waiting" and "REGENTRA_QBO_CLIENT_ID" in (row.last_error or "")
    assert b.objects("Invoice") == []
