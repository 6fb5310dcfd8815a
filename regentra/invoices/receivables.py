"""The org's money figures, per currency: what clients owe, and what came in this month once
refunds and lost disputes are taken out. A paid invoice stays paid when it is refunded or a
dispute is lost (its status is the Stripe invoice's); these figures are where that money shows.

"This month" is the calendar month in the org's time zone: payments by their paid date,
also summed per month for the last twelve months (the dashboard's chart),
refunds by the day they were made (pending, requiring action or succeeded: the money is
leaving), lost disputes by the day the dispute was last updated (when it was lost), open
disputes whatever their age (money at stake now).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from regentra.invoices import service as invoices
from regentra.invoices.transitions import org_today
from regentra.models import REFUND_COUNTED, Dispute, Invoice, InvoiceStatus, Org, Refund

UNBILLED_CLIENTS = 10  # the clients with the most unbilled time the dashboard lists
MONTHS = 12  # paid per month: this month and the eleven before it
AGING = ("1-30", "31-60", "61-90", "90+")
OPEN_DISPUTES = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")


@dataclass
class Figures:
    """One currency's figures, in its minor units."""

    currency: str
    outstanding: int = 0  # sent and overdue invoices: what is still due
    overdue: int = 0  # of which past the due date
    paid: int = 0  # paid this month
    refunded: int = 0  # refunded this month
    lost_to_disputes: int = 0  # disputes lost this month
    disputed: int = 0  # open disputes: at stake now
    unbilled: int = 0  # approved, billable time not invoiced yet
    # Overdue by days past the due date: "1-30", "31-60", "61-90", "90+".
    aging: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AGING, 0))
    # Paid per month, oldest first, the last entry this month (so equal to `paid`).
    paid_by_month: list[int] = field(default_factory=lambda: [0] * MONTHS)

    @property
    def received(self) -> int:
        """Paid this month less refunds and lost disputes this month."""
        return self.paid - self.refunded - self.lost_to_disputes


def month_start(org: Org, today: date | None = None) -> datetime:
    """The first instant of the org's current month, as an aware datetime."""
    day = (today or org_today(org)).replace(day=1)
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(org.timezone))


def month_starts(org: Org, today: date | None = None) -> list[date]:
    """The first days of the last `MONTHS` months in the org's time zone, oldest first (the
    last one is this month's)."""
    first = month_start(org, today).date()
    index = first.year * 12 + first.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - MONTHS + 1, index + 1)]


def figures(
    session: Session,
    *,
    org: Org,
    today: date | None = None,
    unbilled: list[invoices.Unbilled] | None = None,
) -> list[Figures]:
    """The org's figures, one per currency it has money in, the most outstanding first
    (`unbilled`: `invoices.unbilled` of the org, when the caller has read it already)."""
    since = month_start(org, today).astimezone(UTC)
    by: dict[str, Figures] = {}

    def add(currency: str, name: str, amount: int | None) -> None:
        row = by.setdefault(currency.upper(), Figures(currency.upper()))
        setattr(row, name, getattr(row, name) + int(amount or 0))

    day = today or org_today(org)
    due = func.coalesce(Invoice.amount_due, Invoice.total)
    unpaid = (InvoiceStatus.sent.value, InvoiceStatus.overdue.value)
    for currency, due_date, amount in session.execute(
        select(Invoice.currency, Invoice.due_date, func.sum(due))
        .where(Invoice.org_id == org.id, Invoice.status.in_(unpaid))
        .group_by(Invoice.currency, Invoice.due_date)
    ):
        add(currency, "outstanding", amount)
        if due_date is not None and due_date < day:
            add(currency, "overdue", amount)
            bucket = _bucket((day - due_date).days)
            row = by[currency.upper()]
            row.aging[bucket] += int(amount or 0)
    if unbilled is None:
        unbilled = invoices.unbilled(session, org_id=org.id)
    for client in unbilled:
        add(client.currency, "unbilled", client.amount)
    # Paid per month: each invoice's month found by comparing its paid time with the months'
    # first instants (the org's time zone), in a subquery so that PostgreSQL groups by the
    # computed month without repeating the CASE's parameters.
    tz = ZoneInfo(org.timezone)
    starts = [
        datetime.combine(d, time.min, tzinfo=tz).astimezone(UTC) for d in month_starts(org, day)
    ]
    month = case(
        *((Invoice.paid_at < starts[i + 1], i) for i in range(MONTHS - 1)), else_=MONTHS - 1
    )
    paid = (
        select(
            Invoice.currency.label("currency"),
            month.label("month"),
            func.coalesce(Invoice.amount_paid, Invoice.total).label("amount"),
        )
        .where(
            Invoice.org_id == org.id,
            Invoice.status == InvoiceStatus.paid.value,
            Invoice.paid_at >= starts[0],
        )
        .subquery()
    )
    for currency, index, amount in session.execute(
        select(paid.c.currency, paid.c.month, func.sum(paid.c.amount)).group_by(
            paid.c.currency, paid.c.month
        )
    ):
        row = by.setdefault(currency.upper(), Figures(currency.upper()))
        row.paid_by_month[int(index)] += int(amount or 0)
    for row in by.values():
        row.paid = row.paid_by_month[-1]
    for currency, amount in session.execute(
        select(Refund.currency, func.sum(Refund.amount))
        .where(
            Refund.org_id == org.id,
            Refund.status.in_(REFUND_COUNTED),
            func.coalesce(Refund.refunded_at, Refund.created_at) >= since,
        )
        .group_by(Refund.currency)
    ):
        add(currency, "refunded", amount)
    for currency, status, amount in session.execute(
        select(Dispute.currency, Dispute.status, func.sum(Dispute.amount))
        .where(
            Dispute.org_id == org.id,
            (Dispute.status.in_(OPEN_DISPUTES))
            | ((Dispute.status == "lost") & (Dispute.updated_at >= since)),
        )
        .group_by(Dispute.currency, Dispute.status)
    ):
        add(currency, "lost_to_disputes" if status == "lost" else "disputed", amount)
    return sorted(by.values(), key=lambda f: (-f.outstanding, -f.paid, f.currency))


def _bucket(days: int) -> str:
    return "1-30" if days <= 30 else "31-60" if days <= 60 else "61-90" if days <= 90 else "90+"


def described(session: Session, *, org_id: uuid.UUID) -> dict[str, Any]:
    """The figures as the API and the dashboard show them."""
    org = session.get(Org, org_id)
    assert org is not None
    unbilled = invoices.unbilled(session, org_id=org_id)
    most = sorted(unbilled, key=lambda u: (-u.amount, u.name))[:UNBILLED_CLIENTS]
    months = [d.strftime("%Y-%m") for d in month_starts(org)]
    return {
        "month_start": month_start(org).date(),
        "months": months,
        "currencies": [
            {
                **asdict(f),
                "received": f.received,
                "paid_by_month": dict(zip(months, f.paid_by_month, strict=True)),
            }
            for f in figures(session, org=org, unbilled=unbilled)
        ],
        "unbilled_clients": [
            {
                "client_id": u.client_id,
                "name": u.name,
                "currency": u.currency,
                "minutes": u.minutes,
                "amount": u.amount,
            }
            for u in most
        ],
    }
