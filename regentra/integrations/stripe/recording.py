"""Record a payment received outside Stripe (a cheque, a wire): the Stripe invoice is marked
paid out of band (`POST /v1/invoices/{id}/pay` with `paid_out_of_band=true`: no charge, so no
fee; docs.stripe.com/api/invoices/pay), then ours moves to paid through the same conditional
transition as a webhook (`invoices.transitions.mark_paid`), so Stripe, Regentra and QuickBooks
agree. The payment bridge then books the QuickBooks Payment to the mapping's "Deposit account
for payments outside Stripe" (Stripe reports no charge for it: `fees.NoCharge`), and no fee.

Kept apart from `sending` and `resending` (same shape as the latter). Only sent and overdue
invoices, refused in words (409) before Stripe is asked: a draft was never sent, a paid one is
paid (final, in Stripe too), a void one is closed; so is one whose bank payment is processing
(Stripe refuses to mark it paid then). The date received may not be in the future (the org's
time zone); it becomes the invoice's paid date, hence the QuickBooks Payment's date.

Exactly once, however it is clicked: the pay call carries one idempotency key per invoice
(`regentra:invoice-record-payment:{id}:{sid}`), so a double submit, or a retry after Stripe's
answer was lost, gets Stripe's saved answer instead of "already paid"; the transition is
conditional, so only one request writes the "invoice.paid" audit entry (who, method,
reference, amount, date received). The `invoice.paid` event Stripe then sends (reconciliation
finds the same) moves nothing: the invoice is already paid here. Should that event be handled
before this request's transition (it follows Stripe's answer within milliseconds), the
payment is still recorded as received outside Stripe ("invoice.payment_recorded", with the
date received as the paid date).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.errors import Invalid
from regentra.integrations.stripe import client as stripe_client
from regentra.integrations.stripe.amounts import amount_of
from regentra.integrations.stripe.client import idempotency_key, request_options
from regentra.integrations.stripe.errors import StripeInvalidRequest, StripeInvoiceClosed
from regentra.invoices import service, transitions
from regentra.invoices.errors import InvoiceNotOpen
from regentra.kit.money import format_money
from regentra.kit.time import utcnow
from regentra.models import AuditEvent, Invoice, InvoiceStatus, Org, User

log = structlog.get_logger(__name__)

RECORD_OP = "invoice-record-payment"
Method = Literal["cheque", "wire", "other"]
METHODS: dict[str, str] = {"cheque": "cheque", "wire": "wire transfer", "other": "other"}
MAX_REFERENCE = 100


@dataclass(frozen=True)
class Received:
    """What the admin says was received: how, its reference (a cheque number), and when."""

    method: str
    reference: str | None
    received_on: date


def received(org: Org, *, method: str, reference: str | None, received_on: date | None) -> Received:
    """The payment's facts, checked (422 in words): a known method, a reference of at most
    100 characters, a date received that is not in the future (the org's today by default)."""
    if method not in METHODS:
        raise Invalid("Payment method must be one of: cheque, wire, other")
    reference = (reference or "").strip() or None
    if reference is not None and len(reference) > MAX_REFERENCE:
        raise Invalid(f"Reference must be at most {MAX_REFERENCE} characters")
    today = transitions.org_today(org)
    if received_on is None:
        received_on = today
    elif received_on > today:
        raise Invalid(f"Date received cannot be in the future (today is {today.isoformat()})")
    return Received(method=method, reference=reference, received_on=received_on)


def describe(method: Any, reference: Any) -> str:
    """ "cheque 1234", "wire transfer", "other (ref 7)": how a payment outside Stripe is named."""
    words = METHODS.get(str(method), str(method))
    if not reference:
        return words
    return f"{words} {reference}" if method == "cheque" else f"{words} (ref {reference})"


def _check_recordable(invoice: Invoice) -> str:
    """The invoice's Stripe id when a payment can be recorded on it, else a 409 saying why."""
    status = invoice.status
    if status == InvoiceStatus.draft.value:
        why = "is a draft: send it first (a payment is recorded on a sent or overdue invoice)"
    elif status == InvoiceStatus.paid.value:
        why = "is already paid: its payment is recorded"
    elif status == InvoiceStatus.void.value:
        why = "is void: nothing is owed on it"
    elif invoice.stripe_invoice_id is None:
        why = "has no Stripe invoice to mark paid"
    elif invoice.payment_processing_at is not None:
        why = (
            "has a bank payment processing in Stripe: wait until it settles or fails, then "
            "record the payment if it failed"
        )
    else:
        return invoice.stripe_invoice_id
    raise InvoiceNotOpen(f"invoice {invoice.number} {why}")


def _paid_at(org: Org, received_on: date) -> datetime:
    """The paid date: now when it was received today, else the start of that day (the org's
    time zone), so the day is the same wherever it is read."""
    zone = ZoneInfo(org.timezone)
    now = utcnow()
    if received_on == now.astimezone(zone).date():
        return now
    return datetime.combine(received_on, time(0), zone).astimezone(UTC)


def _closed_in_stripe(stripe: Any, invoice: Invoice, sid: str, refused: Exception) -> Exception:
    """Stripe refused to mark it paid: say why in words when the invoice is closed there."""

    def retrieve(c: Any) -> Any:
        return c.v1.invoices.retrieve(sid)

    found = stripe.find(retrieve, op="invoices.retrieve")
    status = found.to_dict().get("status") if found is not None else "deleted"
    if status == "paid":
        then = (
            "the client paid it, or it was marked paid there: it shows as paid here once "
            "Stripe's notice arrives or reconciliation runs"
        )
    elif status in ("void", "deleted"):
        then = "nothing can be paid on it"
    else:
        return refused
    return StripeInvoiceClosed(
        f"invoice {invoice.number} is {status} in Stripe ({sid}): {then}",
        details={"stripe_status": status},
    )


def _recorded_before(session: Session, invoice: Invoice) -> bool:
    """Whether a payment outside Stripe is already recorded on the invoice."""
    found = session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.org_id == invoice.org_id,
            AuditEvent.subject_type == "invoice",
            AuditEvent.subject_id == str(invoice.id),
            AuditEvent.action.in_(("invoice.paid", "invoice.payment_recorded")),
        )
        .where(AuditEvent.details["method"].as_string().is_not(None))
        .limit(1)
    )
    return found is not None


