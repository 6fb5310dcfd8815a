"""Approvals: submitted time of the org grouped by technician and week with totals,
approved one by one, a week at a time or in bulk (a partial bulk result is reported as
such), rejected with a reason; an approver's own entries are shown but not actionable
unless the org allows self-approval. Recently approved entries can be un-approved until
they are invoiced.

The page is a list of `web/listing.py`: filtered by client, technician and work dates
(status is the section: waiting, or recently approved) in a GET form, and ordered by one
of four named orders (newest first by default, oldest first, by technician, by client)
that order both the groups and the entries inside them. Bad parameters are a 422 in words.
Every action posts to a URL carrying the list's parameters and comes back to the same
view, so "Approve selected" approves exactly the entries shown."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from regentra.errors import Invalid, RegentraError
from regentra.http.deps import SessionDep
from regentra.models import EntryStatus, TimeEntry, User
from regentra.time_entries import service
from regentra.time_entries.week import WeekGroup, by_technician_and_week
from regentra.web import listing, queries
from regentra.web.auth import Account, ApproverPage
from regentra.web.forms import FormDep, FormMessage, parse_id, text, texts
from regentra.web.templating import redirect, render

router = APIRouter(prefix="/approvals")

RECENT = 20
MAX_BULK = 200

_TECHNICIAN = (
    select(listing.lower(func.coalesce(func.nullif(User.name, ""), User.email)))
    .where(User.id == TimeEntry.technician_id, User.org_id == TimeEntry.org_id)
    .scalar_subquery()
)

# Named orders rather than columns: each has one direction (its first_dir), kept whatever
# `dir` says. The SQL order picks which MAX_BULK entries show; `_arrange` orders the groups.
SPEC = listing.ListSpec(
    path="/approvals",
    columns=(
        listing.SortColumn("newest", "Newest first", TimeEntry.work_date, first_dir="desc"),
        listing.SortColumn("oldest", "Oldest first", TimeEntry.work_date, first_dir="asc"),
        listing.SortColumn("technician", "By technician", _TECHNICIAN),
        listing.SortColumn("client", "By client", listing.client_name(TimeEntry)),
    ),
    default_sort="newest",
    filters=(
        listing.Filter("client", "Client", "id"),
        listing.Filter("technician", "Technician", "id"),
        listing.Filter("date_from", "Worked from", "date"),
        listing.Filter("date_to", "Worked to", "date"),
    ),
)
ORDERS = tuple((c.key, c.label) for c in SPEC.columns)


def _view(query: Mapping[str, str]) -> listing.Listing:
    """The page's filters and order from `query` (no pages: at most MAX_BULK show)."""
    view = listing.parse(SPEC, query)
    column = SPEC.column(view.sort)
    assert column is not None
    view.dir = column.first_dir
    view.cursor = None
    return view


def _filtered(view: listing.Listing, account: Account, status: EntryStatus) -> Select[Any]:
    stmt = service.entries.select(account.org.id).where(TimeEntry.status == status.value)
    if client_id := view.value("client"):
        stmt = stmt.where(TimeEntry.client_id == client_id)
    if technician_id := view.value("technician"):
        stmt = stmt.where(TimeEntry.technician_id == technician_id)
    if day_from := view.value("date_from"):
        stmt = stmt.where(TimeEntry.work_date >= day_from)
    if day_to := view.value("date_to"):
        stmt = stmt.where(TimeEntry.work_date <= day_to)
    return stmt


def _unknown(view: listing.Listing, names: queries.Names) -> FormMessage | None:
    """A well-formed id that is no client or user of the org: said like a malformed one."""
    if (client_id := view.value("client")) and client_id not in names.clients:
        return FormMessage("Choose a client from the list.", "client", "Client")
    if (technician_id := view.value("technician")) and technician_id not in names.users:
        return FormMessage("Choose a technician from the list.", "technician", "Technician")
    return None


def _arrange(groups: list[WeekGroup], order: str, names: queries.Names) -> None:
    """Order the groups and the entries inside them as `order` says (in place). Newest first
    and by technician show each group's entries newest first; by client, by client then
    newest first."""

    def person(group: WeekGroup) -> tuple[str, str]:
        return names.user(group.technician_id).casefold(), str(group.technician_id)

    def client(entry: TimeEntry) -> str:
        return names.client(entry.client_id).casefold()

    for group in groups:
        group.entries.sort(key=lambda e: (e.work_date, e.created_at, e.id), reverse=True)
        if order == "oldest":
            group.entries.reverse()
        elif order == "client":
            group.entries.sort(key=client)  # stable: newest first within a client
    # Stable sorts, least significant key first.
    groups.sort(key=person)
    if order == "technician":
        groups.sort(key=lambda g: g.start, reverse=True)
        groups.sort(key=person)
    elif order == "client":
        groups.sort(key=lambda g: g.start, reverse=True)
        groups.sort(key=lambda g: min(client(e) for e in g.entries))
    else:
        groups.sort(key=lambda g: g.start, reverse=order != "oldest")


