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


def badges_for(
    session: Session, *, org_id: uuid.UUID, invoices: list[tuple[uuid.UUID, str]]
) -> dict[uuid.UUID, list[Badge]]:
    """The badges of several invoices ((id, currency) pairs) at once, for a list page: two
    queries whatever their number. Invoices with none are absent."""
    ids = [invoice_id for invoice_id, _ in invoices]
    if not ids:
        return {}
    refunds: dict[uuid.UUID, list[Refund]] = {}
    disputes: dict[uuid.UUID, list[Dispute]] = {}
    for refund in session.scalars(
        select(Refund).where(Refund.org_id == org_id, Refund.invoice_id.in_(ids))
    ):
        refunds.setdefault(refund.invoice_id, []).append(refund)
    for dispute in session.scalars(
        select(Dispute).where(Dispute.org_id == org_id, Dispute.invoice_id.in_(ids))
    ):
        disputes.setdefault(dispute.invoice_id, []).append(dispute)
    shown = {
        invoice_id: badges(refunds.get(invoice_id, []), disputes.get(invoice_id, []), currency)
        for invoice_id, currency in invoices
    }
    return {invoice_id: found for invoice_id, found in shown.items() if found}


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
