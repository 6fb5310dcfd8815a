"""Refund a paid invoice from Regentra, fully or in part, through the org's Stripe account.

The refund is recorded first, as a `refunds` row with status `requested` (committed before
Stripe is called), and that row's id makes the Stripe idempotency key and the refund's
`metadata.regentra_refund_id`: a retry of the same request makes no second refund, while two
equal partial refunds are two rows and so two refunds. Stripe's answer is mirrored through
`movements.apply_refund`, as a webhook or reconciliation would; Stripe's refusal (a disputed
charge, more than is left) marks the row failed with Stripe's words and answers 4xx. A request
Stripe did not answer (an outage, a timeout) is answered as it stands, `requested` (still
counted against what is left, so asking again cannot refund twice): reconciliation submits it
again with the same key while Stripe keeps it (24 h), and after that finds it by its metadata
or ends it as failed, so nothing is refunded twice.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.db import session_scope
from regentra.errors import Conflict, Invalid, NotFound, RegentraError
from regentra.integrations.stripe import client as stripe_client
from regentra.integrations.stripe import fees, movements
from regentra.integrations.stripe.amounts import to_stripe
from regentra.integrations.stripe.client import OrgStripe, idempotency_key, request_options
from regentra.integrations.stripe.errors import StripeUnavailable
from regentra.invoices import service as invoicing
from regentra.kit.currencies import line_step
from regentra.kit.money import format_money
from regentra.kit.time import utcnow
from regentra.models import (
    REFUND_COUNTED,
    REFUND_REASONS,
    Dispute,
    Invoice,
    InvoiceStatus,
    Org,
    Refund,
    RefundStatus,
    User,
)

log = structlog.get_logger(__name__)

REFUND_OP = "refund"
NOTE_MAX = 500
KEY_KEPT = timedelta(hours=23)  # Stripe keeps an idempotency key at least 24 h
RESUBMIT_AFTER = timedelta(minutes=5)  # a request younger than this may still be answered


def refunded(session: Session, *, org_id: uuid.UUID, invoice_id: uuid.UUID) -> int:
    """What has left (or is leaving) through refunds, plus what is asked for and not answered:
    what can no longer be refunded."""
    total = session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.org_id == org_id,
            Refund.invoice_id == invoice_id,
            Refund.status.in_((*REFUND_COUNTED, RefundStatus.requested.value)),
        )
    )
    return int(total or 0)


def _check(session: Session, invoice: Invoice, amount: int, reason: str | None) -> None:
    if invoice.status != InvoiceStatus.paid.value:
        raise Conflict(
            f"invoice {invoice.number} is {invoice.status}: only a paid invoice can be refunded",
            code="not_paid",
        )
    if invoice.stripe_invoice_id is None:
        raise Conflict(
            f"invoice {invoice.number} was not paid through Stripe: refund it where it was paid",
            code="not_in_stripe",
        )
    if reason is not None and reason not in REFUND_REASONS:
        raise Invalid(
            "Reason must be one of: duplicate, fraudulent, requested by customer",
            code="invalid_reason",
        )
    if amount <= 0:
        raise Invalid("Amount must be more than zero", code="invalid_amount")
    step = line_step(invoice.currency)
    if amount % step:  # Stripe's three-decimal currencies take amounts ending in 0
        raise Invalid(
            f"Amount in {invoice.currency} must be a multiple of "
            f"{format_money(step, invoice.currency)}",
            code="invalid_amount",
        )
    disputed = session.scalar(
        select(Dispute.status).where(
            Dispute.org_id == invoice.org_id, Dispute.invoice_id == invoice.id
        )
    )
    if disputed is not None:
        raise Conflict(
            f"the payment of invoice {invoice.number} is disputed ({disputed.replace('_', ' ')}): "
            "Stripe refunds nothing on a disputed payment; respond to the dispute instead",
            code="disputed",
        )
    paid = invoice.amount_paid if invoice.amount_paid is not None else invoice.total
    left = paid - refunded(session, org_id=invoice.org_id, invoice_id=invoice.id)
    if amount > left:
        raise Invalid(
            f"Amount is more than can be refunded: {format_money(max(left, 0), invoice.currency)} "
            f"of {format_money(paid, invoice.currency)} is left",
            code="amount_too_large",
        )


def refund(
    session: Session,
    *,
    org: Org,
    user: User,
    invoice_id: uuid.UUID,
    amount: int,
    reason: str | None,
    note: str | None,
) -> Refund:
    """Refund `amount` (minor units of the invoice's currency) of a paid invoice (see the
    module doc). Commits: the row before Stripe is called, and Stripe's answer after."""
    invoice = session.scalar(
        invoicing.invoices.select(org.id)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        raise NotFound("invoice not found")
    words = (note or "").strip() or None
    if words is not None and len(words) > NOTE_MAX:
        raise Invalid(f"Note must be at most {NOTE_MAX} characters", code="note_too_long")
    _check(session, invoice, amount, reason)
    stripe = stripe_client.for_org(session, org.id)
    row = Refund(
        org_id=org.id,
        invoice_id=invoice.id,
        amount=amount,
        currency=invoice.currency,
        status=RefundStatus.requested.value,
        reason=reason,
        note=words,
        requested_by_id=user.id,
    )
    session.add(row)
    session.flush()
    record(
        session,
        org_id=org.id,
        actor=Actor.of(user),
        action="invoice.refund_requested",
        subject_type="invoice",
        subject_id=invoice.id,
        details={
            "message": f"refund of {format_money(amount, invoice.currency)} requested",
            "number": invoice.number,
            "refund_id": str(row.id),
            "amount": amount,
            "currency": invoice.currency,
            "reason": reason,
            "note": words,
        },
    )
    session.commit()  # the row exists before Stripe is asked; no lock held while it answers
    try:
        submit(session, stripe, row_id=row.id)
    except StripeUnavailable as exc:
        # Recorded, not answered: it stays `requested` (counted against what is left, so it
        # cannot be asked for twice) and reconciliation submits it again with the same key.
        session.rollback()
        log.warning("refund not answered by Stripe", refund_id=str(row.id), error=exc.message)
    session.refresh(row)
    return row


def _params(row: Refund, invoice: Invoice, intent: str) -> dict[str, Any]:
    metadata = {"regentra_refund_id": str(row.id), "regentra_invoice": invoice.number}
    if row.note:
        metadata["regentra_note"] = row.note
    params: dict[str, Any] = {
        "payment_intent": intent,
        "amount": to_stripe(row.amount, row.currency),
        "metadata": metadata,
        "expand": ["balance_transaction"],
    }
    if row.reason:
        params["reason"] = row.reason
    return params


def _fail(session: Session, row: Refund, invoice: Invoice, why: str) -> None:
    """End a refund still `requested` (and only such: a webhook or reconciliation may have
    mirrored Stripe's answer meanwhile) as failed, audited."""
    session.refresh(row, with_for_update=True)
    if row.status != RefundStatus.requested.value:
        return
    row.status = RefundStatus.failed.value
    row.failure_reason = why[:255]
    record(
        session,
        org_id=row.org_id,
        actor=Actor.system(),
        action="invoice.refund_failed",
        subject_type="invoice",
        subject_id=invoice.id,
        details={
            "message": f"refund of {format_money(row.amount, row.currency)} failed: {why}",
            "number": invoice.number,
            "refund_id": str(row.id),
        },
    )


def submit(session: Session, stripe: OrgStripe, *, row_id: uuid.UUID) -> None:
    """Ask Stripe for a requested refund (its key from the row's id) and mirror the answer.
    `session` has no transaction open; each step commits. A refusal fails the row and is
    raised (4xx); an outage is raised with the row still requested."""
    row = session.get(Refund, row_id, populate_existing=True)
    if row is None or row.status != RefundStatus.requested.value:
        return
    invoice = session.get(Invoice, row.invoice_id)
    assert invoice is not None and invoice.stripe_invoice_id is not None
    stripe_invoice_id = invoice.stripe_invoice_id
    intent = invoice.stripe_payment_intent_id
    session.commit()
    try:
        intent = intent or fees.paid_intent(stripe, stripe_invoice_id)
        if intent is None:
            raise Conflict(
                f"invoice {invoice.number} was paid in Stripe without a card or bank payment: "
                "there is no payment to refund",
                code="no_payment",
            )
        key = idempotency_key(REFUND_OP, row.id)
        params = _params(row, invoice, intent)
        made = stripe.call(
            lambda c: c.v1.refunds.create(params, request_options(key)), op="refunds.create"
        ).to_dict()
    except StripeUnavailable:
        raise
    except RegentraError as exc:
        _fail(session, row, invoice, exc.message)
        session.commit()
        raise
    payments = movements.Payments(known={intent: invoice.id})
    if invoice.stripe_payment_intent_id is None:
        invoice.stripe_payment_intent_id = intent
    movements.apply_refund(session, row.org_id, made, payments, source="api")
    session.commit()


def heal_requested(org_id: uuid.UUID) -> int:
    """Refunds still `requested` after `RESUBMIT_AFTER` (the request's answer was lost): within
    `KEY_KEPT`, submitted again with their key (Stripe answers with the same refund); later,
    found among the payment's refunds by metadata, else ended as failed. How many moved."""
    now = utcnow()
    with session_scope() as session:
        stale = list(
            session.scalars(
                select(Refund.id).where(
                    Refund.org_id == org_id,
                    Refund.status == RefundStatus.requested.value,
                    Refund.created_at < now - RESUBMIT_AFTER,
                )
            )
        )
    if not stale:
        return 0
    with session_scope() as session:
        stripe = stripe_client.for_org(session, org_id)
    moved = 0
    for row_id in stale:
        with session_scope() as session:
            row = session.get(Refund, row_id)
            if row is None:
                continue
            young = row.created_at > now - KEY_KEPT
            try:
                if young:
                    submit(session, stripe, row_id=row_id)
                else:
                    _find_or_end(session, stripe, row)
            except StripeUnavailable:
                raise
            except RegentraError as exc:
                log.info("requested refund ended", refund_id=str(row_id), error=exc.message)
            moved += 1
    return moved


def _find_or_end(session: Session, stripe: OrgStripe, row: Refund) -> None:
    invoice = session.get(Invoice, row.invoice_id)
    assert invoice is not None and invoice.stripe_invoice_id is not None
    intent, stripe_invoice_id = invoice.stripe_payment_intent_id, invoice.stripe_invoice_id
    session.commit()
    intent = intent or fees.paid_intent(stripe, stripe_invoice_id)
    found = None
    if intent is not None:
        params = {"payment_intent": intent, "limit": 100, "expand": ["data.balance_transaction"]}
        for made in stripe.iterate(lambda c: c.v1.refunds.list(params=params), op="refunds.list"):
            if (made.get("metadata") or {}).get("regentra_refund_id") == str(row.id):
                found = made
                break
    if found is not None:
        payments = movements.Payments(known={intent: invoice.id} if intent else {})
        movements.apply_refund(session, row.org_id, found, payments, source="reconciliation")
    else:
        _fail(session, row, invoice, "Stripe has no record of this refund: it was not made")
    session.commit()
