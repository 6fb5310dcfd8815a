"""Invoices: generate from approved time (admins), edit drafts, send through Stripe, void.

Admins and approvers can read invoices; only admins change them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from regentra.api import serialize
from regentra.api.deps import AdminUser, ApproverUser, CurrentOrg, SessionDep
from regentra.clients.service import clients
from regentra.integrations.stripe import sending
from regentra.invoices import service
from regentra.invoices.schemas import InvoiceCreate, InvoiceUpdate, LineCreate, VoidBody
from regentra.models import Invoice

router = APIRouter(prefix="/invoices", tags=["invoices"])

Status = Literal["draft", "sent", "paid", "overdue", "void"]


def _full(session: Session, invoice: Invoice) -> dict[str, Any]:
    client = clients.find(session, org_id=invoice.org_id, id=invoice.client_id)
    body = serialize.invoice(invoice, client_name=client.name if client else None)
    body["lines"] = [serialize.invoice_line(line) for line in service.lines_of(session, invoice)]
    body["timeline"] = [
        serialize.audit_event(event) for event in service.timeline(session, invoice=invoice)
    ]
    return body


@router.post("", status_code=201)
def generate(
    body: InvoiceCreate, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> dict[str, Any]:
    return _full(session, service.generate(session, org=org, user=user, data=body))


@router.get("")
def list_invoices(
    session: SessionDep,
    user: ApproverUser,
    status: Status | None = None,
    client_id: uuid.UUID | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    page = service.list_invoices(
        session, org_id=user.org_id, status=status, client_id=client_id, limit=limit, cursor=cursor
    )
    return page.map(serialize.invoice)


@router.get("/preview")
def preview(
    client_id: uuid.UUID,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
    period_start: date | None = None,
    period_end: date | None = None,
) -> dict[str, Any]:
    """What generating would bill now: the approved entries and the total (nothing locked)."""
    found = service.preview(
        session, org=org, client_id=client_id, period_start=period_start, period_end=period_end
    )
    return {
        "client_id": str(found.client.id),
        "currency": found.currency,
        "total": found.total,
        "lines": [
            {
                "time_entry_id": str(line.time_entry_id),
                "work_date": line.work_date.isoformat(),
                "ticket_id": str(line.ticket_id),
                "ticket_title": line.ticket_title,
                "technician_id": str(line.technician_id),
                "technician_name": line.technician_name,
                "minutes": line.minutes,
                "hourly_rate": line.hourly_rate,
                "amount": line.amount,
                "description": line.description,
            }
            for line in found.lines
        ],
    }


@router.get("/{invoice_id}")
def get_invoice(invoice_id: uuid.UUID, session: SessionDep, user: ApproverUser) -> dict[str, Any]:
    return _full(session, service.get(session, org_id=user.org_id, invoice_id=invoice_id))


@router.patch("/{invoice_id}")
def update_invoice(
    invoice_id: uuid.UUID,
    body: InvoiceUpdate,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> dict[str, Any]:
    invoice = service.update_draft(session, org=org, user=user, invoice_id=invoice_id, data=body)
    return _full(session, invoice)


@router.delete("/{invoice_id}", status_code=204)
def delete_invoice(
    invoice_id: uuid.UUID, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> Response:
    service.delete_draft(session, org=org, user=user, invoice_id=invoice_id)
    return Response(status_code=204)


@router.post("/{invoice_id}/lines", status_code=201)
def add_line(
    invoice_id: uuid.UUID,
    body: LineCreate,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> dict[str, Any]:
    """Add a manual line or a catalog item; answers the whole invoice (its total changed)."""
    invoice = service.add_line(session, org=org, user=user, invoice_id=invoice_id, data=body)
    return _full(session, invoice)


@router.delete("/{invoice_id}/lines/{line_id}")
def remove_line(
    invoice_id: uuid.UUID,
    line_id: uuid.UUID,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> dict[str, Any]:
    invoice = service.remove_line(
        session, org=org, user=user, invoice_id=invoice_id, line_id=line_id
    )
    return _full(session, invoice)


@router.post("/{invoice_id}/send")
def send_invoice(
    invoice_id: uuid.UUID, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> dict[str, Any]:
    return _full(session, sending.send(session, org=org, user=user, invoice_id=invoice_id))


@router.post("/{invoice_id}/void")
def void_invoice(
    invoice_id: uuid.UUID,
    body: VoidBody,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> dict[str, Any]:
    invoice = sending.void(
        session, org=org, user=user, invoice_id=invoice_id, release_entries=body.release_entries
    )
    return _full(session, invoice)
