"""Why a client's payment failed: the body of the `stripe.payment_failure` task.

`invoice.payment_failed` in current API versions carries no PaymentIntent (and never the
decline reason: the invoice's `last_finalization_error` is about finalizing), and the webhook
makes no Stripe call. So `handlers` enqueues this task after commit; it finds the invoice's
newest InvoicePayment (`invoice_payments.list`, then `payment.payment_intent`), reads that
PaymentIntent's `last_payment_error` and notes the reason on the invoice
(`transitions.note_payment_failure`; `mark_paid` clears it). Idempotent; Stripe outages
raise `StripeUnavailable` (transient: the task retries, and the pending-events sweep
re-enqueues what a crash dropped).
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from regentra.db import session_scope
from regentra.errors import RegentraError
from regentra.integrations.stripe import client, handlers
from regentra.integrations.stripe.errors import StripeUnavailable
from regentra.invoices import transitions
from regentra.kit.time import utcnow
from regentra.orgs.errors import StripeNotConnected

log = structlog.get_logger(__name__)


def _intent_id(payments: list[dict[str, Any]]) -> str | None:
    """The PaymentIntent of the newest InvoicePayment that is one (Stripe lists newest first)."""
    for payment in payments:
        inner = payment.get("payment")
        if isinstance(inner, dict) and inner.get("type") == "payment_intent":
            found = handlers.ref_id(inner.get("payment_intent"))
            if found:
                return found
    return None


def _lookup(stripe: client.OrgStripe, stripe_invoice_id: str) -> tuple[str | None, str | None]:
    """(the reason, or None; why there is none) from Stripe."""
    payments = list(
        stripe.iterate(
            lambda c: c.v1.invoice_payments.list(
                params={"invoice": stripe_invoice_id, "limit": 10}
            ),
            op="invoice_payments.list",
        )
    )
    intent_id = _intent_id(payments)
    if intent_id is None:
        return None, "the invoice has no PaymentIntent"
    intent = stripe.call(
        lambda c: c.v1.payment_intents.retrieve(intent_id), op="payment_intents.retrieve"
    ).to_dict()
    if intent.get("status") == "succeeded":
        return None, f"{intent_id} has succeeded since"
    error = intent.get("last_payment_error")
    reason = handlers.decline_reason(error) if isinstance(error, dict) else None
    return reason, None if reason else f"{intent_id} gives no reason"


def resolve_failure(
    org_id: uuid.UUID, stripe_invoice_id: str, event_id: str, created: int | None
) -> str:
    """Read the decline reason of the invoice's last payment from Stripe and note it on the
    org's invoice; the event's outcome."""
    bound = log.bind(org_id=str(org_id), event_id=event_id, stripe_invoice_id=stripe_invoice_id)
    at = handlers.from_epoch(created) or utcnow()

    def done(outcome: str) -> str:
        with session_scope() as session:
            handlers.finish(
                session, org_id=org_id, event_id=event_id, outcome=outcome, if_pending=True
            )
        bound.info("payment failure looked up", outcome=outcome)
        return outcome

    with session_scope() as session:
        try:
            stripe = client.for_org(session, org_id)
        except StripeNotConnected:
            stripe = None
    if stripe is None:
        return done("payment failed; reason not looked up: Stripe is no longer connected")
    # No transaction is open while Stripe answers.
    try:
        reason, none_because = _lookup(stripe, stripe_invoice_id)
    except StripeUnavailable:
        raise
    except RegentraError as exc:
        return done(f"payment failed; reason lookup failed: {exc.message}")
    if reason is None:
        return done(f"payment failed; no reason noted: {none_because}")
    with session_scope() as session:
        noted = transitions.note_payment_failure(
            session, org_id=org_id, stripe_invoice_id=stripe_invoice_id, reason=reason, at=at
        )
        what = f"invoice {noted.number}" if noted is not None else "no open invoice changed"
        handlers.finish(
            session,
            org_id=org_id,
            event_id=event_id,
            outcome=f"payment failed: {reason} ({what})",
            if_pending=True,
        )
    bound.info("payment failure noted", reason=reason, noted=noted is not None)
    return reason
