"""Invoices: generate from approved time (admins), edit drafts, send through Stripe, void.

Admins and approvers can read invoices; only admins change them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from regentra.api.deps import AdminUser, ApproverUser, CurrentOrg, SessionDep
from regentra.api.quickbooks_mapping_schemas import InvoiceWithQuickBooks
from regentra.api.quickbooks_postings import invoice_postings
from regentra.api.responses import (
    BODY,
    CONFLICT,
    FOUND,
    NOT_CONNECTED,
    PARAMS,
    ROLE,
    STRIPE,
    errors,
)
from regentra.api.schemas import Page
from regentra.clients.service import clients
from regentra.integrations.stripe import recording, refunding, resending, sending
from regentra.invoices import after_payment, service
from regentra.invoices.schemas import (
    InvoiceCreate,
    InvoiceDetail,
    InvoiceOut,
    InvoicePreview,
    InvoiceUpdate,
    LineCreate,
    RefundCreate,
    RefundOut,
    VoidBody,
)
from regentra.models import Invoice, InvoiceStatus

router = APIRouter(prefix="/invoices", tags=["invoices"])


def _full(session: Session, invoice: Invoice) -> InvoiceWithQuickBooks:
    # An invoice's client always exists: clients are never deleted, and the foreign key holds.
    client = clients.get(session, org_id=invoice.org_id, id=invoice.client_id)
    ids = {"org_id": invoice.org_id, "invoice_id": invoice.id}
    detail = InvoiceDetail.of(
        invoice,
        client_name=client.name,
        lines=service.lines_of(session, invoice),
        timeline=service.timeline(session, invoice=invoice),
        refunds=after_payment.refunds_of(session, **ids),
        disputes=after_payment.disputes_of(session, **ids),
    )
    quickbooks = invoice_postings(session, org_id=invoice.org_id, invoice_id=invoice.id)
    return InvoiceWithQuickBooks(**dict(detail), quickbooks=quickbooks)


# Everything that changes an invoice can meet a conflicting status (`not_draft`, ...).
CHANGE = (ROLE, FOUND, PARAMS, CONFLICT)


@router.post("", status_code=201, responses=errors(ROLE, BODY, CONFLICT))
def generate(
    body: InvoiceCreate, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> InvoiceWithQuickBooks:
    return _full(session, service.generate(session, org=org, user=user, data=body))


@router.get("", responses=errors(ROLE, PARAMS))
def list_invoices(
    session: SessionDep,
    user: ApproverUser,
    status: InvoiceStatus | None = None,
    client_id: uuid.UUID | None = None,
    payment_failed: bool = False,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[InvoiceOut]:
    """The org's invoices, newest first; `payment_failed=true`: only sent or overdue ones
    whose last payment attempt failed (`payment_failure` says why)."""
    page = service.list_invoices(
        session,
        org_id=user.org_id,
        status=status,
        client_id=client_id,
        payment_failed=payment_failed,
        limit=limit,
        cursor=cursor,
    )
    return Page[InvoiceOut].model_validate(page)


@router.get("/preview", responses=errors(ROLE, FOUND, PARAMS))
def preview(
    client_id: uuid.UUID,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
    period_start: date | None = None,
    period_end: date | None = None,
) -> InvoicePreview:
    """What generating would bill now: the approved entries and the total (nothing locked)."""
    found = service.preview(
        session, org=org, client_id=client_id, period_start=period_start, period_end=period_end
    )
    return InvoicePreview.model_validate(
        {
            "client_id": found.client.id,
            "currency": found.currency,
            "total": found.total,
            "lines": found.lines,
        }
    )


@router.get("/{invoice_id}", responses=errors(ROLE, FOUND, PARAMS))
def get_invoice(
    invoice_id: uuid.UUID, session: SessionDep, user: ApproverUser
) -> InvoiceWithQuickBooks:
    return _full(session, service.get(session, org_id=user.org_id, invoice_id=invoice_id))


@router.patch("/{invoice_id}", responses=errors(*CHANGE, BODY))
def update_invoice(
    invoice_id: uuid.UUID,
    body: InvoiceUpdate,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> InvoiceWithQuickBooks:
    invoice = service.update_draft(session, org=org, user=user, invoice_id=invoice_id, data=body)
    return _full(session, invoice)


@router.delete("/{invoice_id}", status_code=204, responses=errors(*CHANGE))
def delete_invoice(
    invoice_id: uuid.UUID, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> Response:
    service.delete_draft(session, org=org, user=user, invoice_id=invoice_id)
    return Response(status_code=204)


@router.post("/{invoice_id}/lines", status_code=201, responses=errors(*CHANGE, BODY))
def add_line(
    invoice_id: uuid.UUID,
    body: LineCreate,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> InvoiceWithQuickBooks:
    """Add a manual line or a catalog item; answers the whole invoice (its total changed)."""
    invoice = service.add_line(session, org=org, user=user, invoice_id=invoice_id, data=body)
    return _full(session, invoice)


@router.delete("/{invoice_id}/lines/{line_id}", responses=errors(*CHANGE))
def remove_line(
    invoice_id: uuid.UUID,
    line_id: uuid.UUID,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> InvoiceWithQuickBooks:
    invoice = service.remove_line(
        session, org=org, user=user, invoice_id=invoice_id, line_id=line_id
    )
    return _full(session, invoice)


@router.post("/{invoice_id}/send", responses=errors(*CHANGE, NOT_CONNECTED, STRIPE))
def send_invoice(
    invoice_id: uuid.UUID, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> InvoiceWithQuickBooks:
    return _full(session, sending.send(session, org=org, user=user, invoice_id=invoice_id))


@router.post("/{invoice_id}/resend", responses=errors(*CHANGE, NOT_CONNECTED, STRIPE))
def resend_invoice(
    invoice_id: uuid.UUID, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> InvoiceWithQuickBooks:
    """Email a sent or overdue invoice to the client again through Stripe (each call is a new
    email; audited as `invoice.resent`). 409 `not_open` for drafts, paid and void invoices;
    409 `stripe_invoice_closed` when Stripe already has it paid, void or uncollectible."""
    invoice = resending.resend(session, org=org, user=user, invoice_id=invoice_id)
    return _full(session, invoice)


class PaymentOutsideStripe(BaseModel):
    """A payment received outside Stripe: how, its reference (a cheque number), and when."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["cheque", "wire", "other"] = Field(
        description="How the client paid: `cheque`, `wire` or `other`."
    )
    reference: str | None = Field(
        default=None,
        max_length=recording.MAX_REFERENCE,
        description="The cheque number or the wire's reference (at most 100 characters).",
    )
    received_on: date | None = Field(
        default=None,
        description="When it was received (not in the future; default: today, in the org's "
        "time zone). The invoice's paid date, and the QuickBooks Payment's.",
    )


