"""My time: the signed-in user's own entries, submitting and recalling them, and editing
drafts. The week view (the technician's main one) is in `timesheet`."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from regentra.clients.service import all_clients
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.models import EntryStatus, TimeEntry
from regentra.time_entries import service
from regentra.time_entries.progress import progress_of
from regentra.time_entries.schemas import TimeEntryUpdate
from regentra.web import queries, time_listing
from regentra.web.auth import Account, SignedIn
from regentra.web.forms import (
    FormDep,
    checkbox,
    failure,
    parse_amount,
    parse_date,
    parse_duration,
    text,
)
from regentra.web.templating import format_duration, major_units, redirect, render
from regentra.web.views import timesheet

router = APIRouter(prefix="/time")

EDITABLE = {s.value for s in service.EDITABLE}
STATUSES = [s.value for s in EntryStatus]


def _list_page(
    request: Request,
    session: Session,
    account: Account,
    *,
    error: str | None = None,
    code: int = 200,
) -> Response:
    # Sort, filters, pages and totals: web/time_listing.py (a form post re-renders the list
    # as it first shows).
    found = time_listing.my_time(
        session, account, request.query_params if request.method == "GET" else {}
    )
    page = found.page
    if found.error and code == 200:
        code = 422
    context = {
        "title": "My time",
        "entries": page.items,
        "next_cursor": page.next_cursor,
        "list": found.view,
        "filters": found.view.raw,
        "totals": found.totals,
        "clients": all_clients(session, org_id=account.org.id),
        "names": queries.names_for(
            session, org_id=account.org.id, ticket_ids=[e.ticket_id for e in page.items]
        ),
        "progress": progress_of(session, org_id=account.org.id, entries=page.items),
        "editable": EDITABLE,
        "statuses": STATUSES,
        "status": found.status,
        "error": error,
    }
    return render(request, "time/list.html", context, status=code)


@router.get("")
def my_time(request: Request, session: SessionDep, account: SignedIn) -> Response:
    return _list_page(request, session, account)


@router.post("/submit-drafts")
def submit_drafts(request: Request, session: SessionDep, account: SignedIn) -> Response:
    user = account.user
    submitted, failed = 0, []
    cursor: str | None = None
    while True:
        page = service.list_entries(
            session,
            user=user,
            technician_id=user.id,
            status=EntryStatus.draft.value,
            limit=200,
            cursor=cursor,
        )
        for entry in page.items:
            try:
                service.submit(session, user=user, entry_id=entry.id)
                submitted += 1
            except RegentraError as exc:  # a refusal writes nothing; report it and go on
                failed.append(exc.message)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    if not submitted and not failed:
        return redirect("/time", error="You have no drafts to submit.")
    message = f"Submitted {submitted} {'entry' if submitted == 1 else 'entries'} for approval."
    if failed:
        message += f" {len(failed)} could not be submitted: {'; '.join(failed[:5])}"
        return redirect("/time", warning=message)
    return redirect("/time", success=message)


@router.post("/{entry_id}/submit")
def submit(
    request: Request, entry_id: uuid.UUID, session: SessionDep, account: SignedIn
) -> Response:
    try:
        service.submit(session, user=account.user, entry_id=entry_id)
    except RegentraError as exc:
        session.rollback()
        return _list_page(request, session, account, error=exc.message, code=exc.status)
    return redirect("/time", success="Entry submitted for approval.")


@router.post("/{entry_id}/recall")
def recall(
    request: Request, entry_id: uuid.UUID, session: SessionDep, account: SignedIn, form: FormDep
) -> Response:
    """Back to draft before an approver decides; from the week grid (its `week` field) or
    the list, and back there."""
    week = text(form, "week")
    start = timesheet.parse_week(week, account.org) if week else None
    try:
        service.recall(session, user=account.user, entry_id=entry_id)
    except RegentraError as exc:
        session.rollback()
        if start is not None:
            return timesheet.week_page(
                request, session, account, start, error=exc.message, code=exc.status
            )
        return _list_page(request, session, account, error=exc.message, code=exc.status)
    done = "Entry recalled: it is a draft again; edit it and submit it when ready."
    return redirect(timesheet.week_url(start) if start else "/time", success=done)


def _edit_page(
    request: Request,
    account: Account,
    entry: TimeEntry,
    names: queries.Names,
    values: dict[str, Any],
    *,
    error: str | None = None,
    code: int = 200,
) -> Response:
    context = {
        "title": "Edit time entry",
        "entry": entry,
        "names": names,
        "values": values,
        "can_set_rate": account.user.has_role(*service.RATE_SETTERS),
        "error": error,
    }
    return render(request, "time/edit.html", context, status=code)


@router.get("/{entry_id}/edit")
def edit_page(
    request: Request, entry_id: uuid.UUID, session: SessionDep, account: SignedIn
) -> Response:
    entry = service.get(session, user=account.user, entry_id=entry_id)
    names = queries.names_for(session, org_id=account.org.id, ticket_ids=[entry.ticket_id])
    values = {
        "work_date": entry.work_date.isoformat(),
        "duration": format_duration(entry.minutes),
        "description": entry.description,
        "billable": "on" if entry.billable else "",
        "hourly_rate": major_units(entry.hourly_rate, entry.currency),
    }
    code = 200
    error = None
    if entry.status not in EDITABLE:
        error = f"This entry is {entry.status}: only draft or rejected entries can be edited."
        code = 409
    return _edit_page(request, account, entry, names, values, error=error, code=code)


@router.post("/{entry_id}/edit")
def edit(
    request: Request, entry_id: uuid.UUID, session: SessionDep, account: SignedIn, form: FormDep
) -> Response:
    entry = service.get(session, user=account.user, entry_id=entry_id)
    names = queries.names_for(session, org_id=account.org.id, ticket_ids=[entry.ticket_id])
    try:
        changes: dict[str, Any] = {
            "work_date": parse_date(text(form, "work_date"), "Work date"),
            "minutes": parse_duration(text(form, "duration")),
            "description": text(form, "description"),
            "billable": checkbox(form, "billable"),
        }
        if account.user.has_role(*service.RATE_SETTERS):
            rate = text(form, "hourly_rate")
            changes["hourly_rate"] = parse_amount(rate, entry.currency, "Hourly rate")
        data = TimeEntryUpdate(**changes)
        service.edit(session, org=account.org, user=account.user, entry_id=entry.id, data=data)
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, code = failure(exc)
        fields = ("work_date", "duration", "description", "billable", "hourly_rate")
        values = {k: text(form, k) for k in fields}
        return _edit_page(request, account, entry, names, values, error=message, code=code)
    return redirect("/time", success="Entry saved. Submit it when it is ready for approval.")
