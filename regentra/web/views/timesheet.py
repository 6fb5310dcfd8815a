"""The weekly timesheet, the technician's main view of their time: tickets by days of one
week with daily and weekly totals, a quick-entry form, and submitting the week's drafts."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from regentra.errors import Invalid, RegentraError
from regentra.http.deps import SessionDep
from regentra.invoices.transitions import org_today
from regentra.models import Org, Ticket
from regentra.tickets.service import list_tickets
from regentra.time_entries import service
from regentra.time_entries import week as weeks
from regentra.time_entries.schemas import TimeEntryCreate
from regentra.web import queries
from regentra.web.auth import Account, SignedIn
from regentra.web.forms import (
    FormDep,
    checkbox,
    failure,
    parse_date,
    parse_duration,
    parse_id,
    text,
)
from regentra.web.templating import format_duration, redirect, render

router = APIRouter(prefix="/time/week")

FIRST = date(2000, 1, 3)  # the first Monday time can be logged in (work dates start in 2000)
LAST = date(2100, 12, 31)
TICKET_CHOICES = 200  # newest open tickets offered in quick entry, besides the week's own


def parse_week(raw: str | None, org: Org) -> date:
    """The Monday of the week named by any of its days; this week (in the org's time zone)
    when blank."""
    day = parse_date(raw, "Week") if raw and raw.strip() else org_today(org)
    if not FIRST <= day <= LAST:
        raise Invalid(
            f"Week must be between {FIRST.isoformat()} and {LAST.isoformat()}; "
            f"got {day.isoformat()}."
        )
    return weeks.week_start(day)


def week_url(start: date) -> str:
    return f"/time/week?week={start.isoformat()}"


def _ticket_choices(session: Session, account: Account, sheet: weeks.Timesheet) -> list[Ticket]:
    """Open tickets to log time on: the week's own first, then the newest others."""
    own = [row.ticket for row in sheet.rows if row.ticket.status == "open"]
    newest = list_tickets(session, org_id=account.org.id, status="open", limit=TICKET_CHOICES).items
    seen = {t.id for t in own}
    return own + sorted((t for t in newest if t.id not in seen), key=lambda t: t.title.casefold())


def week_page(
    request: Request,
    session: Session,
    account: Account,
    start: date,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    code: int = 200,
) -> Response:
    today = org_today(account.org)
    sheet = weeks.timesheet(session, user=account.user, day=start)
    choices = _ticket_choices(session, account, sheet)
    default_day = today if sheet.start <= today <= sheet.end else sheet.start
    context = {
        "title": "My week",
        "sheet": sheet,
        "today": today,
        "this_week": weeks.week_start(today),
        "choices": choices,
        "names": queries.names_for(session, org_id=account.org.id),
        "values": {"work_date": default_day.isoformat(), "billable": "on", **(values or {})},
        "error": error,
    }
    return render(request, "time/week.html", context, status=code)


@router.get("")
def my_week(
    request: Request,
    session: SessionDep,
    account: SignedIn,
    week: str | None = None,
    ticket: str | None = None,
    day: str | None = None,
) -> Response:
    start = parse_week(week, account.org)
    values: dict[str, Any] = {}
    if ticket:  # "Add time" on a row: the quick-entry form comes prefilled with its ticket
        values["ticket_id"] = ticket
    if day:
        values["work_date"] = day
    return week_page(request, session, account, start, values=values)


@router.post("")
def quick_entry(
    request: Request, session: SessionDep, account: SignedIn, form: FormDep
) -> Response:
    start = parse_week(text(form, "week"), account.org)
    try:
        data = TimeEntryCreate(
            ticket_id=parse_id(text(form, "ticket_id"), "ticket"),
            work_date=parse_date(text(form, "work_date"), "Day"),
            minutes=parse_duration(text(form, "duration")),
            description=text(form, "description"),
            billable=checkbox(form, "billable"),
        )
        entry = service.create(session, org=account.org, user=account.user, data=data)
    except (RegentraError, ValidationError) as exc:
        session.rollback()
        message, code = failure(exc)
        fields = ("ticket_id", "work_date", "duration", "description", "billable")
        values = {k: text(form, k) for k in fields}
        return week_page(request, session, account, start, values=values, error=message, code=code)
    day = entry.work_date
    done = f"Logged {format_duration(entry.minutes)} on {day.strftime('%a %-d %b')} as a draft."
    return redirect(week_url(weeks.week_start(day)), success=done)


@router.post("/submit")
def submit_week(
    request: Request, session: SessionDep, account: SignedIn, form: FormDep
) -> Response:
    start = parse_week(text(form, "week"), account.org)
    result = weeks.submit_week(session, user=account.user, day=start)
    done, failed = len(result.submitted), len(result.failed)
    if not done and not failed:
        return week_page(
            request, session, account, start, error="This week has no drafts to submit.", code=409
        )
    noun = "entry" if done == 1 else "entries"
    message = f"Submitted {done} {noun} of the week of {start.strftime('%-d %b')} for approval."
    if failed:
        reasons = "; ".join(sorted({exc.message for _, exc in result.failed}))
        message = f"Submitted {done} of {done + failed}; {failed} could not be: {reasons}"
        return redirect(week_url(start), warning=message)
    return redirect(week_url(start), success=message)