@router.post("/{invoice_id}/record-payment", responses=errors(*CHANGE, BODY, NOT_CONNECTED, STRIPE))
def record_payment(
    invoice_id: uuid.UUID,
    body: PaymentOutsideStripe,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> InvoiceWithQuickBooks:
    """Record a payment received outside Stripe (cheque, wire) on a sent or overdue invoice:
    the Stripe invoice is marked paid out of band (no charge, no fee), the invoice becomes
    paid (audited with who, the method, reference and amount), and QuickBooks, when
    connected, gets a Payment to the mapping's account for payments outside Stripe. Recorded
    once: a repeat is 409 `not_open`, as are drafts, paid and void invoices; 409
    `stripe_invoice_closed` when Stripe already has it paid or void."""
    invoice = recording.record_payment(
        session,
        org=org,
        user=user,
        invoice_id=invoice_id,
        method=body.method,
        reference=body.reference,
        received_on=body.received_on,
    )
    return _full(session, invoice)


@router.post("/{invoice_id}/void", responses=errors(*CHANGE, BODY, NOT_CONNECTED, STRIPE))
def void_invoice(
    invoice_id: uuid.UUID,
    body: VoidBody,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
) -> InvoiceWithQuickBooks:
    invoice = sending.void(
        session, org=org, user=user, invoice_id=invoice_id, release_entries=body.release_entries
    )
    return _full(session, invoice)


@router.post(
    "/{invoice_id}/refunds",
    status_code=201,
    responses=errors(*CHANGE, BODY, NOT_CONNECTED, STRIPE),
)
def refund_invoice(
    invoice_id: uuid.UUID,
    body: RefundCreate,
    session: SessionDep,
    user: AdminUser,
    org: CurrentOrg,
    response: Response,
) -> RefundOut:
    """Refund a paid invoice through Stripe, fully or in part. Each call is a new refund (two
    equal partial refunds are two refunds); the answer is the refund as Stripe left it. 202
    with status `requested` when Stripe did not answer: the refund is recorded and submitted
    again automatically (do not ask again)."""
    made = refunding.refund(
        session,
        org=org,
        user=user,
        invoice_id=invoice_id,
        amount=body.amount,
        reason=body.reason,
        note=body.note,
    )
    if made.status == "requested":
        response.status_code = 202
    return RefundOut.model_validate(made)
