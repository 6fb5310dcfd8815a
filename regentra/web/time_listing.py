"""My time's list (GET /time) through `listing`: the signed-in user's own entries, newest
work date first, sortable, filtered by status, client and work dates, with the hours and
billable amounts (per currency) of everything filtered, not only the page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.errors import RegentraError
from regentra.kit.pagination import Page
from regentra.models import EntryStatus, Ticket, TimeEntry
from regentra.time_entries.service import entries
from regentra.web import listing
from regentra.web.auth import Account

STATUSES = tuple(s.value for s in EntryStatus)

_TICKET = (
    select(listing.lower(Ticket.title))
    .where(Ticket.id == TimeEntry.ticket_id, Ticket.org_id == TimeEntry.org_id)
    .scalar_subquery()
)
_CLIENT = listing.client_name(TimeEntry)

SPEC = listing.ListSpec(
    path="/time",
    columns=(
        listing.SortColumn("date", "Date", TimeEntry.work_date, first_dir="desc"),
        listing.SortColumn("ticket", "Ticket", _TICKET),
        listing.SortColumn("client", "Client", _CLIENT),
        listing.SortColumn("duration", "Duration", TimeEntry.minutes, first_dir="desc"),
        listing.SortColumn("status", "Status", TimeEntry.status),
    ),
    default_sort="date",
    filters=(
        listing.Filter("status", "Status", "choice", choices=STATUSES),
        listing.Filter("client", "Client", "id"),
        listing.Filter("date_from", "From", "date"),
        listing.Filter("date_to", "To", "date"),
    ),
)


class MyTime:
    """One page of the user's entries and the totals of all the filtered ones."""

    def __init__(self, view: listing.Listing) -> None:
        self.view = view
        self.page: Page[TimeEntry] = Page(items=[], next_cursor=None)
        self.totals = listing.TimeTotals(0, 0, {})

    @property
    def error(self) -> str | None:
        return self.view.error

    @property
    def status(self) -> str:
        return str(self.view.raw.get("status", ""))


def my_time(session: Session, account: Account, query: Any) -> MyTime:
    """The list as `query` (the request's query parameters) asks for it; an unreadable
    filter or a stale page link leaves the list empty with `error` set (a 422)."""
    found = MyTime(listing.parse(SPEC, query))
    view = found.view
    if view.error:
        return found
    stmt = entries.select(account.org.id).where(TimeEntry.technician_id == account.user.id)
    if status := view.value("status"):
        stmt = stmt.where(TimeEntry.status == status)
    if client_id := view.value("client"):
        stmt = stmt.where(TimeEntry.client_id == client_id)
    if day_from := view.value("date_from"):
        stmt = stmt.where(TimeEntry.work_date >= day_from)
    if day_to := view.value("date_to"):
        stmt = stmt.where(TimeEntry.work_date <= day_to)
    try:
        found.page = listing.page(session, stmt, view, TimeEntry.id, limit=50)
        found.totals = listing.minutes_and_amounts(session, stmt)
    except RegentraError as exc:
        view.error = exc.message
    return found
