"""Reconciliation of an org's refunds, disputes and payouts from Stripe's lists (events are
kept only 30 days; the lists for ever): what was created since the org's `movements_checkpoint`,
plus everything still moving here (a refund pending, a dispute open, a payout on its way, and
for some days a succeeded refund or a paid payout, which a bank can still return), applied
through `movements.apply_all` as a webhook's would be. Run after the invoices' hourly
reconciliation (`reconcile._with_movements`)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from regentra.db import session_scope
from regentra.errors import RegentraError
from regentra.integrations.stripe import client
from regentra.integrations.stripe.client import OrgStripe
from regentra.integrations.stripe.movements import apply_all, retrieve
from regentra.kit.time import utcnow
from regentra.models import Dispute, Invoice, Payout, Refund, StripeConnection
from regentra.orgs.errors import StripeNotConnected

log = structlog.get_logger(__name__)

DISPUTE_CLOSED = ("won", "lost", "warning_closed", "prevented")
PAYOUT_FINAL = ("paid", "failed", "canceled")
REFUND_FINAL = ("succeeded", "failed", "canceled")
PAID_PAYOUT_WATCH_DAYS = 10  # a paid payout is read again this long after it arrived
SUCCEEDED_REFUND_WATCH_DAYS = 10  # a succeeded refund is read again this long after
OVERLAP_S = 600  # clock skew, and objects made while the previous run was reading
FIRST_LOOKBACK_S = 120 * 86_400  # a first run reads this far back at most


@dataclass
class Swept:
    """What one org's reconciliation of refunds, disputes and payouts read and did."""

    org_id: uuid.UUID
    read: int = 0
    changed: int = 0
    error: str | None = None
    outcomes: list[str] = field(default_factory=list)


def _since(session: Session, org_id: uuid.UUID, now: int) -> int | None:
    """Where this run's lists start: the last successful run's start minus `OVERLAP_S`; for a
    first run, the oldest paid invoice's payment (nothing of ours is older), at most
    `FIRST_LOOKBACK_S` back; None when the org has no paid invoice (nothing to read)."""
    conn = session.scalar(select(StripeConnection).where(StripeConnection.org_id == org_id))
    if conn is not None and conn.movements_checkpoint is not None:
        return conn.movements_checkpoint - OVERLAP_S
    first: datetime | None = session.scalar(
        select(Invoice.paid_at)
        .where(Invoice.org_id == org_id, Invoice.paid_at.is_not(None))
        .order_by(Invoice.paid_at)
        .limit(1)
    )
    if first is None:
        return None
    return max(int(first.timestamp()) - OVERLAP_S, now - FIRST_LOOKBACK_S)


def _moving(session: Session, org_id: uuid.UUID) -> list[tuple[str, str]]:
    """(subject, Stripe id) of what we hold as still moving: read again whatever its age."""
    # A succeeded refund can still fail for some days (a bank refuses it): read again too.
    recent = utcnow() - timedelta(days=SUCCEEDED_REFUND_WATCH_DAYS)
    refunds = session.scalars(
        select(Refund.stripe_refund_id).where(
            Refund.org_id == org_id,
            Refund.stripe_refund_id.is_not(None),
            or_(
                Refund.status.not_in(REFUND_FINAL),
                and_(Refund.status == "succeeded", Refund.updated_at >= recent),
            ),
        )
    )
    disputes = session.scalars(
        select(Dispute.stripe_dispute_id).where(
            Dispute.org_id == org_id, Dispute.status.not_in(DISPUTE_CLOSED)
        )
    )
    # A paid payout can still fail for some days after it arrives (the bank returns it).
    arrived = utcnow().date() - timedelta(days=PAID_PAYOUT_WATCH_DAYS)
    payouts = session.scalars(
        select(Payout.stripe_payout_id).where(
            Payout.org_id == org_id,
            or_(
                Payout.status.not_in(PAYOUT_FINAL),
                and_(Payout.status == "paid", Payout.arrival_date >= arrived),
            ),
        )
    )
    return [
        *(("refund", str(i)) for i in refunds),
        *(("dispute", str(i)) for i in disputes),
        *(("payout", str(i)) for i in payouts),
    ]


def _listed(stripe: OrgStripe, since: int) -> list[tuple[str, dict[str, Any]]]:
    created = {"gte": since}
    refunds = stripe.iterate(
        lambda c: c.v1.refunds.list(
            params={"created": created, "limit": 100, "expand": ["data.balance_transaction"]}
        ),
        op="refunds.list",
    )
    found: list[tuple[str, dict[str, Any]]] = [("refund", r) for r in refunds]
    disputes = stripe.iterate(
        lambda c: c.v1.disputes.list(params={"created": created, "limit": 100}),
        op="disputes.list",
    )
    found += [("dispute", d) for d in disputes]
    payouts = stripe.iterate(
        lambda c: c.v1.payouts.list(params={"created": created, "limit": 100}),
        op="payouts.list",
    )
    found += [("payout", p) for p in payouts]
    return found


def reconcile_org(org_id: uuid.UUID) -> Swept:
    """Read the org's refunds, disputes and payouts created since its checkpoint, and those
    still moving, and apply them; the checkpoint moves to this run's start only when all was
    read and applied. Stripe's errors are reported, never raised."""
    swept = Swept(org_id=org_id)
    started = int(time.time())
    with session_scope() as session:
        try:
            stripe = client.for_org(session, org_id)
        except StripeNotConnected:
            swept.error = "Stripe is not connected"
            return swept
        since = _since(session, org_id, started)
        moving = _moving(session, org_id)
    try:
        found = _listed(stripe, since) if since is not None else []
        seen = {(s, str(o.get("id"))) for s, o in found}
        for subject, object_id in moving:
            if (subject, object_id) not in seen:
                found += retrieve(stripe, subject, object_id)

        def checkpoint(session: Session, outcomes: list[str]) -> None:
            conn = session.scalar(select(StripeConnection).where(StripeConnection.org_id == org_id))
            if conn is not None:
                conn.movements_checkpoint = started

        swept.read = len(found)
        swept.outcomes = apply_all(org_id, stripe, found, source="reconciliation", then=checkpoint)
    except RegentraError as exc:
        swept.error = exc.message
        log.warning("stripe movements not reconciled", org_id=str(org_id), error=exc.message)
        return swept
    swept.changed = sum(1 for o in swept.outcomes if not o.startswith(("no change", "ignored")))
    log.info(
        "stripe movements reconciled", org_id=str(org_id), read=swept.read, changed=swept.changed
    )
    return swept
