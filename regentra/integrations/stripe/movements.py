"""Money after payment: Stripe's refunds, disputes and payouts of an org's account, mirrored in
`refunds`, `disputes` and `payouts` and handed to QuickBooks.

One way in for every source. A webhook event (`charge.refunded`, `refund.*`,
`charge.dispute.*`, `payout.*`) is stored like any other and enqueues `stripe.sync_movement`,
which reads the object again through the pinned client (payloads may be of any API version: only
`data.object.id` is relied on) and applies it; reconciliation (`movements_reconcile`, after the
invoices' hourly run) reads Stripe's lists from the org's `movements_checkpoint` (events are
kept only 30 days; the lists for ever) plus every object still moving, and applies them the
same way. Applying is an upsert under the unique (org, Stripe id), so any number of
deliveries, reorderings and reconciliations give one row in Stripe's latest state, and an
audit entry on the invoice only when its status changes.

A refund or dispute belongs to the invoice its PaymentIntent paid: found by the invoice's
stored `stripe_payment_intent_id`, else asked of Stripe (`invoice_payments` by PaymentIntent,
API 2025-03-31 and later no longer put it on the invoice) and then stored on the invoice. One
of a payment that is no invoice of this org is ignored.

When money moves (a refund taken out of the balance, a dispute's withdrawal or reinstatement,
a payout made or failed) the QuickBooks task `QBO_TASK` is enqueued with the row; it decides
what is due (nothing when QuickBooks is not connected).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import structlog
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.db import session_scope
from regentra.errors import RegentraError
from regentra.integrations.stripe import client
from regentra.integrations.stripe.amounts import from_stripe
from regentra.integrations.stripe.client import OrgStripe
from regentra.integrations.stripe.errors import StripeUnavailable
from regentra.integrations.stripe.handlers import end_failed, finish, from_epoch, ref_id
from regentra.kit.money import format_money
from regentra.kit.time import utcnow
from regentra.models import (
    ActorType,
    Dispute,
    Invoice,
    Payout,
    Refund,
    RefundStatus,
)
from regentra.orgs.errors import StripeNotConnected

log = structlog.get_logger(__name__)

QBO_TASK = "quickbooks.sync_movement"


def _stripe_actor(source: str) -> Actor:
    return Actor(type=ActorType.stripe, label=f"Stripe ({source})")


def _epoch_to_date(value: Any) -> date | None:
    at = from_epoch(value if isinstance(value, int) and not isinstance(value, bool) else None)
    return at.date() if at is not None else None


def _int(obj: dict[str, Any], name: str) -> int | None:
    value = obj.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value else None


# ---- which invoice a payment paid ------------------------------------------------------------


@dataclass
class Payments:
    """PaymentIntent → our invoice id, learnt during one sync or run (None: not ours)."""

    known: dict[str, uuid.UUID | None] = field(default_factory=dict)
    stripe_invoices: dict[str, str | None] = field(default_factory=dict)


def _known_intents(
    session: Session, org_id: uuid.UUID, intents: Iterable[str]
) -> dict[str, uuid.UUID]:
    wanted = sorted(set(intents))
    if not wanted:
        return {}
    rows = session.execute(
        select(Invoice.stripe_payment_intent_id, Invoice.id).where(
            Invoice.org_id == org_id, Invoice.stripe_payment_intent_id.in_(wanted)
        )
    ).all()
    return {str(pi): invoice_id for pi, invoice_id in rows}


def _intent_of(obj: dict[str, Any]) -> str | None:
    return ref_id(obj.get("payment_intent"))


def _invoice_payments(params: dict[str, Any]) -> Callable[[Any], Any]:
    return lambda c: c.v1.invoice_payments.list(params=params)


def look_up_invoices(
    stripe: OrgStripe, org_id: uuid.UUID, objects: list[dict[str, Any]]
) -> Payments:
    """Which invoice each refund's or dispute's PaymentIntent paid: the ones already stored on
    an invoice from the database, the others from Stripe's `invoice_payments` (one call each;
    no transaction open meanwhile)."""
    payments = Payments()
    intents = {pi for obj in objects if (pi := _intent_of(obj)) is not None}
    with session_scope() as session:
        payments.known.update(_known_intents(session, org_id, intents))
    for intent in sorted(intents - set(payments.known)):
        by_intent = {"payment": {"type": "payment_intent", "payment_intent": intent}, "limit": 10}
        found = stripe.iterate(_invoice_payments(by_intent), op="invoice_payments.list")
        stripe_invoice = next(
            (i for p in found if (i := ref_id(p.get("invoice"))) is not None), None
        )
        payments.stripe_invoices[intent] = stripe_invoice
    return payments


def _invoice_for(
    session: Session, org_id: uuid.UUID, obj: dict[str, Any], payments: Payments
) -> Invoice | None:
    intent = _intent_of(obj)
    if intent is None:
        return None
    invoice_id = payments.known.get(intent)
    if invoice_id is not None:
        return session.get(Invoice, invoice_id)
    stripe_invoice = payments.stripe_invoices.get(intent)
    if stripe_invoice is None:
        return None
    invoice = session.scalar(
        select(Invoice).where(Invoice.org_id == org_id, Invoice.stripe_invoice_id == stripe_invoice)
    )
    if invoice is None:
        return None
    if invoice.stripe_payment_intent_id is None:
        invoice.stripe_payment_intent_id = intent
        charge = obj.get("id") if obj.get("object") == "charge" else obj.get("charge")
        invoice.stripe_charge_id = ref_id(charge)
    payments.known[intent] = invoice.id
    return invoice


def remember_payments(
    session: Session, org_id: uuid.UUID, objects: list[dict[str, Any]], payments: Payments
) -> None:
    """Store on each invoice the PaymentIntent (and charge) that paid it, for objects (charges,
    refunds, disputes) whose invoice `look_up_invoices` found: later look-ups are local."""
    for obj in objects:
        _invoice_for(session, org_id, obj, payments)


# ---- applying one object ----------------------------------------------------------------------


def _audit(
    session: Session, invoice: Invoice, action: str, message: str, source: str, **details: Any
) -> None:
    record(
        session,
        org_id=invoice.org_id,
        actor=_stripe_actor(source),
        action=action,
        subject_type="invoice",
        subject_id=invoice.id,
        details={"message": message, "number": invoice.number, **details},
    )


def _hand_to_bookkeeping(session: Session, subject: str, row_id: uuid.UUID) -> None:
    queue.enqueue(session, QBO_TASK, subject, str(row_id))


M = TypeVar("M", Refund, Dispute, Payout)


def _claim(session: Session, row: M, again: Select[M]) -> tuple[M, bool]:
    """Insert a new mirror row; when another sync of the same Stripe object inserted it first
    (a concurrent delivery of another event about it), that row instead, locked. (row, new)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        found = session.scalar(again.with_for_update())
        if found is None:
            raise
        return found, False
    return row, True


