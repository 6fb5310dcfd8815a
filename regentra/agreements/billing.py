"""What an agreement bills: its periods, each period's charge (prorated by days), and the
time its included hours cover.

**Periods** are calendar-aligned: a month, a calendar quarter (Jan, Apr, Jul, Oct) or a
calendar year. An agreement starting or ending inside a period is charged for its days in
it: `quantity x unit price x days / days in the period`, per stretch of days with the same
terms (a quantity or price change from a date), summed exactly and rounded once, half up.

**Due** for a run whose period ends on day T: an agreement billed in arrears bills every
unbilled period ending on or before T; in advance, every unbilled period starting on or
before T + 1 day (the run for November bills December). A period is billed once: the
`agreement_billings` row (unique per agreement and period start) is written with the lines.

**Included hours**: entries are covered in work-date order (then creation), within the
period holding their work date, up to the period's included minutes (plus, when the
agreement rolls over, what the previous period left unused) less what other invoices of the
period already covered; the entry crossing the limit is split into covered and billable
minutes; time beyond is charged at the agreement's rate, else the entry's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from regentra.kit.ids import new_id
from regentra.kit.money import amount_for, format_money, round_minor
from regentra.models import (
    Agreement,
    AgreementBillingRecord,
    AgreementLine,
    AgreementTerm,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    QuantityRule,
    Ticket,
    TicketStatus,
)
from regentra.models.agreement import MONTHS_OF

# How far back a run looks for an agreement's unbilled periods (a missed month is billed by
# the next run; an agreement dated years back is not billed for every year since).
MAX_PERIODS_BACK = 24


def add_months(day: date, months: int) -> date:
    """The first of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_of(kind: str, day: date) -> tuple[date, date]:
    """The calendar period of `kind` (monthly, quarterly, yearly) holding `day`."""
    months = MONTHS_OF[kind]
    first = ((day.month - 1) // months) * months + 1
    start = date(day.year, first, 1)
    return start, add_months(start, months) - timedelta(days=1)


def period_label(kind: str, start: date) -> str:
    if kind == "monthly":
        return start.strftime("%B %Y")
    if kind == "quarterly":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return str(start.year)


def due_periods(agreement: Agreement, *, through: date) -> list[tuple[date, date]]:
    """The periods a run ending on `through` bills for `agreement` (billed ones included:
    the caller leaves those out)."""
    limit = through if agreement.billing == "arrears" else through + timedelta(days=1)
    found: list[tuple[date, date]] = []
    start, end = period_of(agreement.period, agreement.starts_on)
    while True:
        if agreement.ends_on is not None and start > agreement.ends_on:
            break
        if (end if agreement.billing == "arrears" else start) > limit:
            break
        found.append((start, end))
        start, end = period_of(agreement.period, end + timedelta(days=1))
    return found[-MAX_PERIODS_BACK:]


@dataclass
class ChargeLine:
    agreement_id: uuid.UUID
    catalog_item_id: uuid.UUID | None
    description: str
    quantity: int
    unit_amount: int
    amount: int
    counted: bool = False  # its quantity counted when billed (open tickets): never adjusted


@dataclass
class Charge:
    """One agreement period as it would be billed now; or, with `adjusts`, the change to a
    period billed already (a credit when negative)."""

    agreement: Agreement
    start: date
    end: date
    lines: list[ChargeLine] = field(default_factory=list)
    adjusts: AgreementBillingRecord | None = None

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def fixed_total(self) -> int:
        return sum(line.amount for line in self.lines if not line.counted)


def terms_of(session: Session, line: AgreementLine) -> list[AgreementTerm]:
    return list(
        session.scalars(
            select(AgreementTerm)
            .where(AgreementTerm.org_id == line.org_id, AgreementTerm.line_id == line.id)
            .order_by(AgreementTerm.effective_from)
        )
    )


def lines_of(session: Session, agreement: Agreement) -> list[AgreementLine]:
    return list(
        session.scalars(
            select(AgreementLine)
            .where(
                AgreementLine.org_id == agreement.org_id,
                AgreementLine.agreement_id == agreement.id,
            )
            .order_by(AgreementLine.position, AgreementLine.id)
        )
    )


def open_tickets(session: Session, agreement: Agreement) -> int:
    """The client's tickets not closed: the quantity of an `open_tickets` line."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.org_id == agreement.org_id,
                Ticket.client_id == agreement.client_id,
                Ticket.status != TicketStatus.closed.value,
            )
        )
        or 0
    )


def _stretches(
    terms: list[AgreementTerm], first: date, last: date
) -> list[tuple[date, date, int, int]]:
    """(from, to, quantity, unit price) for each stretch of [first, last] under one term."""
    found = []
    for index, term in enumerate(terms):
        until = (
            terms[index + 1].effective_from - timedelta(days=1) if index + 1 < len(terms) else last
        )
        start, end = max(first, term.effective_from), min(last, until)
        if start <= end:
            found.append((start, end, term.quantity, term.unit_amount))
    return found


def charge(
    session: Session,
    agreement: Agreement,
    start: date,
    end: date,
    *,
    currency: str,
    fixed_only: bool = False,
) -> Charge:
    """The agreement's charge for the period [start, end]: a line per agreement line with a
    quantity in it, prorated by days where the agreement or a term covers part of it."""
    found = Charge(agreement, start, end)
    first = max(start, agreement.starts_on)
    last = min(end, agreement.ends_on) if agreement.ends_on is not None else end
    if first > last:
        return found
    days = (end - start).days + 1
    label = period_label(agreement.period, start)
    tickets: int | None = None
    for line in lines_of(session, agreement):
        counted = line.quantity_rule == QuantityRule.open_tickets.value
        if counted and fixed_only:
            continue
        stretches = _stretches(terms_of(session, line), first, last)
        if counted:
            if tickets is None:
                tickets = open_tickets(session, agreement)
            stretches = [(a, b, tickets, unit) for a, b, _, unit in stretches]
        stretches = [s for s in stretches if s[2] > 0]
        if not stretches:
            continue
        exact = sum(
            (Decimal(q * unit * ((b - a).days + 1)) / Decimal(days) for a, b, q, unit in stretches),
            Decimal(0),
        )
        amount = round_minor(exact, currency)
        name = line.description.strip() or "Service"
        whole = len(stretches) == 1 and stretches[0][0] == start and stretches[0][1] == end
        if whole:
            _, _, quantity, unit = stretches[0]
            text = f"{name} · {label}"
        else:
            quantity, unit = 1, amount
            parts = [
                f"{q} x {format_money(u, currency)} x {(b - a).days + 1}/{days} days "
                f"({a.isoformat()} to {b.isoformat()})"
                for a, b, q, u in stretches
            ]
            text = f"{name} · {label}, prorated: " + " + ".join(parts)
        found.lines.append(
            ChargeLine(agreement.id, line.catalog_item_id, text, quantity, unit, amount, counted)
        )
    return found


def agreements_of(session: Session, *, org_id: uuid.UUID, client_id: uuid.UUID) -> list[Agreement]:
    """The client's agreements, oldest first (the order included hours are used in)."""
    return list(
        session.scalars(
            select(Agreement)
            .where(Agreement.org_id == org_id, Agreement.client_id == client_id)
            .order_by(Agreement.created_at, Agreement.id)
        )
    )


def billed_periods(session: Session, agreement: Agreement) -> set[date]:
    return set(
        session.scalars(
            select(AgreementBillingRecord.period_start).where(
                AgreementBillingRecord.org_id == agreement.org_id,
                AgreementBillingRecord.agreement_id == agreement.id,
            )
        )
    )


def due_charges(
    session: Session,
    *,
    org_id: uuid.UUID,
    client_id: uuid.UUID,
    currency: str,
    through: date,
    separate: uuid.UUID | None = None,
) -> list[Charge]:
    """Every unbilled agreement period of the client a run ending on `through` bills, with
    its lines (periods with no line are left out, and stay unbilled); then the adjustments
    of periods billed already whose fixed lines now come to another amount (`adjustments`).
    The agreements billed with the client's time; with `separate`, that one agreement billed
    on an invoice of its own."""
    charges = []
    for agreement in agreements_of(session, org_id=org_id, client_id=client_id):
        wanted = agreement.id == separate if separate else not agreement.separate_invoice
        if not wanted:
            continue
        billed = billed_periods(session, agreement)
        for start, end in due_periods(agreement, through=through):
            if start in billed:
                continue
            found = charge(session, agreement, start, end, currency=currency)
            if found.lines:
                charges.append(found)
        charges.extend(adjustments(session, agreement, currency=currency))
    return charges


# Billed periods a run checks again for changes (a change may not reach further back).
ADJUSTABLE_PERIODS = 2


def adjustments(session: Session, agreement: Agreement, *, currency: str) -> list[Charge]:
    """The agreement's last billed periods whose fixed lines, computed again now, differ from
    what was billed (a quantity change or an end inside a period billed in advance): one
    line each with the difference, and the calculation as it now stands."""
    records = list(
        session.scalars(
            select(AgreementBillingRecord)
            .where(
                AgreementBillingRecord.org_id == agreement.org_id,
                AgreementBillingRecord.agreement_id == agreement.id,
            )
            .order_by(AgreementBillingRecord.period_start.desc())
            .limit(ADJUSTABLE_PERIODS)
        )
    )
    found = []
    for record in reversed(records):
        now = charge(
            session,
            agreement,
            record.period_start,
            record.period_end,
            currency=currency,
            fixed_only=True,
        )
        difference = now.fixed_total - record.fixed_amount
        if difference == 0:
            continue
        label = period_label(agreement.period, record.period_start)
        detail = "; ".join(line.description for line in now.lines) or "nothing left to charge"
        text = (
            f"{agreement.name} · {label}: adjustment, now "
            f"{format_money(now.fixed_total, currency)} instead of "
            f"{format_money(record.fixed_amount, currency)} billed ({detail})"
        )
        found.append(
            Charge(
                agreement,
                record.period_start,
                record.period_end,
                [ChargeLine(agreement.id, None, text, 1, difference, difference)],
                adjusts=record,
            )
        )
    return found


def clients_with_agreements(session: Session, *, org_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(select(Agreement.client_id).where(Agreement.org_id == org_id).distinct())
    )


# ---- included hours --------------------------------------------------------------------------


@dataclass
class Covered:
    """How one entry is billed under the client's agreements."""

    agreement_id: uuid.UUID | None
    covered_minutes: int
    rate: int
    amount: int


class Coverage:
    """Covers a client's entries, fed in work-date order, with its agreements' included
    hours; remembers what it covered, so the next entry of the period gets the rest."""

    def __init__(self, session: Session, *, org_id: uuid.UUID, client_id: uuid.UUID) -> None:
        self._session = session
        self._agreements = agreements_of(session, org_id=org_id, client_id=client_id)
        self._left: dict[tuple[uuid.UUID, date], int] = {}

    def __bool__(self) -> bool:
        return bool(self._agreements)

    def _active(self, day: date) -> list[Agreement]:
        return [
            a
            for a in self._agreements
            if a.starts_on <= day and (a.ends_on is None or day <= a.ends_on)
        ]

    def _used(self, agreement: Agreement, start: date, end: date) -> int:
        """Minutes of [start, end] the agreement's included hours covered on invoices that
        are not void."""
        return int(
            self._session.scalar(
                select(func.coalesce(func.sum(InvoiceLine.covered_minutes), 0))
                .join(
                    Invoice,
                    (Invoice.id == InvoiceLine.invoice_id) & (Invoice.org_id == agreement.org_id),
                )
                .where(
                    InvoiceLine.org_id == agreement.org_id,
                    InvoiceLine.agreement_id == agreement.id,
                    InvoiceLine.work_date >= start,
                    InvoiceLine.work_date <= end,
                    Invoice.status != InvoiceStatus.void.value,
                )
            )
            or 0
        )

    def allowance(self, agreement: Agreement, start: date) -> int:
        """Included minutes left in the period starting on `start`, before this generation."""
        _, end = period_of(agreement.period, start)
        unused_before = 0
        if agreement.rollover:
            previous, _ = period_of(agreement.period, start - timedelta(days=1))
            if previous >= period_of(agreement.period, agreement.starts_on)[0]:
                unused_before = max(0, self.allowance(agreement, previous))
        return (agreement.included_minutes or 0) + unused_before - self._used(agreement, start, end)

    def cover(self, work_date: date, minutes: int, rate: int, currency: str) -> Covered:
        """The entry as billed: the first agreement active on its date with included hours
        covers what it has left of the period; the rest is charged at that agreement's rate
        (or the first active one's with a rate), else the entry's own."""
        active = self._active(work_date)
        covering = next((a for a in active if a.included_minutes), None)
        covered = 0
        if covering is not None:
            start, _ = period_of(covering.period, work_date)
            key = (covering.id, start)
            if key not in self._left:
                self._left[key] = max(0, self.allowance(covering, start))
            covered = min(self._left[key], minutes)
            self._left[key] -= covered
        rated = next((a for a in active if a.hourly_rate is not None), None)
        if covering is not None and covering.hourly_rate is not None:
            rated = covering
        if rated is not None:
            rate = rated.hourly_rate or 0
        owner = covering if covering is not None else rated
        return Covered(
            owner.id if owner is not None else None,
            covered,
            rate,
            amount_for(rate, minutes - covered, currency),
        )


def cover_all(
    session: Session,
    *,
    org_id: uuid.UUID,
    client_id: uuid.UUID,
    entries: Iterable[tuple[date, int, int]],
    currency: str,
) -> list[Covered]:
    """`Coverage.cover` for each (work date, minutes, rate), in the order given."""
    coverage = Coverage(session, org_id=org_id, client_id=client_id)
    return [coverage.cover(day, minutes, rate, currency) for day, minutes, rate in entries]


# ---- writing on an invoice -------------------------------------------------------------------


def _line(invoice: Invoice, found: Charge, line: ChargeLine, position: int) -> InvoiceLine:
    return InvoiceLine(
        id=new_id(),
        org_id=invoice.org_id,
        invoice_id=invoice.id,
        position=position,
        kind=LineKind.agreement.value,
        description=line.description,
        catalog_item_id=line.catalog_item_id,
        quantity=line.quantity,
        unit_amount=line.unit_amount,
        amount=line.amount,
        agreement_id=line.agreement_id,
        agreement_period_start=found.start,
    )


def bill(
    session: Session,
    invoice: Invoice,
    charges: list[Charge],
    *,
    position: int,
    check: Callable[[int, str], None],
) -> tuple[int, int]:
    """Write the periods' lines on the draft after `position`, and each period as billed by
    it (its unique row refuses a second billing); (their total, the last position).
    `check(amount, what)`: Stripe's maximum per line."""
    total = 0
    for found in charges:
        for line in found.lines:
            position += 1
            check(line.amount, f"Line {position}'s amount")
            total += line.amount
            session.add(_line(invoice, found, line, position))
        session.add(
            AgreementBillingRecord(
                id=new_id(),
                org_id=invoice.org_id,
                agreement_id=found.agreement.id,
                period_start=found.start,
                period_end=found.end,
                invoice_id=invoice.id,
                amount=found.total,
                fixed_amount=found.fixed_total,
            )
        )
    session.flush()
    return total, position


def adjust(
    session: Session, invoice: Invoice, found: list[Charge], *, total: int, position: int
) -> tuple[int, int]:
    """Write the adjustments after `position`, charges first: a credit takes at most what
    the invoice totals so far (an invoice never totals below zero), and what it cannot take
    stays owed to the client: the period's billed amount moves only by what was applied, so
    the next run offers the rest. (the invoice's total, the last position)."""
    for item in sorted(found, key=lambda c: c.total < 0):
        record = item.adjusts
        assert record is not None
        (line,) = item.lines
        applied = max(line.amount, -total)
        if applied == 0:
            continue
        moved = session.execute(
            update(AgreementBillingRecord)
            .where(
                AgreementBillingRecord.id == record.id,
                AgreementBillingRecord.fixed_amount == record.fixed_amount,
            )
            .values(fixed_amount=record.fixed_amount + applied)
            .execution_options(synchronize_session=False)
        )
        if not getattr(moved, "rowcount", 0):
            continue  # adjusted meanwhile by another invoice
        if applied != line.amount:
            carried = format_money(applied - line.amount, invoice.currency)
            line.description += f"; {carried} of this credit goes on the next invoice"
        line.amount = line.unit_amount = applied
        position += 1
        total += applied
        session.add(_line(invoice, item, line, position))
    session.flush()
    return total, position


def release(session: Session, invoice: Invoice, *, agreement_id: uuid.UUID | None = None) -> None:
    """The invoice goes (void, deleted draft) or loses an agreement's lines: the periods it
    billed can be billed again, and the adjustments it made to periods billed by other
    invoices are undone (so they are offered again)."""
    lines = list(
        session.scalars(
            select(InvoiceLine).where(
                InvoiceLine.org_id == invoice.org_id,
                InvoiceLine.invoice_id == invoice.id,
                InvoiceLine.kind == LineKind.agreement.value,
                *([InvoiceLine.agreement_id == agreement_id] if agreement_id else []),
            )
        )
    )
    for line in lines:
        session.execute(
            update(AgreementBillingRecord)
            .where(
                AgreementBillingRecord.org_id == invoice.org_id,
                AgreementBillingRecord.agreement_id == line.agreement_id,
                AgreementBillingRecord.period_start == line.agreement_period_start,
                AgreementBillingRecord.invoice_id != invoice.id,
            )
            .values(fixed_amount=AgreementBillingRecord.fixed_amount - line.amount)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        delete(AgreementBillingRecord).where(
            AgreementBillingRecord.org_id == invoice.org_id,
            AgreementBillingRecord.invoice_id == invoice.id,
            *([AgreementBillingRecord.agreement_id == agreement_id] if agreement_id else []),
        )
    )
