"""The weekly timesheet: one technician's week (Monday to Sunday) as a grid of tickets by
days with daily and weekly totals, and submitting the week's drafts in one step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from regentra.errors import RegentraError
from regentra.invoices.transitions import org_today
from regentra.kit.money import amount_for
from regentra.models import EntryStatus, Org, Ticket, TimeEntry, User
from regentra.tickets.service import tickets
from regentra.time_entries import service
from regentra.time_entries.progress import Progress, progress_of

DAYS = 7


def week_start(day: date) -> date:
    """The Monday of the week `day` is in."""
    return day - timedelta(days=day.weekday())


def this_week(org: Org) -> date:
    """The Monday of the current week in the org's time zone."""
    return week_start(org_today(org))


@dataclass
class Row:
    """One ticket's entries of the week: a list of entries per day, Monday first."""

    ticket: Ticket
    cells: list[list[TimeEntry]] = field(default_factory=lambda: [[] for _ in range(DAYS)])

    def day_minutes(self, index: int) -> int:
        return sum(e.minutes for e in self.cells[index])

    @property
    def minutes(self) -> int:
        return sum(self.day_minutes(i) for i in range(DAYS))


@dataclass
class Timesheet:
    start: date
    rows: list[Row]
    progress: dict[uuid.UUID, Progress]

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(DAYS)]

    @property
    def end(self) -> date:
        return self.start + timedelta(days=DAYS - 1)

    @property
    def previous(self) -> date:
        return self.start - timedelta(days=DAYS)

    @property
    def next(self) -> date:
        return self.start + timedelta(days=DAYS)

    @property
    def day_totals(self) -> list[int]:
        return [sum(row.day_minutes(i) for row in self.rows) for i in range(DAYS)]

    @property
    def total(self) -> int:
        return sum(row.minutes for row in self.rows)

    @property
    def drafts(self) -> int:
        return sum(1 for p in self.progress.values() if p == Progress.draft)


def _week_entries(session: Session, *, user: User, start: date) -> list[TimeEntry]:
    stmt = (
        service.entries.select(user.org_id)
        .where(
            TimeEntry.technician_id == user.id,
            TimeEntry.work_date >= start,
            TimeEntry.work_date < start + timedelta(days=DAYS),
        )
        .order_by(TimeEntry.work_date, TimeEntry.created_at, TimeEntry.id)
    )
    return list(session.scalars(stmt).all())


def timesheet(session: Session, *, user: User, day: date) -> Timesheet:
    """The signed-in user's own week containing `day`."""
    start = week_start(day)
    found = _week_entries(session, user=user, start=start)
    ticket_ids = {e.ticket_id for e in found}
    by_id: dict[uuid.UUID, Ticket] = {}
    if ticket_ids:
        stmt = tickets.select(user.org_id).where(Ticket.id.in_(ticket_ids))
        by_id = {t.id: t for t in session.scalars(stmt).all()}
    rows: dict[uuid.UUID, Row] = {}
    for entry in found:
        row = rows.setdefault(entry.ticket_id, Row(by_id[entry.ticket_id]))
        row.cells[(entry.work_date - start).days].append(entry)
    ordered = sorted(rows.values(), key=lambda r: (r.ticket.title.casefold(), str(r.ticket.id)))
    progress = progress_of(session, org_id=user.org_id, entries=found)
    return Timesheet(start=start, rows=ordered, progress=progress)


@dataclass
class WeekSubmitted:
    submitted: list[TimeEntry] = field(default_factory=list)
    failed: list[tuple[uuid.UUID, RegentraError]] = field(default_factory=list)


def submit_week(session: Session, *, user: User, day: date) -> WeekSubmitted:
    """Submit the user's drafts of the week containing `day`. Each entry is its own
    conditional step: one that cannot go (changed meanwhile) writes nothing and is reported."""
    result = WeekSubmitted()
    for entry in _week_entries(session, user=user, start=week_start(day)):
        if entry.status != EntryStatus.draft.value or entry.invoice_id is not None:
            continue
        try:
            result.submitted.append(service.submit(session, user=user, entry_id=entry.id))
        except RegentraError as exc:
            result.failed.append((entry.id, exc))
    return result


@dataclass
class WeekGroup:
    """One technician's entries of one week (for approvals), with their totals."""

    technician_id: uuid.UUID
    start: date
    entries: list[TimeEntry] = field(default_factory=list)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=DAYS - 1)

    @property
    def minutes(self) -> int:
        return sum(e.minutes for e in self.entries)

    @property
    def amounts(self) -> dict[str, int]:
        """What the billable entries bill, per currency (minor units)."""
        totals: dict[str, int] = {}
        for e in self.entries:
            if e.billable:
                amount = amount_for(e.hourly_rate, e.minutes, e.currency)
                totals[e.currency] = totals.get(e.currency, 0) + amount
        return dict(sorted(totals.items()))


def by_technician_and_week(entries: list[TimeEntry]) -> list[WeekGroup]:
    """Entries grouped per (technician, week), each group's entries by date, oldest week
    first per technician (the caller orders technicians, e.g. by name)."""
    groups: dict[tuple[uuid.UUID, date], WeekGroup] = {}
    for entry in sorted(entries, key=lambda e: (e.work_date, e.created_at, e.id)):
        key = (entry.technician_id, week_start(entry.work_date))
        groups.setdefault(key, WeekGroup(*key)).entries.append(entry)
    return sorted(groups.values(), key=lambda g: (str(g.technician_id), g.start))
