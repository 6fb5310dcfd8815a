"""PSA → Invoices, the list: newest first, sortable columns, filters (status, client, created
between two days, a failed payment) and the totals per currency of everything filtered.

Approvers and admins read it; technicians get 403 (the API's rules).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Select

from regentra.clients.service import all_clients
from regentra.errors import RegentraError
from regentra.http.deps import SessionDep
from regentra.invoices import after_payment, service
from regentra.models import Invoice, InvoiceStatus
from regentra.web import listing
from regentra.web.auth import ApproverPage
from regentra.web.templating import render

router = APIRouter(prefix="/invoices")

# The status filter, in the order an invoice's life goes.
STATUSES = tuple(
    s.value
    for s in (
        InvoiceStatus.draft,
        InvoiceStatus.sent,
        InvoiceStatus.overdue,
        InvoiceStatus.paid,
        InvoiceStatus.void,
    )
)

_CLIENT_NAME = listing.client_name(Invoice)

SPEC = listing.ListSpec(
    path="/invoices",
    columns=(
        listing.SortColumn("number", "Number", Invoice.number),
        listing.SortColumn("client", "Client", _CLIENT_NAME),
        listing.SortColumn("status", "Status", Invoice.status),
        listing.SortColumn("total", "Total", Invoice.total, first_dir="desc"),
        listing.SortColumn("due", "Due", Invoice.due_date, nullable=True),
        listing.SortColumn("created", "Created", Invoice.created_at, first_dir="desc"),
    ),
    default_sort="created",
    filters=(
        listing.Filter("status", "Status", "choice", choices=STATUSES),
        listing.Filter("client_id", "Client", "id"),
        listing.Filter("date_from", "Created from", "date"),
        listing.Filter("date_to", "Created to", "date"),
        listing.Filter("payment_failed", "Payment failed", "flag"),
    ),
)


def _filtered(view: listing.Listing, org_id: uuid.UUID, tz: str) -> Select[Any]:
    stmt = service.invoices.select(org_id)
    if status := view.value("status"):
        stmt = stmt.where(Invoice.status == status)
    if client_id := view.value("client_id"):
        stmt = stmt.where(Invoice.client_id == client_id)
    since, until = listing.day_bounds(view, tz)
    if since:
        stmt = stmt.where(Invoice.created_at >= since)
    if until:
        stmt = stmt.where(Invoice.created_at < until)
    if view.value("payment_failed"):  # the dashboard's "Payments failed" card links here
        stmt = stmt.where(Invoice.status.in_(service.OPEN), Invoice.payment_failure.is_not(None))
    return stmt


@router.get("")
def invoices_page(request: Request, session: SessionDep, account: ApproverPage) -> Response:
    org = account.org
    view = listing.parse(SPEC, request.query_params)
    found: list[Invoice] = []
    more: str | None = None
    totals: dict[str, int] = {}
    count = 0
    error, code = view.error, view.status
    if error is None:
        stmt = _filtered(view, org.id, org.timezone)
        try:
            result = listing.page(session, stmt, view, Invoice.id, limit=50)
            found, more = result.items, result.next_cursor
            totals = listing.sums_by_currency(session, stmt, "total")
            count = listing.count(session, stmt)
        except RegentraError as exc:
            error, code = exc.message, exc.status
    context = {
        "title": "Invoices",
        "invoices": found,
        "badges": after_payment.badges_for(
            session, org_id=org.id, invoices=[(i.id, i.currency) for i in found]
        ),
        "clients": {c.id: c for c in all_clients(session, org_id=org.id)},
        "statuses": STATUSES,
        "list": view,
        "filters": view.raw,
        "next_cursor": more,
        "totals": totals,
        "count": count,
        "error": error,
    }
    return render(request, "invoices/list.html", context, status=code)