def _regentra_refund(session: Session, org_id: uuid.UUID, obj: dict[str, Any]) -> Refund | None:
    """The refund asked for in Regentra that this Stripe refund is (its metadata names it)."""
    metadata = obj.get("metadata")
    ours = metadata.get("regentra_refund_id") if isinstance(metadata, dict) else None
    try:
        refund_id = uuid.UUID(str(ours)) if ours else None
    except ValueError:
        return None
    if refund_id is None:
        return None
    found = session.scalar(
        select(Refund).where(Refund.org_id == org_id, Refund.id == refund_id).with_for_update()
    )
    if found is None or found.stripe_refund_id not in (None, obj.get("id")):
        return None
    return found


def apply_refund(
    session: Session,
    org_id: uuid.UUID,
    obj: dict[str, Any],
    payments: Payments,
    *,
    source: str,
) -> str:
    """Mirror one Stripe refund (read through the pinned client, its balance transaction
    expanded) on the invoice its payment paid; the outcome."""
    refund_id = _str(obj, "id")
    currency = _str(obj, "currency")
    amount = _int(obj, "amount")
    if refund_id is None or currency is None or amount is None or amount <= 0:
        return "ignored: not a refund Stripe described in full"
    row = session.scalar(
        select(Refund)
        .where(Refund.org_id == org_id, Refund.stripe_refund_id == refund_id)
        .with_for_update()
    ) or _regentra_refund(session, org_id, obj)
    invoice = (
        session.get(Invoice, row.invoice_id)
        if row is not None
        else _invoice_for(session, org_id, obj, payments)
    )
    if invoice is None:
        return f"ignored: refund {refund_id} is of no invoice of this org"
    status = _str(obj, "status") or RefundStatus.pending.value
    if status not in {s.value for s in RefundStatus}:
        status = RefundStatus.pending.value
    new = row is None
    if row is None:
        row, new = _claim(
            session,
            Refund(
                org_id=org_id,
                invoice_id=invoice.id,
                stripe_refund_id=refund_id,
                amount=from_stripe(amount, currency),
                currency=currency.upper(),
            ),
            select(Refund).where(Refund.org_id == org_id, Refund.stripe_refund_id == refund_id),
        )
    before = (row.status, row.settled_amount)
    row.stripe_refund_id = refund_id
    row.stripe_charge_id = ref_id(obj.get("charge")) or row.stripe_charge_id
    row.amount = from_stripe(amount, currency)
    row.currency = currency.upper()
    row.status = status
    row.reason = _str(obj, "reason") or row.reason
    row.failure_reason = _str(obj, "failure_reason")
    row.refunded_at = row.refunded_at or from_epoch(_int(obj, "created"))
    txn = obj.get("balance_transaction")
    if isinstance(txn, dict) and _int(txn, "amount") is not None and _str(txn, "currency"):
        settled_currency = str(txn["currency"])
        row.balance_transaction_id = _str(txn, "id")
        row.settled_amount = from_stripe(-int(txn["amount"]), settled_currency)
        row.settled_fee = from_stripe(_int(txn, "fee") or 0, settled_currency)
        row.settlement_currency = settled_currency.upper()
    session.flush()
    if not new and before == (row.status, row.settled_amount):
        return f"no change: refund {refund_id} of invoice {invoice.number} is {row.status}"
    words = f"refund of {format_money(row.amount, row.currency)}: {row.status}"
    _audit(
        session,
        invoice,
        "invoice.refund",
        words,
        source,
        stripe_refund_id=refund_id,
        amount=row.amount,
        currency=row.currency,
        status=row.status,
        reason=row.reason,
    )
    _hand_to_bookkeeping(session, "refund", row.id)
    return f"refund {refund_id} of invoice {invoice.number}: {row.status}"


