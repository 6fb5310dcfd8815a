"""Invoice status changes: draft → sent → paid; sent → overdue → paid; draft|sent|overdue → void.

Every status change is one conditional UPDATE (`WHERE status IN (...)`), so a webhook, a
reconciliation run and a person racing each other apply a transition exactly once, and only
the winner writes the audit entry. Callers: `integrations/stripe/sending.py` (sent, void),
`integrations/stripe/handlers.py` and `reconcile.py` (paid, payment notes), the overdue sweep.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Table,
    bindparam,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.errors import Conflict
from regentra.invoices.errors import InvoicePaid, InvoiceVoid
from regentra.invoices.service import OPEN, unlink_entries
from regentra.kit.time import today_in, utcnow
from regentra.models import ActorType, Invoice, InvoiceStatus, Org, QuickBooksConnection

VOIDABLE = (InvoiceStatus.draft.value, *OPEN)
# QuickBooks Online (integrations/quickbooks/tasks.py), enqueued by name when the org has it
# connected: mirror a sent invoice, void the mirror of a voided one, and record the payment
# (and Stripe's fee) of a paid one.
MIRROR_TASK = "quickbooks.mirror_invoice"
VOID_TASK = "quickbooks.void_invoice"
PAYMENT_BRIDGE_TASK = "quickbooks.record_payment"


def _transition(
    session: Session,
    *,
    org_id: uuid.UUID,
    where: list[Any],
    from_states: tuple[str, ...],
    values: dict[str, Any],
) -> Invoice | None:
    """One conditional UPDATE; the invoice when this call moved it, else None."""
    # RETURNING the row refreshes the session's copy too (populate_existing): no re-read.
    return session.scalars(
        update(Invoice)
        .where(Invoice.org_id == org_id, Invoice.status.in_(from_states), *where)
        .values(**values, updated_at=utcnow())
        .returning(Invoice)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).first()


def _note_on_draft(session: Session, invoice: Invoice, **values: Any) -> None:
    """Write `values` on our draft (only while it is a draft) and refresh the session's copy."""
    session.execute(
        update(Invoice)
        .where(
            Invoice.org_id == invoice.org_id,
            Invoice.id == invoice.id,
            Invoice.status == InvoiceStatus.draft.value,
        )
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(invoice)


def note_stripe_invoice(session: Session, *, invoice: Invoice, stripe_invoice_id: str) -> None:
    """Remember the Stripe invoice as soon as it exists (a send that fails later resumes)."""
    _note_on_draft(session, invoice, stripe_invoice_id=stripe_invoice_id)


def mark_sent(
    session: Session,
    *,
    invoice: Invoice,
    actor: Actor,
    stripe_invoice_id: str,
    hosted_invoice_url: str | None,
    due_date: date | None,
    amount_due: int | None = None,
) -> Invoice:
    """Draft → sent (once: a concurrent send that finished first is the same outcome),
    audited and handed to bookkeeping; `amount_due` is what Stripe asks the client to pay,
    read after finalizing, written in the same UPDATE."""
    due = {} if amount_due is None else {"amount_due": amount_due}
    moved = _transition(
        session,
        org_id=invoice.org_id,
        where=[Invoice.id == invoice.id],
        from_states=(InvoiceStatus.draft.value,),
        values={
            "status": InvoiceStatus.sent.value,
            "stripe_invoice_id": stripe_invoice_id,
            "hosted_invoice_url": hosted_invoice_url,
            "due_date": due_date,
            "sent_at": utcnow(),
            **due,
        },
    )
    if moved is None:
        session.refresh(invoice)
        if invoice.status != InvoiceStatus.draft.value:
            return invoice  # a concurrent send finished first: same outcome
        raise Conflict(f"invoice {invoice.number} could not be marked sent")
    record(
        session,
        org_id=invoice.org_id,
        actor=actor,
        action="invoice.sent",
        subject_type="invoice",
        subject_id=invoice.id,
        details={
            "number": invoice.number,
            "stripe_invoice_id": stripe_invoice_id,
            "total": invoice.total,
            "due_date": due_date.isoformat() if due_date else None,
        },
    )
    hand_to_bookkeeping(session, org_id=moved.org_id, invoice_id=moved.id, task=MIRROR_TASK)
    return moved


PAID_BY = {
    "webhook": "payment received (Stripe webhook)",
    "reconciliation": "payment found by reconciliation",
    "send": "paid in Stripe when it was sent (a credit balance covered it)",
    # A person recorded a cheque or a wire (`integrations/stripe/recording.py`).
    "outside_stripe": "payment received outside Stripe",
}


@dataclass(frozen=True)
class Paid:
    """An invoice `mark_paid` moved to paid."""

    id: uuid.UUID
    number: str
    amount_paid: int


_INVOICES: Table = Invoice.__table__  # type: ignore[assignment]
_QUICKBOOKS: Table = QuickBooksConnection.__table__  # type: ignore[assignment]
_QUICKBOOKS_OF_ORG = select(_QUICKBOOKS.c.id).where(
    _QUICKBOOKS.c.org_id == bindparam("b_org_id"),
    _QUICKBOOKS.c.realm_id.is_not(None),
    _QUICKBOOKS.c.connected_at.is_not(None),
)
# Built once (Core, bound parameters): the webhook runs it for every payment. The amount paid
# is Stripe's when the event says it, else what Stripe asked for: the total less a credit
# balance applied in Stripe (`amount_due`), else the total. It also answers whether the org
# has QuickBooks connected (`quickbooks_connected`, for the payment bridge): no second query.
# Public: the webhook's one-statement path on PostgreSQL (`handlers.ingest_paid`) builds on it.
PAY = (
    update(_INVOICES)
    .where(
        _INVOICES.c.org_id == bindparam("b_org_id"),
        # Plain bound values, not an expanding IN (re-rendered on every execution).
        _INVOICES.c.status.in_([literal(state, String) for state in OPEN]),
        _INVOICES.c.stripe_invoice_id == bindparam("b_stripe_invoice_id"),
    )
    .values(
        status=InvoiceStatus.paid.value,
        paid_at=bindparam("b_paid_at"),
        amount_paid=func.coalesce(
            bindparam("b_amount_paid", type_=Integer), _INVOICES.c.amount_due, _INVOICES.c.total
        ),
        payment_processing_at=None,
        payment_failure=None,
        payment_failed_at=None,
        updated_at=bindparam("b_now"),
    )
    .returning(
        _INVOICES.c.id,
        _INVOICES.c.number,
        _INVOICES.c.amount_paid,
        exists(_QUICKBOOKS_OF_ORG).label("quickbooks"),
    )
)


def mark_paid(
    session: Session,
    *,
    org_id: uuid.UUID,
    stripe_invoice_id: str,
    paid_at: datetime,
    amount_paid: int | None,
    source: str,
    stripe_event_id: str | None = None,
    actor: Actor | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
) -> Paid | None:
    """sent|overdue → paid for our invoice with this Stripe id in this org. None when there
    is no such invoice or it was not open (already paid: a duplicate, a race, or void).
    `actor`, `message`, `details`: who the audit entry names (default Stripe, by `source`),
    its words (default `PAID_BY[source]`) and what else it keeps (a payment recorded by
    hand: its method and reference)."""
    if source not in PAID_BY:
        raise ValueError(f"unknown payment source {source!r}")
    session.flush()  # what the session holds first: the UPDATE below bypasses it
    row = session.execute(
        PAY,
        {
            "b_org_id": org_id,
            "b_stripe_invoice_id": stripe_invoice_id,
            "b_paid_at": paid_at,
            "b_amount_paid": amount_paid,
            "b_now": utcnow(),
        },
    ).first()
    if row is None:
        return None
    paid = Paid(id=row.id, number=row.number, amount_paid=row.amount_paid)
    held = session.identity_map.get(session.identity_key(Invoice, paid.id))
    if held is not None:  # a copy the session holds (a send that found it paid) reads anew
        session.refresh(held)
    record(
        session,
        org_id=org_id,
        actor=actor or Actor(type=ActorType.stripe, label=f"Stripe ({source})"),
        action="invoice.paid",
        subject_type="invoice",
        subject_id=paid.id,
        details={
            **paid_details(
                message=message or PAID_BY[source],
                number=paid.number,
                amount_paid=paid.amount_paid,
                stripe_invoice_id=stripe_invoice_id,
                stripe_event_id=stripe_event_id or None,
            ),
            **(details or {}),
        },
    )
    hand_to_bookkeeping(
        session,
        org_id=org_id,
        invoice_id=paid.id,
        task=PAYMENT_BRIDGE_TASK,
        connected=row.quickbooks,  # answered by the UPDATE
    )
    return paid


def paid_details(
    *, message: Any, number: Any, amount_paid: Any, stripe_invoice_id: Any, stripe_event_id: Any
) -> dict[str, Any]:
    """The "invoice.paid" audit entry's details: values, or SQL expressions when the entry is
    written by a statement (`handlers.ingest_paid`)."""
    details = {
        "message": message,
        "number": number,
        "amount_paid": amount_paid,
        "stripe_invoice_id": stripe_invoice_id,
    }
    if stripe_event_id is not None:
        details["stripe_event_id"] = stripe_event_id
    return details


def quickbooks_connected(session: Session, *, org_id: uuid.UUID) -> bool:
    """Whether the org has a QuickBooks Online company connected (also while it needs a
    reconnect or a mapping: its postings then wait, and run once it is fixed)."""
    return session.execute(_QUICKBOOKS_OF_ORG, {"b_org_id": org_id}).first() is not None


def hand_to_bookkeeping(
    session: Session,
    *,
    org_id: uuid.UUID,
    invoice_id: uuid.UUID,
    task: str,
    connected: bool | None = None,
) -> None:
    """The one hook for QuickBooks: a sent, voided or paid invoice (however we learnt it) is
    enqueued by task name, after commit, when the org has QuickBooks connected (`connected`:
    already known in this transaction; else asked here)."""
    if connected is None:
        connected = quickbooks_connected(session, org_id=org_id)
    if connected:
        queue.enqueue(session, task, str(invoice_id))


def mark_payment_processing(
    session: Session, *, org_id: uuid.UUID, stripe_invoice_id: str, at: datetime
) -> Invoice | None:
    """A bank (ACH) payment started: noted on the invoice, whose status stays as it is."""
    invoice = _transition(
        session,
        org_id=org_id,
        where=[
            Invoice.stripe_invoice_id == stripe_invoice_id,
            Invoice.payment_processing_at.is_(None),
        ],
        from_states=OPEN,
        values={"payment_processing_at": at},
    )
    if invoice is not None:
        record(
            session,
            org_id=org_id,
            actor=Actor(type=ActorType.stripe, label="Stripe (webhook)"),
            action="invoice.payment_processing",
            subject_type="invoice",
            subject_id=invoice.id,
            details={"message": "bank payment processing", "number": invoice.number},
        )
    return invoice


def clear_payment_processing(
    session: Session, *, org_id: uuid.UUID, stripe_invoice_id: str, before: datetime
) -> Invoice | None:
    """A payment failed: a "bank payment processing" note from before `before` goes (it was
    that payment). The status stays; the failure itself is audited by the caller."""
    return _transition(
        session,
        org_id=org_id,
        where=[
            Invoice.stripe_invoice_id == stripe_invoice_id,
            Invoice.payment_processing_at < before,
        ],
        from_states=OPEN,
        values={"payment_processing_at": None},
    )


def note_payment_failure(
    session: Session, *, org_id: uuid.UUID, stripe_invoice_id: str, reason: str, at: datetime
) -> Invoice | None:
    """Why the last payment of the org's open invoice with this Stripe id failed (Stripe's
    decline reason), unless a later failure is already noted. The status stays."""
    return _transition(
        session,
        org_id=org_id,
        where=[
            Invoice.stripe_invoice_id == stripe_invoice_id,
            (Invoice.payment_failed_at.is_(None)) | (Invoice.payment_failed_at <= at),
        ],
        from_states=OPEN,
        values={"payment_failure": reason[:500], "payment_failed_at": at},
    )


def note_stripe_event(
    session: Session,
    *,
    invoice: Invoice,
    action: str,
    message: str,
    details: dict[str, Any] | None = None,
    source: str = "webhook",
) -> None:
    """An audit entry about a Stripe event that changes nothing here (payment succeeded or
    failed, voided or uncollectible in Stripe)."""
    record(
        session,
        org_id=invoice.org_id,
        actor=Actor(type=ActorType.stripe, label=f"Stripe ({source})"),
        action=action,
        subject_type="invoice",
        subject_id=invoice.id,
        details={"message": message, "number": invoice.number, **(details or {})},
    )


def org_today(org: Org, now: datetime | None = None) -> date:
    return today_in(org.timezone, now)


def mark_overdue(session: Session, *, now: datetime | None = None) -> int:
    """Every org's sent invoices whose due date has passed in the org's time zone become
    overdue (audited). Returns how many moved."""
    now = now or utcnow()
    candidates = session.execute(
        select(Org)
        .where(
            Org.id.in_(
                select(Invoice.org_id).where(
                    Invoice.status == InvoiceStatus.sent.value,
                    Invoice.due_date.is_not(None),
                    Invoice.due_date < now.date() + timedelta(days=1),
                )
            )
        )
        .order_by(Org.id)
    ).scalars()
    moved = 0
    for org in list(candidates):
        today = org_today(org, now)
        rows = session.execute(
            update(Invoice)
            .where(
                Invoice.org_id == org.id,
                Invoice.status == InvoiceStatus.sent.value,
                Invoice.due_date < today,
            )
            .values(status=InvoiceStatus.overdue.value, overdue_at=now, updated_at=now)
            .returning(Invoice.id, Invoice.number, Invoice.due_date)
            .execution_options(synchronize_session=False)
        ).all()
        for invoice_id, number, due in rows:
            record(
                session,
                org_id=org.id,
                actor=Actor.system(),
                action="invoice.overdue",
                subject_type="invoice",
                subject_id=invoice_id,
                details={"number": number, "due_date": due.isoformat() if due else None},
            )
        moved += len(rows)
    return moved


def mark_void(
    session: Session, *, org: Org, actor: Actor, invoice: Invoice, release_entries: bool
) -> Invoice:
    """draft|sent|overdue → void; the entries are released for re-billing when asked."""
    moved = _transition(
        session,
        org_id=org.id,
        where=[Invoice.id == invoice.id],
        from_states=VOIDABLE,
        values={"status": InvoiceStatus.void.value, "voided_at": utcnow()},
    )
    if moved is None:
        session.refresh(invoice)
        raise not_voidable(invoice)
    released = unlink_entries(session, moved) if release_entries else 0
    record(
        session,
        org_id=org.id,
        actor=actor,
        action="invoice.voided",
        subject_type="invoice",
        subject_id=moved.id,
        details={"number": moved.number, "released_entries": released},
    )
    if moved.sent_at is not None:  # a draft was never mirrored
        hand_to_bookkeeping(session, org_id=moved.org_id, invoice_id=moved.id, task=VOID_TASK)
    return moved


def not_voidable(invoice: Invoice) -> Conflict:
    if invoice.status == InvoiceStatus.paid.value:
        return InvoicePaid(
            f"invoice {invoice.number} is paid and cannot be voided: refund the payment in "
            "Stripe instead"
        )
    return InvoiceVoid(f"invoice {invoice.number} is already void")
