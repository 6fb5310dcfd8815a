"""What one Stripe payout paid out: its balance transactions (`GET
/v1/balance_transactions?payout=po_…`, every page, each with its `source` expanded), each named
by the invoice it belongs to when Regentra knows it (a payment by its PaymentIntent, a refund or
dispute by its row). Read live: Stripe keeps these lists, and the page is opened rarely."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.errors import RegentraError
from regentra.integrations.quickbooks import movements as qbo_movements
from regentra.integrations.stripe import client, movements
from regentra.integrations.stripe.amounts import from_stripe
from regentra.integrations.stripe.client import OrgStripe
from regentra.integrations.stripe.handlers import ref_id
from regentra.models import Dispute, Invoice, Payout, Refund
from regentra.orgs.errors import StripeNotConnected
from regentra.payouts import service as payouts

log = structlog.get_logger(__name__)

# Balance transaction types, in words.
KINDS = {
    "charge": "payment",
    "payment": "payment",
    "refund": "refund",
    "payment_refund": "refund",
    "adjustment": "dispute",
    "payout": "payout",
    "payout_failure": "returned payout",
    "stripe_fee": "Stripe fee",
}


@dataclass(frozen=True)
class Content:
    """One balance transaction of a payout, in minor units of `currency` (the balance's)."""

    id: str
    kind: str
    amount: int
    fee: int
    net: int
    currency: str
    source: str | None
    description: str | None
    invoice_id: uuid.UUID | None = None
    invoice_number: str | None = None


def read(stripe: OrgStripe, payout: Payout) -> list[dict[str, Any]]:
    """The payout's balance transactions as Stripe lists them (a manual payout cannot be
    listed: Stripe refuses, and the caller says so)."""
    params = {"payout": payout.stripe_payout_id, "limit": 100, "expand": ["data.source"]}
    return list(
        stripe.iterate(
            lambda c: c.v1.balance_transactions.list(params=params),
            op="balance_transactions.list",
        )
    )


def _sources(rows: Iterable[dict[str, Any]]) -> tuple[set[str], set[str], set[str]]:
    intents: set[str] = set()
    refunds: set[str] = set()
    disputes: set[str] = set()
    for row in rows:
        source = row.get("source")
        if not isinstance(source, dict):
            continue
        kind = source.get("object")
        if kind == "charge" and (pi := ref_id(source.get("payment_intent"))):
            intents.add(pi)
        elif kind == "refund" and isinstance(source.get("id"), str):
            refunds.add(source["id"])
        elif kind == "dispute" and isinstance(source.get("id"), str):
            disputes.add(source["id"])
    return intents, refunds, disputes


def name(session: Session, org_id: uuid.UUID, rows: list[dict[str, Any]]) -> list[Content]:
    """The rows with the invoice each belongs to, where Regentra knows it."""
    intents, refunds, disputes = _sources(rows)
    by_intent = dict(
        session.execute(
            select(Invoice.stripe_payment_intent_id, Invoice.id).where(
                Invoice.org_id == org_id, Invoice.stripe_payment_intent_id.in_(intents or {""})
            )
        ).all()
    )
    by_refund = dict(
        session.execute(
            select(Refund.stripe_refund_id, Refund.invoice_id).where(
                Refund.org_id == org_id, Refund.stripe_refund_id.in_(refunds or {""})
            )
        ).all()
    )
    by_dispute = dict(
        session.execute(
            select(Dispute.stripe_dispute_id, Dispute.invoice_id).where(
                Dispute.org_id == org_id, Dispute.stripe_dispute_id.in_(disputes or {""})
            )
        ).all()
    )
    invoice_ids = {*by_intent.values(), *by_refund.values(), *by_dispute.values()}
    numbers = dict(
        session.execute(
            select(Invoice.id, Invoice.number).where(
                Invoice.org_id == org_id, Invoice.id.in_(invoice_ids or {uuid.UUID(int=0)})
            )
        ).all()
    )
    named: list[Content] = []
    for row in rows:
        source = row.get("source")
        source_id = ref_id(source)
        invoice_id = None
        if isinstance(source, dict) and source.get("object") == "charge":
            invoice_id = by_intent.get(ref_id(source.get("payment_intent")) or "")
        elif source_id is not None:
            invoice_id = by_refund.get(source_id) or by_dispute.get(source_id)
        currency = str(row.get("currency") or "usd")
        named.append(
            Content(
                id=str(row.get("id")),
                kind=KINDS.get(str(row.get("type")), str(row.get("type"))),
                amount=from_stripe(int(row.get("amount") or 0), currency),
                fee=from_stripe(int(row.get("fee") or 0), currency),
                net=from_stripe(int(row.get("net") or 0), currency),
                currency=currency.upper(),
                source=source_id,
                description=row.get("description")
                if isinstance(row.get("description"), str)
                else None,
                invoice_id=invoice_id,
                invoice_number=numbers.get(invoice_id) if invoice_id else None,
            )
        )
    return named


def detail(session: Session, *, org_id: uuid.UUID, payout_id: uuid.UUID) -> dict[str, Any]:
    """A payout as its page and the API show it: the row, its contents read from Stripe now
    (or why they cannot be), its QuickBooks postings. Commits before calling Stripe."""
    payout = payouts.get_payout(session, org_id=org_id, payout_id=payout_id)
    shown: dict[str, Any] = {
        c.name: getattr(payout, c.name) for c in Payout.__table__.columns if c.name != "org_id"
    }
    postings = qbo_movements.for_subjects(session, org_id=org_id, subject_ids=[payout.id])
    shown["quickbooks"] = [
        qbo_movements.describe(row) for row in postings.get(payout.id, {}).values()
    ]
    shown["contents"], shown["contents_error"] = None, None
    if not payout.automatic:
        shown["contents_error"] = "Stripe lists the contents of automatic payouts only."
        return shown
    try:
        stripe = client.for_org(session, org_id)
    except StripeNotConnected as exc:
        shown["contents_error"] = exc.message
        return shown
    try:
        found = contents(session, stripe, org_id, payout, strict=False)
    except RegentraError as exc:  # refused, or unreachable (the page still shows the payout)
        shown["contents_error"] = f"Stripe could not list the contents now: {exc.message}"
        return shown
    shown["contents"] = [vars(c) for c in found]
    return shown


def contents(
    session: Session, stripe: OrgStripe, org_id: uuid.UUID, payout: Payout, *, strict: bool
) -> list[Content]:
    """The payout's balance transactions read from Stripe now, each named by its invoice
    (which invoice a payment paid is asked of Stripe once per payment ever, then kept).
    Commits before calling Stripe. `strict`: a failure to name the payments raises (the
    QuickBooks deposit needs them all); otherwise they are left unnamed and logged."""
    session.commit()  # no transaction open while Stripe answers
    rows = read(stripe, payout)
    charges = [
        source
        for row in rows
        if isinstance(source := row.get("source"), dict) and source.get("object") == "charge"
    ]
    try:
        payments = movements.look_up_invoices(stripe, org_id, charges)
    except RegentraError as exc:
        if strict:
            raise
        log.info("payout payments not named", org_id=str(org_id), error=exc.message)
    else:
        movements.remember_payments(session, org_id, charges, payments)
        session.commit()
    return name(session, org_id, rows)