def _dispute_money(row: Dispute, obj: dict[str, Any]) -> None:
    """The withdrawal (amount and fee) and the reinstatement, from the dispute's balance
    transactions (in the settlement currency)."""
    for txn in obj.get("balance_transactions") or []:
        if not isinstance(txn, dict) or _int(txn, "amount") is None or not _str(txn, "currency"):
            continue
        currency = str(txn["currency"])
        amount = from_stripe(int(txn["amount"]), currency)
        at = from_epoch(_int(txn, "created"))
        row.settlement_currency = currency.upper()
        if amount < 0 and row.withdrawn is None:
            row.withdrawn = -amount
            row.withdrawal_fee = from_stripe(_int(txn, "fee") or 0, currency)
            row.withdrawn_at = at
        elif amount > 0 and row.reinstated is None:
            row.reinstated = amount
            row.reinstated_at = at


def apply_dispute(
    session: Session,
    org_id: uuid.UUID,
    obj: dict[str, Any],
    payments: Payments,
    *,
    source: str,
) -> str:
    """Mirror one Stripe dispute on the invoice its payment paid; the outcome."""
    dispute_id = _str(obj, "id")
    currency = _str(obj, "currency")
    amount = _int(obj, "amount")
    status = _str(obj, "status")
    if dispute_id is None or currency is None or amount is None or status is None:
        return "ignored: not a dispute Stripe described in full"
    row = session.scalar(
        select(Dispute)
        .where(Dispute.org_id == org_id, Dispute.stripe_dispute_id == dispute_id)
        .with_for_update()
    )
    invoice = (
        session.get(Invoice, row.invoice_id)
        if row is not None
        else _invoice_for(session, org_id, obj, payments)
    )
    if invoice is None:
        return f"ignored: dispute {dispute_id} is of no invoice of this org"
    new = row is None
    if row is None:
        row, new = _claim(
            session,
            Dispute(
                org_id=org_id,
                invoice_id=invoice.id,
                stripe_dispute_id=dispute_id,
                amount=from_stripe(amount, currency),
                currency=currency.upper(),
                status=status,
            ),
            select(Dispute).where(
                Dispute.org_id == org_id, Dispute.stripe_dispute_id == dispute_id
            ),
        )
    before = (row.status, row.withdrawn, row.reinstated)
    row.stripe_charge_id = ref_id(obj.get("charge")) or row.stripe_charge_id
    row.amount = from_stripe(amount, currency)
    row.status = status
    row.reason = _str(obj, "reason") or row.reason
    row.opened_at = row.opened_at or from_epoch(_int(obj, "created"))
    evidence = obj.get("evidence_details")
    if isinstance(evidence, dict):
        row.evidence_due_by = from_epoch(_int(evidence, "due_by"))
    _dispute_money(row, obj)
    session.flush()
    if not new and before == (row.status, row.withdrawn, row.reinstated):
        return f"no change: dispute {dispute_id} of invoice {invoice.number} is {row.status}"
    _audit(
        session,
        invoice,
        "invoice.dispute",
        f"payment disputed ({row.reason or 'no reason given'}): {row.status.replace('_', ' ')}",
        source,
        stripe_dispute_id=dispute_id,
        amount=row.amount,
        currency=row.currency,
        status=row.status,
        evidence_due_by=row.evidence_due_by.isoformat() if row.evidence_due_by else None,
    )
    if before[1:] != (row.withdrawn, row.reinstated):
        _hand_to_bookkeeping(session, "dispute", row.id)
    return f"dispute {dispute_id} of invoice {invoice.number}: {row.status}"