def _page(
    request: Request,
    session: Session,
    account: Account,
    *,
    error: str | None = None,
    reject_id: str = "",
    reason: str = "",
    code: int = 200,
) -> Response:
    user = account.user
    org_id = account.org.id
    view = _view(request.query_params)
    pending: list[TimeEntry] = []
    recent: list[TimeEntry] = []
    more_pending = False
    totals = listing.TimeTotals(0, 0, {})
    if view.error is None:
        stmt = _filtered(view, account, EntryStatus.submitted)
        found = listing.page(session, stmt, view, TimeEntry.id, limit=MAX_BULK)
        pending, more_pending = found.items, found.next_cursor is not None
        totals = listing.minutes_and_amounts(session, stmt)
        approved = session.scalars(
            _filtered(view, account, EntryStatus.approved)
            .order_by(TimeEntry.id.desc())
            .limit(RECENT)
        ).all()
        recent = [e for e in approved if e.invoice_id is None]
    ticket_ids = [e.ticket_id for e in pending + recent]
    names = queries.names_for(session, org_id=org_id, ticket_ids=ticket_ids, with_users=True)
    if view.error is None and (unknown := _unknown(view, names)):
        view.error = unknown
        pending, recent, more_pending = [], [], False
        totals = listing.TimeTotals(0, 0, {})
    if view.error and code == 200:
        code = view.status
    groups = by_technician_and_week(pending)
    _arrange(groups, view.sort, names)
    params = view.params()
    context = {
        "title": "Approvals",
        "pending": pending,
        "groups": groups,
        "totals": totals,
        # Entries this approver may act on (their own only when the org allows it).
        "selectable": any(
            e.technician_id != user.id or account.org.allow_self_approval for e in pending
        ),
        "more_pending": more_pending,
        "max_bulk": MAX_BULK,
        "recent": recent,
        "names": names,
        "clients": sorted(names.clients.values(), key=lambda c: c.name.casefold()),
        "people": sorted(names.users.items(), key=lambda u: u[1].casefold()),
        "list": view,
        "filters": view.raw,
        "orders": ORDERS,
        # The list's parameters, carried by every action so it comes back to this view.
        "query": "?" + urlencode(params) if params else "",
        "self_approval": account.org.allow_self_approval,
        "me": user.id,
        "reject_id": reject_id,
        "reason": reason,
        "error": error or view.error,
    }
    return render(request, "approvals/list.html", context, status=code)


def _back(request: Request) -> str:
    """The view of the list the action was posted from (its readable parameters)."""
    return _view(request.query_params).url()


@router.get("")
def approvals(request: Request, session: SessionDep, account: ApproverPage) -> Response:
    return _page(request, session, account)


@router.post("/bulk-approve")
def bulk_approve(
    request: Request, session: SessionDep, account: ApproverPage, form: FormDep
) -> Response:
    try:
        raw_ids = texts(form, "ids")
        if not raw_ids:
            raise Invalid("Select at least one entry to approve.")
        if len(raw_ids) > MAX_BULK:
            raise Invalid(f"Approve at most {MAX_BULK} entries at once.")
        ids = [parse_id(raw, "time entry") for raw in raw_ids]
    except RegentraError as exc:
        return _page(request, session, account, error=exc.message, code=exc.status)
    result = service.bulk_approve(session, org=account.org, user=account.user, entry_ids=ids)
    done, failed = len(result.approved), len(result.failed)
    if not failed:
        return redirect(
            _back(request), success=f"Approved {done} {'entry' if done == 1 else 'entries'}."
        )
    reasons = "; ".join(sorted({exc.message for _, exc in result.failed}))
    if not done:
        noun = "entry" if failed == 1 else "entries"
        return redirect(
            _back(request), error=f"None of the {failed} {noun} could be approved: {reasons}"
        )
    # Done in part: what was approved stays approved, and the rest is said, with why.
    message = f"Approved {done} of {done + failed}; {failed} could not be: {reasons}"
    return redirect(_back(request), warning=message)


@router.post("/{entry_id}/approve")
def approve(
    request: Request, entry_id: uuid.UUID, session: SessionDep, account: ApproverPage
) -> Response:
    try:
        service.approve(session, org=account.org, user=account.user, entry_id=entry_id)
    except RegentraError as exc:
        session.rollback()
        return _page(request, session, account, error=exc.message, code=exc.status)
    return redirect(_back(request), success="Entry approved.")


@router.post("/{entry_id}/reject")
def reject(
    request: Request,
    entry_id: uuid.UUID,
    session: SessionDep,
    account: ApproverPage,
    form: FormDep,
) -> Response:
    reason = text(form, "reason")
    try:
        if len(reason) > 1000:
            raise Invalid("Keep the reason under 1000 characters.")
        service.reject(
            session, org=account.org, user=account.user, entry_id=entry_id, reason=reason
        )
    except RegentraError as exc:
        session.rollback()
        return _page(
            request,
            session,
            account,
            error=exc.message,
            reject_id=str(entry_id),
            reason=reason,
            code=exc.status,
        )
    return redirect(_back(request), success="Entry rejected; the technician will see your reason.")


@router.post("/{entry_id}/unapprove")
def unapprove(
    request: Request, entry_id: uuid.UUID, session: SessionDep, account: ApproverPage
) -> Response:
    try:
        service.unapprove(session, org=account.org, user=account.user, entry_id=entry_id)
    except RegentraError as exc:
        session.rollback()
        return _page(request, session, account, error=exc.message, code=exc.status)
    return redirect(_back(request), success="Entry un-approved; it is back in the queue.")
