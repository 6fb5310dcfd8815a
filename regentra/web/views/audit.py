"""The audit log for admins: newest first, sortable, filtered (action, subject, who, days),
in people's words (names with links, money formatted), with "Next page →" pagination."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Select, select

from regentra.audit import service
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.models import AuditEvent, Org
from regentra.orgs.service import list_users
from regentra.web import listing
from regentra.web.audit_words import Presenter
from regentra.web.auth import AdminPage
from regentra.web.templating import render

router = APIRouter(prefix="/audit")

SUBJECT_TYPES = ["client", "invoice", "org", "ticket", "time_entry", "user"]

SPEC = listing.ListSpec(
    path="/audit",
    columns=(
        listing.SortColumn("when", "When", AuditEvent.created_at, first_dir="desc"),
        listing.SortColumn("actor", "Who", listing.lower(AuditEvent.actor_label)),
        listing.SortColumn("action", "Action", AuditEvent.action),
        listing.SortColumn("subject", "Subject", AuditEvent.subject_type),
    ),
    default_sort="when",
    filters=(
        listing.Filter("action", "Action", "text"),
        listing.Filter("subject_type", "Subject type", "text", max_length=50),
        listing.Filter("actor", "Who", "id"),
        listing.Filter("date_from", "From", "date"),
        listing.Filter("date_to", "To", "date"),
    ),
)


def _filtered(view: listing.Listing, org: Org) -> Select[Any]:
    stmt = select(AuditEvent).where(AuditEvent.org_id == org.id)
    if action := view.value("action"):
        stmt = stmt.where(AuditEvent.action == action)
    if subject_type := view.value("subject_type"):
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    if actor := view.value("actor"):
        stmt = stmt.where(AuditEvent.actor_user_id == actor)
    since, until = listing.day_bounds(view, org.timezone)
    if since:
        stmt = stmt.where(AuditEvent.created_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.created_at < until)
    return stmt


@router.get("")
def audit_log(request: Request, session: SessionDep, account: AdminPage) -> Response:
    org = account.org
    view = listing.parse(SPEC, request.query_params)
    events: list[AuditEvent] = []
    more: str | None = None
    error, code = view.error, view.status
    if error is None:
        try:
            result = listing.page(session, _filtered(view, org), view, AuditEvent.id, limit=50)
            events, more = result.items, result.next_cursor
        except RegentraError as exc:
            error, code = exc.message, exc.status
    known_types = sorted({*SUBJECT_TYPES, *(e.subject_type for e in events)})
    context = {
        "title": "Audit log",
        "events": events,
        "words": Presenter.load(session, org, events),
        "actions": service.list_actions(session, org_id=org.id),
        "subject_types": known_types,
        "people": sorted(list_users(session, org_id=org.id), key=lambda u: u.display_name.lower()),
        "list": view,
        "filters": view.raw,
        "next_cursor": more,
        "error": error,
    }
    return render(request, "audit/list.html", context, status=code)
