"""What happened to a paid invoice's money afterwards: its refunds and disputes as Stripe
reported them (`integrations/stripe/movements.py` keeps the rows), and the badges the pages
show beside `paid` ("refunded $X", "disputed: needs response by …", "dispute lost" / "won")."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.kit.money import format_money
from regentra.models import REFUND_COUNTED, Dispute, Refund

NEEDS_RESPONSE = ("warning_needs_response", "needs_response")


@dataclass(frozen=True)
class Badge:
    text: str
    tone: str  # "info", "warn" or "bad"


def refunds_of(session: Session, *, org_id: uuid.UUID, invoice_id: uuid.UUID) -> list[Refund]:
    """The invoice's refunds, oldest first."""
    return list(
        session.scalars(
            select(Refund)
            .where(Refund.org_id == org_id, Refund.invoice_id == invoice_id)
            .order_by(Refund.created_at, Refund.id)
        )
    )


def disputes_of(session: Session, *, org_id: uuid.UUID, invoice_id: uuid.UUID) -> list[Dispute]:
    """The invoice's disputes, oldest first."""
    return list(
        session.scalars(
            select(Dispute)
            .where(Dispute.org_id == org_id, Dispute.invoice_id == invoice_id)
            .order_by(Dispute.created_at, Dispute.id)
        )
    )


def refunded_amount(refunds: list[Refund]) -> int:
    """What the refunds took (or are taking) back: pending and succeeded ones."""
    return sum(r.amount for r in refunds if r.status in REFUND_COUNTED)


def badges(refunds: list[Refund], disputes: list[Dispute], currency: str) -> list[Badge]:
    """The badges shown beside the invoice's status."""
    shown: list[Badge] = []
    refunded = refunded_amount(refunds)
    if refunded:
        shown.append(Badge(f"refunded {format_money(refunded, currency)}", "info"))
    for dispute in disputes:
        if dispute.status in NEEDS_RESPONSE:
            due = dispute.evidence_due_by
            when = f" by {due.date().isoformat()}" if due is not None else ""
            shown.append(Badge(f"disputed: needs response{when}", "bad"))
        elif dispute.status == "lost":
            shown.append(Badge("dispute lost", "bad"))
        elif dispute.status == "won":
            shown.append(Badge("dispute won", "info"))
        else:
            shown.append(Badge(f"disputed: {dispute.status.replace('_', ' ')}", "warn"))
    return shown
