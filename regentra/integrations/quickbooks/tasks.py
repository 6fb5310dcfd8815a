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
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select

from regentra import queue
from regentra.db import session_scope
from regentra.integrations.quickbooks import movement_run, movements, posting_run, postings
from regentra.invoices.service import OPEN
from regentra.kit.time import utcnow
from regentra.models import (
    REFUND_COUNTED,
    Dispute,
    Invoice,
    InvoiceStatus,
    Payout,
    PostingState,
    QuickBooksConnection,
    QuickBooksMovementPosting,
    QuickBooksPosting,
    Refund,
)
from regentra.queue import task

RETRIES = 8
RETRY_DELAY = 10
MAX_RETRY_DELAY = 900
SWEEP_AFTER = timedelta(minutes=10)
SWEEP_WITHIN = timedelta(days=30)
SWEEP_LIMIT = 1000
BACKFILL_BATCH = 200
BACKFILL_TASK = "quickbooks.backfill"


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


def _lacks(kind: str) -> ColumnElement[bool]:
    return ~exists().where(
        QuickBooksPosting.org_id == Invoice.org_id,
        QuickBooksPosting.invoice_id == Invoice.id,
        QuickBooksPosting.kind == kind,
    )


def _unposted() -> ColumnElement[bool]:
    """An invoice whose status calls for a posting whose row was never made."""
    return or_(
        and_(Invoice.status == InvoiceStatus.paid.value, _lacks("payment")),
        and_(Invoice.status.in_(OPEN), _lacks("invoice")),
        and_(
            Invoice.status == InvoiceStatus.void.value,
            Invoice.sent_at.is_not(None),
            _lacks("void"),
        ),
    )


def _ready_connections(org_id: uuid.UUID | None = None) -> list[tuple[uuid.UUID, datetime]]:
    """(org, the earliest moment an invoice may be posted from) of each connection that can
    post: its post-from date (a day early: the org's time zone decides exactly, in the run),
    or the day it connected when it has none."""
    with session_scope() as session:
        where: list[ColumnElement[bool]] = [
            QuickBooksConnection.realm_id.is_not(None),
            QuickBooksConnection.connected_at.is_not(None),
            QuickBooksConnection.reconnect_needed_at.is_(None),
            QuickBooksConnection.mapping_saved_at.is_not(None),
        ]
        if org_id is not None:
            where.append(QuickBooksConnection.org_id == org_id)
        found = session.execute(
            select(
                QuickBooksConnection.org_id,
                QuickBooksConnection.post_from,
                QuickBooksConnection.connected_at,
            ).where(*where)
        ).all()
    out = []
    for org, post_from, connected_at in found:
        start = post_from or (connected_at or utcnow()).date()
        out.append((org, datetime.combine(start, time.min, UTC) - timedelta(days=1)))
    return out


def _dated_from(start: datetime) -> ColumnElement[bool]:
    return or_(Invoice.sent_at >= start, Invoice.paid_at >= start)


def _unposted_transitions(older: timedelta = SWEEP_AFTER) -> list[uuid.UUID]:
    """Invoices sent, paid or voided on or after their org's post-from date (updated in the
    last `SWEEP_WITHIN`, over `SWEEP_AFTER` ago) whose posting row was never made: the task
    the transition enqueued was lost (a worker died with it), or the invoice was paid while
    QuickBooks was disconnected."""
    now = utcnow()
    found: list[uuid.UUID] = []
    for org_id, start in _ready_connections():
        if len(found) >= SWEEP_LIMIT:
            break
        with session_scope() as session:
            ids = list(
                session.scalars(
                    select(Invoice.id)
                    .where(
                        Invoice.org_id == org_id,
                        _dated_from(start),
                        Invoice.updated_at < now - older,
                        Invoice.updated_at > now - SWEEP_WITHIN,
                        _unposted(),
                    )
                    .order_by(Invoice.updated_at)
                    .limit(SWEEP_LIMIT - len(found))
                )
            )
            for invoice_id in ids:
                queue.enqueue(session, postings.SYNC_TASK, str(invoice_id))
        found.extend(ids)
    return found


