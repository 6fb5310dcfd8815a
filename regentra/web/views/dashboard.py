"""The home page: what needs my attention, and what I did lately."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response

from regentra.audit import service as audit
from regentra.http.deps import SessionDep
from regentra.invoices import receivables
from regentra.invoices import service as invoicing
from regentra.models import EntryStatus
from regentra.web import queries
from regentra.web.audit_words import Presenter
from regentra.web.auth import SignedIn
from regentra.web.templating import render

router = APIRouter()


@router.get("/")
def dashboard(request: Request, session: SessionDep, account: SignedIn) -> Response:
    user, org = account.user, account.org
    counts = {
        "drafts": queries.count_entries(
            session, org_id=org.id, status=EntryStatus.draft, technician_id=user.id
        ),
        "submitted": queries.count_entries(
            session, org_id=org.id, status=EntryStatus.submitted, technician_id=user.id
        ),
        "rejected": queries.count_entries(
            session, org_id=org.id, status=EntryStatus.rejected, technician_id=user.id
        ),
        "open_tickets": queries.count_open_tickets(session, org_id=org.id),
        "awaiting": None,
    }
    if account.viewer.is_approver:
        counts["awaiting"] = queries.count_entries(
            session, org_id=org.id, status=EntryStatus.submitted
        )
    activity = audit.list_events(session, org_id=org.id, actor_user_id=user.id, limit=10).items
    words = Presenter.load(session, org, activity)  # the subjects' names, in one look-up each
    money = failed = None
    if account.viewer.is_admin:
        money = receivables.described(session, org_id=org.id)
        failed = invoicing.count_payment_failed(session, org_id=org.id)
    months = [] if money is None else money["months"]
    context = {
        "title": "Dashboard",
        # "Jan 2026": the chart's labels and its table's
        "chart_months": [date.fromisoformat(m + "-01").strftime("%b %Y") for m in months],
        "counts": counts,
        "activity": activity,
        "words": words,
        "money": money,
        "payment_failed": failed,
    }
    return render(request, "dashboard/index.html", context)
