"""QuickBooks tasks, registered by stable name on the one Huey instance.

Other flows enqueue these by name (`invoices/transitions.py`: mirror, void, payment; the
mapping and reconnect: resume; `postings.retry`: sync). Every task takes ids, opens its own
sessions and is idempotent: each runs `posting_run.sync_invoice`, which posts what the
invoice's status calls for and what is not posted yet, exactly once. QuickBooks or Stripe
being unavailable (429, 5xx, network) is `queue.Transient`: the task retries with back-off,
and the hourly sweep picks up what outlasted the retries.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, exists, or_, select

from regentra import queue
from regentra.db import session_scope
from regentra.integrations.quickbooks import posting_run, postings
from regentra.invoices.service import OPEN
from regentra.kit.time import utcnow
from regentra.models import (
    Invoice,
    InvoiceStatus,
    PostingState,
    QuickBooksConnection,
    QuickBooksPosting,
)
from regentra.queue import task

RETRIES = 8
RETRY_DELAY = 10
MAX_RETRY_DELAY = 900
SWEEP_AFTER = timedelta(minutes=10)
SWEEP_WITHIN = timedelta(days=30)
SWEEP_LIMIT = 1000


def _sync(invoice_id: str) -> None:
    posting_run.sync_invoice(uuid.UUID(invoice_id))


@task(postings.SYNC_TASK, retries=RETRIES, retry_delay=RETRY_DELAY, max_retry_delay=MAX_RETRY_DELAY)
def sync_invoice(invoice_id: str) -> None:
    """Run every due posting of the invoice, in order."""
    _sync(invoice_id)


@task(
    "quickbooks.mirror_invoice",
    retries=RETRIES,
    retry_delay=RETRY_DELAY,
    max_retry_delay=MAX_RETRY_DELAY,
)
def mirror_invoice(invoice_id: str) -> None:
    """A Regentra invoice was sent: mirror it in QuickBooks."""
    _sync(invoice_id)


@task(
    "quickbooks.void_invoice",
    retries=RETRIES,
    retry_delay=RETRY_DELAY,
    max_retry_delay=MAX_RETRY_DELAY,
)
def void_invoice(invoice_id: str) -> None:
    """A sent invoice was voided here: void its mirror."""
    _sync(invoice_id)


@task(
    "quickbooks.record_payment",
    retries=RETRIES,
    retry_delay=RETRY_DELAY,
    max_retry_delay=MAX_RETRY_DELAY,
)
def record_payment(invoice_id: str) -> None:
    """An invoice was paid: its payment (and credit memo, and Stripe's fee)."""
    _sync(invoice_id)


def _open_invoices(org_id: uuid.UUID | None, *, older: timedelta | None = None) -> list[uuid.UUID]:
    """Invoices with a pending or waiting posting (of the org, or of every org whose
    connection can post), oldest first."""
    where: list[ColumnElement[bool]] = [
        QuickBooksPosting.state.in_((PostingState.pending.value, PostingState.waiting.value))
    ]
    if org_id is not None:
        where.append(QuickBooksPosting.org_id == org_id)
    else:
        ready = select(QuickBooksConnection.org_id).where(
            QuickBooksConnection.realm_id.is_not(None),
            QuickBooksConnection.reconnect_needed_at.is_(None),
            QuickBooksConnection.mapping_saved_at.is_not(None),
        )
        where.append(QuickBooksPosting.org_id.in_(ready))
    if older is not None:
        where.append(QuickBooksPosting.updated_at < utcnow() - older)
    with session_scope() as session:
        found = session.execute(
            select(QuickBooksPosting.invoice_id, QuickBooksPosting.updated_at)
            .where(*where)
            .order_by(QuickBooksPosting.updated_at)
            .limit(SWEEP_LIMIT)
        ).all()
        invoice_ids = list(dict.fromkeys(invoice_id for invoice_id, _ in found))
        for invoice_id in invoice_ids:
            queue.enqueue(session, postings.SYNC_TASK, str(invoice_id))
    return invoice_ids


def _unposted_transitions(older: timedelta = SWEEP_AFTER) -> list[uuid.UUID]:
    """Invoices sent, paid or voided while QuickBooks was connected (in the last
    `SWEEP_WITHIN`, over `SWEEP_AFTER` ago) whose posting row was never made: the task the
    transition enqueued was lost (a worker died with it)."""
    now = utcnow()

    def lacks(kind: str) -> ColumnElement[bool]:
        return ~exists().where(
            QuickBooksPosting.org_id == Invoice.org_id,
            QuickBooksPosting.invoice_id == Invoice.id,
            QuickBooksPosting.kind == kind,
        )

    with session_scope() as session:
        found = list(
            session.scalars(
                select(Invoice.id)
                .join(QuickBooksConnection, QuickBooksConnection.org_id == Invoice.org_id)
                .where(
                    QuickBooksConnection.realm_id.is_not(None),
                    QuickBooksConnection.reconnect_needed_at.is_(None),
                    QuickBooksConnection.mapping_saved_at.is_not(None),
                    Invoice.updated_at >= QuickBooksConnection.connected_at,
                    Invoice.updated_at < now - older,
                    Invoice.updated_at > now - SWEEP_WITHIN,
                    or_(
                        and_(Invoice.status == InvoiceStatus.paid.value, lacks("payment")),
                        and_(Invoice.status.in_(OPEN), lacks("invoice")),
                        and_(
                            Invoice.status == InvoiceStatus.void.value,
                            Invoice.sent_at.is_not(None),
                            lacks("void"),
                        ),
                    ),
                )
                .order_by(Invoice.updated_at)
                .limit(SWEEP_LIMIT)
            )
        )
        for invoice_id in found:
            queue.enqueue(session, postings.SYNC_TASK, str(invoice_id))
    return found


@task(postings.RESUME_TASK)
def resume(org_id: str) -> None:
    """After a mapping is saved or a reconnect: every pending or waiting posting of the org
    runs again (one `quickbooks.sync_invoice` per invoice)."""
    _open_invoices(uuid.UUID(org_id))


@task("quickbooks.postings_sweep")
def postings_sweep(older_than_s: float | None = None) -> None:
    """Periodic (hourly): postings still pending or waiting after `SWEEP_AFTER` (or
    `older_than_s`, e.g. in a test that kills a worker), of orgs that can post, are enqueued
    again (a crash or an outage outlasting the retries), and so are invoices whose
    transition's task was lost before it made any row."""
    older = SWEEP_AFTER if older_than_s is None else timedelta(seconds=older_than_s)
    _open_invoices(None, older=older)
    _unposted_transitions(older)