def record_payment(
    session: Session,
    *,
    org: Org,
    user: User,
    invoice_id: uuid.UUID,
    method: str,
    reference: str | None = None,
    received_on: date | None = None,
) -> Invoice:
    """Mark a sent or overdue invoice paid with a payment received outside Stripe (see the
    module doc). 422 for bad input; 409 `not_open` for drafts, paid and void invoices (and
    while a bank payment processes); 409 `stripe_invoice_closed` when Stripe has it paid or
    void already; 409 `stripe_not_connected` without Stripe."""
    invoice = service.get(session, org_id=org.id, invoice_id=invoice_id)
    facts = received(org, method=method, reference=reference, received_on=received_on)
    sid = _check_recordable(invoice)
    stripe = stripe_client.for_org(session, org.id)
    session.commit()  # hold no database lock while Stripe answers

    key = idempotency_key(RECORD_OP, f"{invoice.id}:{sid}")
    try:
        paid = stripe.call(
            lambda c: c.v1.invoices.pay(sid, {"paid_out_of_band": True}, request_options(key)),
            op="invoices.pay",
        ).to_dict()
    except StripeInvalidRequest as exc:
        raise _closed_in_stripe(stripe, invoice, sid, exc) from None
    amount = amount_of(paid, "amount_paid")
    how = describe(facts.method, facts.reference)
    who = user.name or user.email
    details = {
        "method": facts.method,
        "reference": facts.reference,
        "received_on": facts.received_on.isoformat(),
        "recorded_by": who,
    }
    moved = transitions.mark_paid(
        session,
        org_id=org.id,
        stripe_invoice_id=sid,
        paid_at=_paid_at(org, facts.received_on),
        amount_paid=amount,
        source="outside_stripe",
        actor=Actor.of(user),
        message=f"payment recorded outside Stripe ({how}) by {who}",
        details=details,
    )
    session.refresh(invoice)
    if moved is None:
        _after_a_race(session, org=org, user=user, invoice=invoice, details=details, how=how)
    log.info(
        "payment outside Stripe recorded",
        org_id=str(org.id),
        invoice_id=str(invoice.id),
        stripe_invoice_id=sid,
        method=facts.method,
    )
    return invoice


def _after_a_race(
    session: Session,
    *,
    org: Org,
    user: User,
    invoice: Invoice,
    details: dict[str, Any],
    how: str,
) -> None:
    """The transition did not move the invoice: another request recorded this payment first
    (a double submit: 409, recorded once), or Stripe's own `invoice.paid` for this payment was
    handled first; then the payment is still recorded as received outside Stripe, dated as
    received."""
    # Two of these at once (a double submit after Stripe's webhook won): the invoice's row
    # lock makes the second wait for the first's commit, then see its record and refuse
    # (PostgreSQL; on SQLite the one write lock already keeps the two apart).
    session.execute(
        select(Invoice.id)
        .where(Invoice.org_id == org.id, Invoice.id == invoice.id)
        .with_for_update()
    )
    session.refresh(invoice)
    if invoice.status != InvoiceStatus.paid.value:
        raise InvoiceNotOpen(f"invoice {invoice.number} is {invoice.status}: nothing is owed on it")
    if _recorded_before(session, invoice):
        raise InvoiceNotOpen(f"invoice {invoice.number} is already paid: its payment is recorded")
    received_on = date.fromisoformat(details["received_on"])
    session.execute(
        update(Invoice)
        .where(
            Invoice.org_id == org.id,
            Invoice.id == invoice.id,
            Invoice.status == InvoiceStatus.paid.value,
        )
        .values(paid_at=_paid_at(org, received_on), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(invoice)
    amount = invoice.amount_paid if invoice.amount_paid is not None else invoice.total
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice.payment_recorded",
        subject_type="invoice",
        subject_id=invoice.id,
        details={
            "message": f"payment recorded outside Stripe ({how}) by {details['recorded_by']}",
            "number": invoice.number,
            "amount_paid": amount,
            "amount": format_money(amount, invoice.currency),
            "stripe_invoice_id": invoice.stripe_invoice_id,
            **details,
        },
    )
