"""Invoices: approved time becomes a draft, a draft is edited, then sent, paid, overdue, void.

The domain part only: sending and voiding in Stripe live in `integrations/stripe/sending.py`,
which calls the transitions here. Every status change is one conditional UPDATE
(`WHERE status IN (...)`), so a webhook, a reconciliation run and a person racing each other
apply a transition exactly once, and only the winner writes the audit entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.catalog import service as catalog
from regentra.clients.service import clients
from regentra.errors import Conflict, Invalid, NotFound
from regentra.invoices.schemas import InvoiceCreate, InvoiceUpdate, LineCreate
from regentra.kit.ids import new_id
from regentra.kit.money import amount_for
from regentra.kit.pagination import Page, paginate
from regentra.kit.time import utcnow
from regentra.models import (
    ActorType,
    AuditEvent,
    Client,
    EntryStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Org,
    Ticket,
    TimeEntry,
    User,
)
from regentra.orgs.repository import OrgScopedRepository

invoices = OrgScopedRepository(Invoice, "invoice")
invoice_lines = OrgScopedRepository(InvoiceLine, "invoice line")

NUMBER_FORMAT = "INV-{:06d}"
OPEN = (InvoiceStatus.sent.value, InvoiceStatus.overdue.value)
VOIDABLE = (InvoiceStatus.draft.value, *OPEN)
# The task a later issue implements: record the payment (and Stripe's fee) in QuickBooks.
PAYMENT_BRIDGE_TASK = "quickbooks.record_payment"


# ---- reading ----------------------------------------------------------------------------------


def get(session: Session, *, org_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    return invoices.get(session, org_id=org_id, id=invoice_id)


def lines_of(session: Session, invoice: Invoice) -> list[InvoiceLine]:
    stmt = (
        invoice_lines.select(invoice.org_id)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.position)
    )
    return list(session.scalars(stmt))


def find_by_stripe_id(
    session: Session, *, org_id: uuid.UUID, stripe_invoice_id: str
) -> Invoice | None:
    """Our invoice for a Stripe invoice id, looked up within one org only."""
    return session.scalar(
        invoices.select(org_id).where(Invoice.stripe_invoice_id == stripe_invoice_id)
    )


def list_invoices(
    session: Session,
    *,
    org_id: uuid.UUID,
    status: str | None = None,
    client_id: uuid.UUID | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[Invoice]:
    stmt = invoices.select(org_id)
    if status is not None:
        if status not in {s.value for s in InvoiceStatus}:
            raise Invalid(f"status must be one of: {', '.join(s.value for s in InvoiceStatus)}")
        stmt = stmt.where(Invoice.status == status)
    if client_id is not None:
        stmt = stmt.where(Invoice.client_id == client_id)
    return paginate(session, stmt, Invoice.id, limit=limit, cursor=cursor)


def timeline(session: Session, *, invoice: Invoice) -> list[AuditEvent]:
    """The invoice's audit entries, oldest first: its status history."""
    stmt = (
        select(AuditEvent)
        .where(
            AuditEvent.org_id == invoice.org_id,
            AuditEvent.subject_type == "invoice",
            AuditEvent.subject_id == str(invoice.id),
        )
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return list(session.scalars(stmt))


def open_invoices(session: Session, *, org_id: uuid.UUID) -> list[Invoice]:
    """Sent and overdue invoices that have a Stripe invoice: what reconciliation checks."""
    stmt = invoices.select(org_id).where(
        Invoice.status.in_(OPEN), Invoice.stripe_invoice_id.is_not(None)
    )
    return list(session.scalars(stmt))


# ---- generating ------------------------------------------------------------------------------


def _eligible(
    org_id: uuid.UUID,
    client: Client,
    *,
    period_start: date | None,
    period_end: date | None,
    entry_ids: list[uuid.UUID] | None,
) -> list[Any]:
    """WHERE clauses for a client's approved, billable, uninvoiced entries."""
    where: list[Any] = [
        TimeEntry.org_id == org_id,
        TimeEntry.client_id == client.id,
        TimeEntry.status == EntryStatus.approved.value,
        TimeEntry.billable.is_(True),
        TimeEntry.invoice_id.is_(None),
        TimeEntry.currency == client.currency,
    ]
    if period_start is not None:
        where.append(TimeEntry.work_date >= period_start)
    if period_end is not None:
        where.append(TimeEntry.work_date <= period_end)
    if entry_ids is not None:
        where.append(TimeEntry.id.in_(entry_ids))
    return where


def _line_rows_stmt(org_id: uuid.UUID, where: list[Any]) -> Any:
    return (
        select(
            TimeEntry.id,
            TimeEntry.work_date,
            TimeEntry.ticket_id,
            Ticket.title,
            TimeEntry.technician_id,
            func.coalesce(func.nullif(User.name, ""), User.email),
            TimeEntry.minutes,
            TimeEntry.hourly_rate,
            TimeEntry.description,
        )
        .join(Ticket, (Ticket.id == TimeEntry.ticket_id) & (Ticket.org_id == org_id))
        .join(User, (User.id == TimeEntry.technician_id) & (User.org_id == org_id))
        .where(*where)
        .order_by(TimeEntry.work_date, TimeEntry.id)
    )


@dataclass(frozen=True)
class PreviewLine:
    time_entry_id: uuid.UUID
    work_date: date
    ticket_id: uuid.UUID
    ticket_title: str
    technician_id: uuid.UUID
    technician_name: str
    minutes: int
    hourly_rate: int
    amount: int
    description: str


@dataclass(frozen=True)
class Preview:
    client: Client
    lines: list[PreviewLine]
    total: int

    @property
    def currency(self) -> str:
        return self.client.currency


def _preview_lines(rows: Any) -> list[PreviewLine]:
    return [
        PreviewLine(
            time_entry_id=r[0],
            work_date=r[1],
            ticket_id=r[2],
            ticket_title=r[3],
            technician_id=r[4],
            technician_name=r[5],
            minutes=r[6],
            hourly_rate=r[7],
            amount=amount_for(r[7], r[6]),
            description=r[8],
        )
        for r in rows
    ]


def preview(
    session: Session,
    *,
    org: Org,
    client_id: uuid.UUID,
    period_start: date | None = None,
    period_end: date | None = None,
) -> Preview:
    """What generating would bill now (nothing is locked)."""
    if period_start and period_end and period_start > period_end:
        raise Invalid("period_start must not be after period_end")
    client = clients.get(session, org_id=org.id, id=client_id)
    where = _eligible(
        org.id, client, period_start=period_start, period_end=period_end, entry_ids=None
    )
    found = _preview_lines(session.execute(_line_rows_stmt(org.id, where)))
    return Preview(client=client, lines=found, total=sum(line.amount for line in found))


def _client(session: Session, org: Org, client_id: uuid.UUID) -> Client:
    client = clients.find(session, org_id=org.id, id=client_id)
    if client is None:
        raise Invalid("client_id does not match any client", code="unknown_client")
    return client


def _take_number(session: Session, org_id: uuid.UUID) -> str:
    """The org's next number. The UPDATE locks the org's row until commit (PostgreSQL), so
    generations within one org queue here; SQLite's BEGIN IMMEDIATE already serializes."""
    taken = session.execute(
        update(Org)
        .where(Org.id == org_id)
        .values(next_invoice_number=Org.next_invoice_number + 1)
        .returning(Org.next_invoice_number)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return NUMBER_FORMAT.format(taken - 1)


def generate(session: Session, *, org: Org, user: User, data: InvoiceCreate) -> Invoice:
    """A draft holding the client's approved, billable, uninvoiced entries of the period (or
    exactly `entry_ids`). The entries are claimed with one conditional UPDATE, so two
    generations racing for one client can never bill an entry twice."""
    client = _client(session, org, data.client_id)
    number = _take_number(session, org.id)
    invoice = Invoice(
        id=new_id(),
        org_id=org.id,
        client_id=client.id,
        number=number,
        status=InvoiceStatus.draft.value,
        currency=client.currency,
        total=0,
        period_start=data.period_start,
        period_end=data.period_end,
        days_until_due=(
            data.days_until_due if data.days_until_due is not None else org.default_days_until_due
        ),
        memo=(data.memo or "").strip(),
        created_by_id=user.id,
    )
    session.add(invoice)
    session.flush()
    entry_ids = list(dict.fromkeys(data.entry_ids)) if data.entry_ids is not None else None
    where = _eligible(
        org.id,
        client,
        period_start=data.period_start,
        period_end=data.period_end,
        entry_ids=entry_ids,
    )
    claim = session.execute(
        update(TimeEntry)
        .where(*where)
        .values(invoice_id=invoice.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    claimed = int(getattr(claim, "rowcount", 0) or 0)
    if entry_ids is not None and claimed != len(entry_ids):
        raise Conflict(
            f"{len(entry_ids) - claimed} of the {len(entry_ids)} entries cannot be billed to "
            f"{client.name}: each must be approved, billable, not yet invoiced, this client's "
            f"and in {client.currency}",
            code="entries_not_billable",
        )
    if claimed == 0:
        raise Conflict(
            f"{client.name} has no approved, billable, uninvoiced time"
            + (" in that period" if data.period_start or data.period_end else "")
            + ": approve time first, or choose another period",
            code="nothing_to_invoice",
        )
    # The entries just claimed, found through the billing index (org, client, status,
    # invoice): by org and invoice alone, SQLite without statistics reads every entry of the org.
    claimed_here = [
        TimeEntry.org_id == org.id,
        TimeEntry.client_id == client.id,
        TimeEntry.status == EntryStatus.approved.value,
        TimeEntry.invoice_id == invoice.id,
    ]
    # Streamed and written 1,000 lines at a time, so memory stays flat however many entries an
    # invoice bills; Core executemany on the session's connection skips the ORM's per-row work.
    rows_stmt = _line_rows_stmt(org.id, claimed_here).execution_options(yield_per=1000)
    rows = session.execute(rows_stmt)
    lines_stmt = insert(InvoiceLine)
    connection = session.connection()
    total = 0
    position = 0
    for batch in rows.partitions():
        values: list[dict[str, Any]] = []
        for line in _preview_lines(batch):
            position += 1
            total += line.amount
            values.append(
                {
                    "id": new_id(),
                    "org_id": org.id,
                    "invoice_id": invoice.id,
                    "position": position,
                    "kind": LineKind.time.value,
                    "description": line.description,
                    "time_entry_id": line.time_entry_id,
                    "work_date": line.work_date,
                    "ticket_id": line.ticket_id,
                    "ticket_title": line.ticket_title,
                    "technician_id": line.technician_id,
                    "technician_name": line.technician_name,
                    "minutes": line.minutes,
                    "quantity": 1,
                    "unit_amount": line.hourly_rate,
                    "amount": line.amount,
                }
            )
        connection.execute(lines_stmt, values)
    invoice.total = total
    session.flush()
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice.created",
        subject_type="invoice",
        subject_id=invoice.id,
        details={"number": number, "lines": position, "total": total},
    )
    return invoice


# ---- editing drafts --------------------------------------------------------------------------


def _editable_draft(session: Session, *, org_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    invoice = invoices.get(session, org_id=org_id, id=invoice_id, lock=True)
    if invoice.status != InvoiceStatus.draft.value:
        raise Conflict(
            f"invoice {invoice.number} is {invoice.status}: only drafts can be changed",
            code="not_draft",
        )
    if invoice.stripe_invoice_id is not None:
        raise Conflict(
            f"sending invoice {invoice.number} was started and did not finish: send it again "
            "to complete it, or void it",
            code="send_in_progress",
        )
    return invoice


def _retotal(session: Session, invoice: Invoice) -> None:
    total = session.scalar(
        select(func.coalesce(func.sum(InvoiceLine.amount), 0)).where(
            InvoiceLine.org_id == invoice.org_id, InvoiceLine.invoice_id == invoice.id
        )
    )
    invoice.total = int(total or 0)
    session.flush()


def update_draft(
    session: Session, *, org: Org, user: User, invoice_id: uuid.UUID, data: InvoiceUpdate
) -> Invoice:
    invoice = _editable_draft(session, org_id=org.id, invoice_id=invoice_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("days_until_due", 0) is None:
        raise Invalid("days_until_due cannot be null")
    if "memo" in changes:
        changes["memo"] = (changes["memo"] or "").strip()
    for name, value in changes.items():
        setattr(invoice, name, value)
    session.flush()
    if changes:
        record(
            session,
            org_id=org.id,
            actor=Actor.of(user),
            action="invoice.updated",
            subject_type="invoice",
            subject_id=invoice.id,
            details={"changed": sorted(changes)},
        )
    return invoice


def add_line(
    session: Session, *, org: Org, user: User, invoice_id: uuid.UUID, data: LineCreate
) -> Invoice:
    invoice = _editable_draft(session, org_id=org.id, invoice_id=invoice_id)
    position = (
        session.scalar(
            select(func.coalesce(func.max(InvoiceLine.position), 0)).where(
                InvoiceLine.org_id == org.id, InvoiceLine.invoice_id == invoice.id
            )
        )
        or 0
    ) + 1
    if data.catalog_item_id is not None:
        item = catalog.items.find(session, org_id=org.id, id=data.catalog_item_id)
        if item is None:
            raise Invalid("catalog_item_id does not match any catalog item", code="unknown_item")
        if not item.active:
            raise Invalid(f"catalog item '{item.name}' is inactive", code="item_inactive")
        if item.unit_amount is None or item.currency is None:
            raise Invalid(f"catalog item '{item.name}' has no price", code="item_unpriced")
        if item.currency != invoice.currency:
            raise Invalid(
                f"catalog item '{item.name}' is priced in {item.currency} but this invoice is "
                f"in {invoice.currency}",
                code="item_currency",
            )
        line = InvoiceLine(
            org_id=org.id,
            invoice_id=invoice.id,
            position=position,
            kind=LineKind.catalog.value,
            description=(data.description or "").strip() or item.name,
            catalog_item_id=item.id,
            quantity=data.quantity,
            unit_amount=item.unit_amount,
            amount=item.unit_amount * data.quantity,
        )
    else:
        assert data.unit_amount is not None  # the schema requires it for manual lines
        line = InvoiceLine(
            org_id=org.id,
            invoice_id=invoice.id,
            position=position,
            kind=LineKind.manual.value,
            description=(data.description or "").strip(),
            quantity=data.quantity,
            unit_amount=data.unit_amount,
            amount=data.unit_amount * data.quantity,
        )
    session.add(line)
    session.flush()
    _retotal(session, invoice)
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice.line_added",
        subject_type="invoice",
        subject_id=invoice.id,
        details={"line_id": str(line.id), "kind": line.kind, "amount": line.amount},
    )
    return invoice


def remove_line(
    session: Session, *, org: Org, user: User, invoice_id: uuid.UUID, line_id: uuid.UUID
) -> Invoice:
    """Remove a line; a time line's entry is released (billable again)."""
    invoice = _editable_draft(session, org_id=org.id, invoice_id=invoice_id)
    line = invoice_lines.find(session, org_id=org.id, id=line_id)
    if line is None or line.invoice_id != invoice.id:
        raise NotFound("invoice line not found")
    if line.time_entry_id is not None:
        _release(session, invoice, entry_ids=[line.time_entry_id])
    session.delete(line)
    session.flush()
    _retotal(session, invoice)
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice.line_removed",
        subject_type="invoice",
        subject_id=invoice.id,
        details={"line_id": str(line_id), "kind": line.kind, "amount": line.amount},
    )
    return invoice


def _release(
    session: Session, invoice: Invoice, *, entry_ids: list[uuid.UUID] | None = None
) -> int:
    stmt = update(TimeEntry).where(
        TimeEntry.org_id == invoice.org_id, TimeEntry.invoice_id == invoice.id
    )
    if entry_ids is not None:
        stmt = stmt.where(TimeEntry.id.in_(entry_ids))
    result = session.execute(
        stmt.values(invoice_id=None, updated_at=utcnow()).execution_options(
            synchronize_session=False
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delete_draft(session: Session, *, org: Org, user: User, invoice_id: uuid.UUID) -> None:
    """Delete a draft and release its entries. Its number is not reused."""
    invoice = _editable_draft(session, org_id=org.id, invoice_id=invoice_id)
    released = _release(session, invoice)
    for line in lines_of(session, invoice):
        session.delete(line)
    session.delete(invoice)
    session.flush()
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice.deleted",
        subject_type="invoice",
        subject_id=invoice_id,
        details={"number": invoice.number, "released_entries": released},
    )


# ---- transitions -------------------------------------------------------------------------------


def _transition(
    session: Session,
    *,
    org_id: uuid.UUID,
    where: list[Any],
    from_states: tuple[str, ...],
    values: dict[str, Any],
) -> Invoice | None:
    """One conditional UPDATE; the invoice when this call moved it, else None."""
    row = session.execute(
        update(Invoice)
        .where(Invoice.org_id == org_id, Invoice.status.in_(from_states), *where)
        .values(**values, updated_at=utcnow())
        .returning(Invoice.id)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return None
    invoice = invoices.get(session, org_id=org_id, id=row[0])
    session.refresh(invoice)
    return invoice


def note_stripe_invoice(session: Session, *, invoice: Invoice, stripe_invoice_id: str) -> None:
    """Remember the Stripe invoice as soon as it exists (a send that fails later resumes)."""
    session.execute(
        update(Invoice)
        .where(
            Invoice.org_id == invoice.org_id,
            Invoice.id == invoice.id,
            Invoice.status == InvoiceStatus.draft.value,
        )
        .values(stripe_invoice_id=stripe_invoice_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(invoice)


def mark_sent(
    session: Session,
    *,
    invoice: Invoice,
    actor: Actor,
    stripe_invoice_id: str,
    hosted_invoice_url: str | None,
    due_date: date | None,
) -> Invoice:
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
    return moved


PAID_BY = {
    "webhook": "payment received (Stripe webhook)",
    "reconciliation": "payment found by reconciliation",
}


def mark_paid(
    session: Session,
    *,
    org_id: uuid.UUID,
    stripe_invoice_id: str,
    paid_at: datetime,
    amount_paid: int | None,
    source: str,
    stripe_event_id: str | None = None,
) -> Invoice | None:
    """sent|overdue → paid for our invoice with this Stripe id in this org. None when there
    is no such invoice or it was not open (already paid: a duplicate, a race, or void)."""
    if source not in PAID_BY:
        raise ValueError(f"unknown payment source {source!r}")
    invoice = _transition(
        session,
        org_id=org_id,
        where=[Invoice.stripe_invoice_id == stripe_invoice_id],
        from_states=OPEN,
        values={
            "status": InvoiceStatus.paid.value,
            "paid_at": paid_at,
            "amount_paid": amount_paid,
            "payment_processing_at": None,
        },
    )
    if invoice is None:
        return None
    if invoice.amount_paid is None:
        invoice.amount_paid = invoice.total
        session.flush()
    record(
        session,
        org_id=org_id,
        actor=Actor(type=ActorType.stripe, label=f"Stripe ({source})"),
        action="invoice.paid",
        subject_type="invoice",
        subject_id=invoice.id,
        details={
            "message": PAID_BY[source],
            "number": invoice.number,
            "amount_paid": invoice.amount_paid,
            "stripe_invoice_id": stripe_invoice_id,
            **({"stripe_event_id": stripe_event_id} if stripe_event_id else {}),
        },
    )
    _hand_to_bookkeeping(session, invoice)
    return invoice


def quickbooks_connected(session: Session, *, org_id: uuid.UUID) -> bool:
    """Whether the org has QuickBooks Online connected. No org can connect it yet: the
    QuickBooks issue replaces this with a look at its connection table."""
    return False


def _hand_to_bookkeeping(session: Session, invoice: Invoice) -> None:
    """The one hook for the QuickBooks payment bridge: a paid invoice (however we learnt it)
    is enqueued by task name, after commit, when the org has QuickBooks connected."""
    if quickbooks_connected(session, org_id=invoice.org_id):
        queue.enqueue(session, PAYMENT_BRIDGE_TASK, str(invoice.id))


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
    return (now or utcnow()).astimezone(ZoneInfo(org.timezone)).date()


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
    released = _release(session, moved) if release_entries else 0
    record(
        session,
        org_id=org.id,
        actor=actor,
        action="invoice.voided",
        subject_type="invoice",
        subject_id=moved.id,
        details={"number": moved.number, "released_entries": released},
    )
    return moved


def not_voidable(invoice: Invoice) -> Conflict:
    if invoice.status == InvoiceStatus.paid.value:
        return Conflict(
            f"invoice {invoice.number} is paid and cannot be voided: refund the payment in "
            "Stripe instead",
            code="invoice_paid",
        )
    return Conflict(f"invoice {invoice.number} is already void", code="invoice_void")
