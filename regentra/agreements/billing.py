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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra.kit.money import amount_for, format_money, round_minor
from regentra.models import (
    Agreement,
    AgreementBillingRecord,
    AgreementLine,
    AgreementTerm,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
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


@dataclass
class Charge:
    """One agreement period as it would be billed now."""

    agreement: Agreement
    start: date
    end: date
    lines: list[ChargeLine] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


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
    session: Session, agreement: Agreement, start: date, end: date, *, currency: str
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
        stretches = _stretches(terms_of(session, line), first, last)
        if line.quantity_rule == QuantityRule.open_tickets.value:
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
            ChargeLine(agreement.id, line.catalog_item_id, text, quantity, unit, amount)
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
    session: Session, *, org_id: uuid.UUID, client_id: uuid.UUID, currency: str, through: date
) -> list[Charge]:
    """Every unbilled agreement period of the client a run ending on `through` bills, with
    its lines (periods with no line are left out, and stay unbilled)."""
    charges = []
    for agreement in agreements_of(session, org_id=org_id, client_id=client_id):
        billed = billed_periods(session, agreement)
        for start, end in due_periods(agreement, through=through):
            if start in billed:
                continue
            found = charge(session, agreement, start, end, currency=currency)
            if found.lines:
                charges.append(found)
    return charges


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
