"""The audit log for admins: filters and "Older →" pagination."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response

from regentra.audit import service
from regentra.errors import Invalid, RegentraError
from regentra.http.deps import SessionDep
from regentra.web.auth import AdminPage
from regentra.web.forms import optional_date
from regentra.web.templating import render

router = APIRouter(prefix="/audit")

SUBJECT_TYPES = ["client", "org", "ticket", "time_entry", "user"]


def _start_of(day: date | None, tz: str) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz)) if day else None


@router.get("")
def audit_log(
    request: Request,
    session: SessionDep,
    account: AdminPage,
    action: str = "",
    subject_type: str = "",
    date_from: str = "",
    date_to: str = "",
    cursor: str | None = None,
) -> Response:
    org = account.org
    filters = {
        "action": action.strip()[:100],
        "subject_type": subject_type.strip()[:50],
        "date_from": date_from.strip(),
        "date_to": date_to.strip(),
    }
    events, next_url, error, code = [], None, None, 200
    try:
        since_day = optional_date(filters["date_from"], "From")
        until_day = optional_date(filters["date_to"], "To")
        for day, label in ((since_day, "From"), (until_day, "To")):
            if day:
                service.check_year(day.year, label)
        if since_day and until_day and since_day > until_day:
            raise Invalid("The From date must not be after the To date.")
        until_next = until_day + timedelta(days=1) if until_day else None
        page = service.list_events(
            session,
            org_id=org.id,
            action=filters["action"] or None,
            subject_type=filters["subject_type"] or None,
            since=_start_of(since_day, org.timezone),
            until=_start_of(until_next, org.timezone),
            limit=50,
            cursor=cursor or None,
        )
        events = page.items
        if page.next_cursor:
            query = {k: v for k, v in filters.items() if v}
            next_url = "/audit?" + urlencode({**query, "cursor": page.next_cursor})
    except RegentraError as exc:
        error, code = exc.message, exc.status
    known_types = sorted({*SUBJECT_TYPES, *(e.subject_type for e in events)})
    context = {
        "title": "Audit log",
        "events": events,
        "actions": service.list_actions(session, org_id=org.id),
        "subject_types": known_types,
        "filters": filters,
        "next_url": next_url,
        "paged": bool(cursor),
        "error": error,
    }
    return render(request, "audit/list.html", context, status=code)