def apply_payout(
    session: Session, org_id: uuid.UUID, obj: dict[str, Any], payments: Payments, *, source: str
) -> str:
    """Mirror one Stripe payout; the outcome."""
    del payments  # a payout is of no one invoice
    payout_id = _str(obj, "id")
    currency = _str(obj, "currency")
    amount = _int(obj, "amount")
    status = _str(obj, "status")
    if payout_id is None or currency is None or amount is None or status is None:
        return "ignored: not a payout Stripe described in full"
    row = session.scalar(
        select(Payout)
        .where(Payout.org_id == org_id, Payout.stripe_payout_id == payout_id)
        .with_for_update()
    )
    new = row is None
    if row is None:
        row, new = _claim(
            session,
            Payout(
                org_id=org_id,
                stripe_payout_id=payout_id,
                amount=from_stripe(amount, currency),
                currency=currency.upper(),
                status=status,
            ),
            select(Payout).where(Payout.org_id == org_id, Payout.stripe_payout_id == payout_id),
        )
    before = (row.status, row.failed_at)
    row.amount = from_stripe(amount, currency)
    row.status = status
    row.automatic = bool(obj.get("automatic", True))
    row.arrival_date = _epoch_to_date(obj.get("arrival_date")) or row.arrival_date
    row.stripe_created = row.stripe_created or from_epoch(_int(obj, "created"))
    row.failure_code = _str(obj, "failure_code")
    row.failure_message = _str(obj, "failure_message")
    if status == "failed" and row.failed_at is None:
        row.failed_at = utcnow()
    session.flush()
    if not new and before == (row.status, row.failed_at):
        return f"no change: payout {payout_id} is {status}"
    # Made, failed or canceled: the QuickBooks side decides what that calls for.
    _hand_to_bookkeeping(session, "payout", row.id)
    return f"payout {payout_id}: {status}"


