"""Invoices: approved time becomes a draft, and a draft is edited (lines, terms, memo).

Status changes (sent, paid, overdue, void) are in `invoices.transitions`; sending and voiding
in Stripe live in `integrations/stripe/sending.py`, which calls them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from regentra.agreements import billing as agreement_billing
from regentra.audit.service import Actor, record
from regentra.catalog import service as catalog
from regentra.clients.errors import UnknownClient
from regentra.clients.service import clients
from regentra.errors import Invalid, NotFound
from regentra.invoices.errors import (
    EntriesNotBillable,
    InvoiceNotDraft,
    NothingToInvoice,
    SendInProgress,
)
from regentra.invoices.schemas import InvoiceCreate, InvoiceUpdate, LineCreate, PreviewLine
from regentra.kit.ids import new_id
from regentra.kit.money import amount_for, format_money, line_amount, maximum_charge
from regentra.kit.pagination import Page, paginate
from regentra.kit.time import utcnow
from regentra.models import (
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
    payment_failed: bool = False,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[Invoice]:
    """The org's invoices, newest first; `payment_failed`: only open ones whose client's last
    payment failed (`payment_failure` noted, cleared when paid)."""
    stmt = invoices.select(org_id)
    if status is not None:
        if status not in {s.value for s in InvoiceStatus}:
            raise Invalid(f"status must be one of: {', '.join(s.value for s in InvoiceStatus)}")
        stmt = stmt.where(Invoice.status == status)
    if client_id is not None:
        stmt = stmt.where(Invoice.client_id == client_id)
    if payment_failed:
        stmt = stmt.where(*_PAYMENT_FAILED)
    return paginate(session, stmt, Invoice.id, limit=limit, cursor=cursor)


# An open invoice whose last payment attempt failed (the reason is shown until it is paid).
_PAYMENT_FAILED = (Invoice.status.in_(OPEN), Invoice.payment_failure.is_not(None))


def count_payment_failed(session: Session, *, org_id: uuid.UUID) -> int:
    """How many of the org's open invoices have a failed last payment."""
    stmt = invoices.select(org_id).where(*_PAYMENT_FAILED)
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


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
    where = _billable(org_id, period_start=period_start, period_end=period_end)
    where += [TimeEntry.client_id == client.id, TimeEntry.currency == client.currency]
    if entry_ids is not None:
        where.append(TimeEntry.id.in_(entry_ids))
    return where


def _billable(
    org_id: uuid.UUID, *, period_start: date | None = None, period_end: date | None = None
) -> list[Any]:
    """WHERE clauses for the org's approved, billable, uninvoiced entries (of the period)."""
    where: list[Any] = [
        TimeEntry.org_id == org_id,
        TimeEntry.status == EntryStatus.approved.value,
        TimeEntry.billable.is_(True),
        TimeEntry.invoice_id.is_(None),
    ]
    if period_start is not None:
        where.append(TimeEntry.work_date >= period_start)
    if period_end is not None:
        where.append(TimeEntry.work_date <= period_end)
    return where


@dataclass
class Unbilled:
    """A client's approved, billable, uninvoiced time: what generating would bill it."""

    client_id: uuid.UUID
    name: str
    currency: str
    entries: int = 0
    minutes: int = 0
    amount: int = 0  # minor units, `amount_for` per entry


def unbilled(
    session: Session,
    *,
    org_id: uuid.UUID,
    period_start: date | None = None,
    period_end: date | None = None,
) -> list[Unbilled]:
    """Every client's unbilled time (of the period), in its currency, by client name. Read
    grouped by minutes and rate, so the amounts are exact per entry without reading every
    entry."""
    rows = session.execute(
        select(
            Client.id,
            Client.name,
            Client.currency,
            TimeEntry.minutes,
            TimeEntry.hourly_rate,
            func.count(),
        )
        .join(Client, (Client.id == TimeEntry.client_id) & (Client.org_id == org_id))
        .where(
            *_billable(org_id, period_start=period_start, period_end=period_end),
            TimeEntry.currency == Client.currency,
        )
        .group_by(Client.id, Client.name, Client.currency, TimeEntry.minutes, TimeEntry.hourly_rate)
    )
    by: dict[uuid.UUID, Unbilled] = {}
    for client_id, name, currency, minutes, rate, count in rows:
        found = by.setdefault(client_id, Unbilled(client_id, name, currency))
        found.entries += count
        found.minutes += minutes * count
        found.amount += amount_for(rate, minutes, currency) * count
    return sorted(by.values(), key=lambda u: (u.name.lower(), str(u.client_id)))


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
class Preview:
    client: Client
    lines: list[PreviewLine]
    total: int

    @property
    def currency(self) -> str:
        return self.client.currency