def _backfill(org_id: uuid.UUID, after: uuid.UUID | None) -> list[uuid.UUID]:
    """One batch (by id, after `after`) of the org's invoices sent, paid or voided on or
    after its post-from date that have no posting row for what their status calls for:
    e.g. November's invoices when QuickBooks was connected on December 2 with post-from
    November 1, or an invoice paid while QuickBooks was disconnected. Each is synced;
    a full batch enqueues the next one."""
    ready = _ready_connections(org_id)
    if not ready:
        return []  # not connected, needs a reconnect, or no mapping: resume comes after
    start = ready[0][1]
    with session_scope() as session:
        where: list[ColumnElement[bool]] = [Invoice.org_id == org_id, _dated_from(start)]
        if after is not None:
            where.append(Invoice.id > after)
        ids = list(
            session.scalars(
                select(Invoice.id)
                .where(*where, _unposted())
                .order_by(Invoice.id)
                .limit(BACKFILL_BATCH)
            )
        )
        for invoice_id in ids:
            queue.enqueue(session, postings.SYNC_TASK, str(invoice_id))
        if len(ids) == BACKFILL_BATCH:
            queue.enqueue(session, BACKFILL_TASK, str(org_id), str(ids[-1]))
    return ids


# ---- money movements (refunds, disputes, payouts) -------------------------------------------


@task(
    movements.SYNC_TASK,
    retries=RETRIES,
    retry_delay=RETRY_DELAY,
    max_retry_delay=MAX_RETRY_DELAY,
)
def sync_movement(subject: str, subject_id: str) -> None:
    """A refund, dispute or payout changed (the Stripe side enqueues this whether or not
    QuickBooks is connected): post what it calls for, exactly once."""
    movement_run.sync_movement(subject, uuid.UUID(subject_id))


def _open_movements(org_id: uuid.UUID | None, *, older: timedelta | None = None) -> list[str]:
    """Subjects with a pending or waiting movement posting (of the org, or of every org whose
    connection can post), oldest first, enqueued again."""
    M = QuickBooksMovementPosting
    where: list[ColumnElement[bool]] = [
        M.state.in_((PostingState.pending.value, PostingState.waiting.value))
    ]
    if org_id is not None:
        where.append(M.org_id == org_id)
    else:
        where.append(M.org_id.in_(_ready_org_ids()))
    if older is not None:
        where.append(M.updated_at < utcnow() - older)
    with session_scope() as session:
        found = session.execute(
            select(M.subject_id, M.kind).where(*where).order_by(M.updated_at).limit(SWEEP_LIMIT)
        ).all()
        subjects = list(
            dict.fromkeys((movements.SUBJECT_OF[kind], str(sid)) for sid, kind in found)
        )
        for subject, subject_id in subjects:
            queue.enqueue(session, movements.SYNC_TASK, subject, subject_id)
    return [subject_id for _, subject_id in subjects]


def _ready_org_ids() -> Select[Any]:
    return select(QuickBooksConnection.org_id).where(
        QuickBooksConnection.realm_id.is_not(None),
        QuickBooksConnection.reconnect_needed_at.is_(None),
        QuickBooksConnection.mapping_saved_at.is_not(None),
    )


def _no_movement(subject_id: Any, kind: str) -> ColumnElement[bool]:
    M = QuickBooksMovementPosting
    return ~exists().where(M.subject_id == subject_id, M.kind == kind)