APPLY: dict[str, Callable[..., str]] = {
    "refund": apply_refund,
    "dispute": apply_dispute,
    "payout": apply_payout,
}


# ---- reading from Stripe ----------------------------------------------------------------------


def retrieve(stripe: OrgStripe, subject: str, object_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(subject, object) for what an event names, read again through the pinned client."""
    if subject == "charge":
        refunds = stripe.iterate(
            lambda c: c.v1.refunds.list(
                params={"charge": object_id, "limit": 100, "expand": ["data.balance_transaction"]}
            ),
            op="refunds.list",
        )
        return [("refund", r) for r in refunds]
    if subject == "refund":
        obj = stripe.find(
            lambda c: c.v1.refunds.retrieve(object_id, {"expand": ["balance_transaction"]}),
            op="refunds.retrieve",
        )
    elif subject == "dispute":
        obj = stripe.find(lambda c: c.v1.disputes.retrieve(object_id), op="disputes.retrieve")
    else:
        obj = stripe.find(lambda c: c.v1.payouts.retrieve(object_id), op="payouts.retrieve")
    if obj is None:  # not (or no longer) in this Stripe account: nothing to mirror
        log.warning("stripe movement not found", subject=subject, object_id=object_id)
        return []
    return [(subject, obj.to_dict())]


def apply_all(
    org_id: uuid.UUID,
    stripe: OrgStripe,
    found: list[tuple[str, dict[str, Any]]],
    *,
    source: str,
    then: Callable[[Session, list[str]], None] | None = None,
) -> list[str]:
    """Apply what was read (invoices looked up first, with no transaction open) in one
    transaction; `then(session, outcomes)` runs in it last. The outcomes."""
    payments = look_up_invoices(stripe, org_id, [o for s, o in found if s != "payout"])
    # Oldest first (lists come newest first): rows are made in Stripe's order, as pages list
    # them by row id.
    found = sorted(found, key=lambda pair: _int(pair[1], "created") or 0)
    with session_scope() as session:
        outcomes = [APPLY[s](session, org_id, obj, payments, source=source) for s, obj in found]
        if then is not None:
            then(session, outcomes)
    return outcomes


def sync(org_id: uuid.UUID, object_id: str, event_id: str, kind: str) -> str:
    """`SYNC_TASK`'s body: read again what a webhook event named (`kind`: refund, dispute,
    payout, or charge for its refunds) and apply it, finishing the event in the same
    transaction. A Stripe outage raises (the task retries); a refusal ends the event as
    failed."""
    bound = log.bind(org_id=str(org_id), event_id=event_id, object_id=object_id)
    with session_scope() as session:
        try:
            stripe = client.for_org(session, org_id)
        except StripeNotConnected:
            outcome = "ignored: Stripe is no longer connected"
            finish(session, org_id=org_id, event_id=event_id, outcome=outcome, if_pending=True)
            return outcome
    said: list[str] = []

    def done(session: Session, outcomes: list[str]) -> None:
        said.append("; ".join(outcomes) or f"no change: Stripe has no refunds of {object_id}")
        finish(session, org_id=org_id, event_id=event_id, outcome=said[0], if_pending=True)

    try:
        apply_all(org_id, stripe, retrieve(stripe, kind, object_id), source="webhook", then=done)
    except StripeUnavailable:
        raise
    except RegentraError as exc:
        return end_failed(org_id, event_id, exc, bound.bind(lookup="movement"))
    bound.info("stripe movement read", outcome=said[0])
    return said[0]
