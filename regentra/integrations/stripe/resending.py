"""Send an open invoice to the client again: Stripe's `POST /v1/invoices/{id}/send` on an
open invoice emails it once more (docs.stripe.com/api/invoices/send).

Kept apart from `sending` (the first send, which finalizes): a resend changes nothing here
but the audit log ("invoice.resent"), and each one is a new email, so it carries its own
idempotency key. The first send's key (`regentra:invoice-send:{id}:{sid}:send`) would only
replay that send's saved answer for the 24 h Stripe keeps keys, and email nobody. The key
is made once per resend, so the SDK's own network retries of that request stay idempotent.

Only sent and overdue invoices are resent (a draft is sent, not resent; a paid or void one
has nothing to pay), and only while the org's Regentra subscription allows sending invoices
(`billing.require_can_send`, as for a first send: not when it is canceled or the trial is
over), refused in words (409) before Stripe is asked. The Stripe invoice is
read first: paid, void or uncollectible in Stripe meanwhile is refused too, so a client is
never emailed an invoice that cannot or need not be paid.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.billing import service as billing
from regentra.clients.service import clients
from regentra.integrations.stripe import client as stripe_client
from regentra.integrations.stripe.client import idempotency_key, request_options
from regentra.integrations.stripe.errors import StripeInvoiceClosed
from regentra.invoices import service
from regentra.invoices.errors import InvoiceNotOpen
from regentra.models import Invoice, InvoiceStatus, Org, User

log = structlog.get_logger(__name__)

RESEND_OP = "invoice-resend"


def _check_resendable(invoice: Invoice) -> str:
    """The invoice's Stripe id when it can be sent again, else a 409 that says why."""
    status = invoice.status
    if status == InvoiceStatus.draft.value:
        why = "is a draft: send it first (only a sent or overdue invoice is sent again)"
    elif status == InvoiceStatus.paid.value:
        why = "is already paid: there is nothing left for the client to pay"
    elif status == InvoiceStatus.void.value:
        why = "is void: its payment link no longer works, so it is not sent again"
    elif invoice.stripe_invoice_id is None:
        why = "has no Stripe invoice to send again"
    else:
        return invoice.stripe_invoice_id
    raise InvoiceNotOpen(f"invoice {invoice.number} {why}")


def _closed_in_stripe(invoice: Invoice, sid: str, status: str) -> StripeInvoiceClosed:
    if status == "paid":
        then = (
            "the client has paid it: it shows as paid here once Stripe's notice arrives or "
            "reconciliation runs"
        )
    else:
        then = "it can no longer be paid, so it was not sent again"
    return StripeInvoiceClosed(
        f"invoice {invoice.number} is {status} in Stripe ({sid}): {then}",
        details={"stripe_status": status},
    )


def resend(session: Session, *, org: Org, user: User, invoice_id: uuid.UUID) -> Invoice:
    """Email a sent or overdue invoice to the client again through Stripe, with a new
    idempotency key each time, and audit it ("invoice.resent"). 409 `not_open` for drafts,
    paid and void invoices; 409 `subscription_required` when the org's Regentra subscription
    is canceled (or its trial is over), as for a first send; 409 `stripe_invoice_closed` when
    Stripe has it paid, void or uncollectible; 409 `stripe_not_connected` without Stripe."""
    invoice = service.get(session, org_id=org.id, invoice_id=invoice_id)
    sid = _check_resendable(invoice)
    billing.require_can_send(session, org)  # the org's own Regentra subscription, as `send`
    stripe = stripe_client.for_org(session, org.id)
    client = clients.get(session, org_id=org.id, id=invoice.client_id)
    email = client.billing_email
    session.commit()  # hold no database lock while Stripe answers

    def retrieve(c: Any) -> Any:
        return c.v1.invoices.retrieve(sid)

    found = stripe.find(retrieve, op="invoices.retrieve")
    status = found.to_dict().get("status") if found is not None else None
    if status != "open":
        raise _closed_in_stripe(invoice, sid, status or "deleted")
    key = idempotency_key(RESEND_OP, f"{invoice.id}:{sid}:{uuid.uuid4()}")
    stripe.call(
        lambda c: c.v1.invoices.send_invoice(sid, None, request_options(key)),
        op="invoices.send_invoice",
    )
    session.refresh(invoice)  # as it is now (a webhook may have changed it meanwhile)
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice.resent",
        subject_type="invoice",
        subject_id=invoice.id,
        details={
            "number": invoice.number,
            "stripe_invoice_id": sid,
            "billing_email": email,
            "message": f"sent again to {email} through Stripe",
        },
    )
    log.info(
        "invoice sent again through Stripe",
        org_id=str(org.id),
        invoice_id=str(invoice.id),
        stripe_invoice_id=sid,
    )
    return invoice