def _unposted_movements(org_id: uuid.UUID | None, older: timedelta = SWEEP_AFTER) -> list[str]:
    """Refunds, disputes and payouts (of orgs that can post, changed in the last
    `SWEEP_WITHIN`, over `older` ago) whose due movement posting was never made: the task
    their change enqueued was lost. Each is enqueued again."""
    now = utcnow()
    orgs = (
        _ready_org_ids()
        if org_id is None
        else select(QuickBooksConnection.org_id).where(QuickBooksConnection.org_id == org_id)
    )
    due: list[tuple[str, Any, ColumnElement[bool]]] = [
        (
            "refund",
            Refund,
            or_(
                and_(
                    Refund.status.in_(REFUND_COUNTED),
                    Refund.settled_amount.is_not(None),
                    _no_movement(Refund.id, "refund"),
                ),
                and_(  # failed or canceled after its RefundReceipt was posted: returned
                    Refund.status.in_(movement_run.REFUND_RETURNED),
                    exists().where(
                        QuickBooksMovementPosting.subject_id == Refund.id,
                        QuickBooksMovementPosting.kind == "refund",
                        QuickBooksMovementPosting.state == PostingState.posted.value,
                    ),
                    _no_movement(Refund.id, "refund_return"),
                ),
            ),
        ),
        (
            "dispute",
            Dispute,
            or_(
                and_(Dispute.withdrawn.is_not(None), _no_movement(Dispute.id, "dispute")),
                and_(Dispute.reinstated.is_not(None), _no_movement(Dispute.id, "reinstatement")),
            ),
        ),
        (
            "payout",
            Payout,
            or_(
                and_(Payout.status != "canceled", _no_movement(Payout.id, "payout")),
                and_(
                    or_(Payout.failed_at.is_not(None), Payout.status == "canceled"),
                    exists().where(
                        QuickBooksMovementPosting.subject_id == Payout.id,
                        QuickBooksMovementPosting.kind == "payout",
                        QuickBooksMovementPosting.state == PostingState.posted.value,
                    ),
                    _no_movement(Payout.id, "payout_return"),
                ),
            ),
        ),
    ]
    found: list[str] = []
    with session_scope() as session:
        for subject, model, lacking in due:
            limit = SWEEP_LIMIT - len(found)
            if limit <= 0:
                break
            ids = session.scalars(
                select(model.id)
                .where(
                    model.org_id.in_(orgs),
                    model.updated_at < now - older,
                    model.updated_at > now - SWEEP_WITHIN,
                    lacking,
                )
                .order_by(model.updated_at)
                .limit(limit)
            ).all()
            for subject_id in ids:
                queue.enqueue(session, movements.SYNC_TASK, subject, str(subject_id))
            found.extend(str(i) for i in ids)
    return found


@task(BACKFILL_TASK)
def backfill(org_id: str, after: str | None = None) -> None:
    """Sync the org's invoices since its post-from date that were never posted (batched)."""
    _backfill(uuid.UUID(org_id), uuid.UUID(after) if after else None)


@task(postings.RESUME_TASK)
def resume(org_id: str) -> None:
    """After a mapping is saved, a reconnect (or Stripe reconnected): every pending or
    waiting posting of the org runs again (one `quickbooks.sync_invoice` per invoice), and
    the invoices since the post-from date that were never posted are (`backfill`); so do
    its movement postings (refunds, disputes, payouts: open ones, and those never made)."""
    _open_invoices(uuid.UUID(org_id))
    _backfill(uuid.UUID(org_id), None)
    _open_movements(uuid.UUID(org_id))
    _unposted_movements(uuid.UUID(org_id), older=timedelta(0))


@task("quickbooks.postings_sweep")
def postings_sweep(older_than_s: float | None = None) -> None:
    """Periodic (hourly): postings still pending or waiting after `SWEEP_AFTER` (or
    `older_than_s`, e.g. in a test that kills a worker), of orgs that can post, are enqueued
    again (a crash or an outage outlasting the retries), and so are invoices whose
    transition's task was lost before it made any row; the same for refunds, disputes and
    payouts (`quickbooks.sync_movement`)."""
    older = SWEEP_AFTER if older_than_s is None else timedelta(seconds=older_than_s)
    _open_invoices(None, older=older)
    _unposted_transitions(older)
    _open_movements(None, older=older)
    _unposted_movements(None, older)