def _preview_lines(rows: Any, currency: str) -> list[PreviewLine]:
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
            amount=amount_for(r[7], r[6], currency),
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
    found = _preview_lines(session.execute(_line_rows_stmt(org.id, where)), client.currency)
    return Preview(client=client, lines=found, total=sum(line.amount for line in found))


def _client(session: Session, org: Org, client_id: uuid.UUID) -> Client:
    client = clients.find(session, org_id=org.id, id=client_id)
    if client is None:
        raise UnknownClient("client_id does not match any client")
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


def generate(
    session: Session,
    *,
    org: Org,
    user: User,
    data: InvoiceCreate,
    agreements_through: date | None = None,
    separate_agreement: uuid.UUID | None = None,
) -> Invoice:
    """A draft holding the client's approved, billable, uninvoiced entries of the period (or
    exactly `entry_ids`), their minutes covered by the client's agreements' included hours
    (`agreements.billing`); with `agreements_through` (a run's last day), also every
    agreement period a run ending then bills. The entries are claimed with one conditional
    UPDATE, and each agreement period written once (unique), so two generations racing for
    one client can never bill an entry or a period twice. `separate_agreement`: only that
    agreement's periods (one billed on its own invoice), no time."""
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
    claimed = 0
    if separate_agreement is None:
        claim = session.execute(
            update(TimeEntry)
            .where(*where)
            .values(invoice_id=invoice.id, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        claimed = int(getattr(claim, "rowcount", 0) or 0)
    if entry_ids is not None and claimed != len(entry_ids):
        raise EntriesNotBillable(
            f"{len(entry_ids) - claimed} of the {len(entry_ids)} entries cannot be billed to "
            f"{client.name}: each must be approved, billable, not yet invoiced, this client's "
            f"and in {client.currency}",
        )
    charges = (
        agreement_billing.due_charges(
            session,
            org_id=org.id,
            client_id=client.id,
            currency=client.currency,
            through=agreements_through,
            separate=separate_agreement,
        )
        if agreements_through is not None
        else []
    )
    if claimed == 0 and not charges:
        raise NothingToInvoice(
            f"{client.name} has no approved, billable, uninvoiced time"
            + (" in that period" if data.period_start or data.period_end else "")
            + ": approve time first, or choose another period",
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
    total, position = agreement_billing.bill(
        session,
        invoice,
        [c for c in charges if c.adjusts is None],
        position=0,
        check=lambda amount, what: check_maximum(amount, invoice.currency, what),
    )
    coverage = agreement_billing.Coverage(session, org_id=org.id, client_id=client.id)
    for batch in rows.partitions():
        values: list[dict[str, Any]] = []
        for line in _preview_lines(batch, invoice.currency):
            position += 1
            covered = None
            amount, rate = line.amount, line.hourly_rate
            if coverage:
                covered = coverage.cover(line.work_date, line.minutes, rate, invoice.currency)
                amount, rate = covered.amount, covered.rate
            check_maximum(amount, invoice.currency, f"Line {position}'s amount")
            total += amount
            check_maximum(total, invoice.currency, "The invoice's total")
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
                    "unit_amount": rate,
                    "amount": amount,
                    "agreement_id": covered.agreement_id if covered else None,
                    "covered_minutes": covered.covered_minutes or None if covered else None,
                }
            )
        connection.execute(lines_stmt, values)
    total, position = agreement_billing.adjust(
        session,
        invoice,
        [c for c in charges if c.adjusts is not None],
        total=total,
        position=position,
    )
    if position == 0:  # only a credit, which waits for an invoice to take it
        raise NothingToInvoice(f"{client.name} has nothing to bill but a credit: it waits")
    check_maximum(total, invoice.currency, "The invoice's total")
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
        raise InvoiceNotDraft(
            f"invoice {invoice.number} is {invoice.status}: only drafts can be changed",
        )
    if invoice.stripe_invoice_id is not None:
        raise SendInProgress(
            f"sending invoice {invoice.number} was started and did not finish: send it again "
            "to complete it, or void it",
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
        item = catalog.priced_item(
            session,
            org_id=org.id,
            item_id=data.catalog_item_id,
            currency=invoice.currency,
            what="this invoice",
        )
        assert item.unit_amount is not None
        line = InvoiceLine(
            org_id=org.id,
            invoice_id=invoice.id,
            position=position,
            kind=LineKind.catalog.value,
            description=(data.description or "").strip() or item.name,
            catalog_item_id=item.id,
            quantity=data.quantity,
            unit_amount=item.unit_amount,
            amount=line_amount(item.unit_amount, data.quantity, invoice.currency),
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
            amount=line_amount(data.unit_amount, data.quantity, invoice.currency),
        )
    session.add(line)
    session.flush()
    return _lines_changed(session, invoice, user=user, action="invoice.line_added", line=line)


def remove_line(
    session: Session, *, org: Org, user: User, invoice_id: uuid.UUID, line_id: uuid.UUID
) -> Invoice:
    """Remove a line; a time line's entry is released (billable again)."""
    invoice = _editable_draft(session, org_id=org.id, invoice_id=invoice_id)
    line = invoice_lines.find(session, org_id=org.id, id=line_id)
    if line is None or line.invoice_id != invoice.id:
        raise NotFound("invoice line not found")
    if line.time_entry_id is not None:
        unlink_entries(session, invoice, entry_ids=[line.time_entry_id])
    if line.kind == LineKind.agreement.value:
        # An agreement is billed whole on a draft or not at all: its other lines go too,
        # its periods are released and its adjustments undone, for the next run.
        agreement_billing.release(session, invoice, agreement_id=line.agreement_id)
        session.execute(
            delete(InvoiceLine).where(
                InvoiceLine.org_id == org.id,
                InvoiceLine.invoice_id == invoice.id,
                InvoiceLine.kind == LineKind.agreement.value,
                InvoiceLine.agreement_id == line.agreement_id,
                InvoiceLine.id != line.id,
            )
        )
    session.delete(line)
    session.flush()
    return _lines_changed(session, invoice, user=user, action="invoice.line_removed", line=line)


def check_maximum(amount: int, currency: str, what: str) -> None:
    """A line or an invoice total above Stripe's maximum charge could never be paid: 422."""
    limit = maximum_charge(currency)
    if amount > limit:
        raise Invalid(
            f"{what} would be {format_money(amount, currency)}, over Stripe's maximum charge "
            f"of {format_money(limit, currency)}: split it across invoices."
        )


def _lines_changed(
    session: Session, invoice: Invoice, *, user: User, action: str, line: InvoiceLine
) -> Invoice:
    """After a line was added or removed: the total again, and the audit entry."""
    _retotal(session, invoice)
    if action == "invoice.line_added":
        check_maximum(line.amount, invoice.currency, "The line's amount")
        check_maximum(invoice.total, invoice.currency, "The invoice's total")
    record(
        session,
        org_id=invoice.org_id,
        actor=Actor.of(user),
        action=action,
        subject_type="invoice",
        subject_id=invoice.id,
        details={"line_id": str(line.id), "kind": line.kind, "amount": line.amount},
    )
    return invoice


def unlink_entries(
    session: Session, invoice: Invoice, *, entry_ids: list[uuid.UUID] | None = None
) -> int:
    stmt = update(TimeEntry).where(
        TimeEntry.org_id == invoice.org_id, TimeEntry.invoice_id == invoice.id
    )
    if entry_ids is not None:
        stmt = stmt.where(TimeEntry.id.in_(entry_ids))
    else:  # the whole invoice goes: its agreement periods can be billed again
        agreement_billing.release(session, invoice)
    result = session.execute(
        stmt.values(invoice_id=None, updated_at=utcnow()).execution_options(
            synchronize_session=False
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delete_draft(session: Session, *, org: Org, user: User, invoice_id: uuid.UUID) -> None:
    """Delete a draft and release its entries. Its number is not reused."""
    invoice = _editable_draft(session, org_id=org.id, invoice_id=invoice_id)
    released = unlink_entries(session, invoice)
    for line in lines_of(session, invoice):
        session.delete(line)
    # Lines first: the unit of work does not order the two tables (no relationship), and
    # the database's ON DELETE CASCADE would otherwise remove the lines under it.
    session.flush()
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
