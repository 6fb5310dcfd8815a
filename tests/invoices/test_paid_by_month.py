"""Paid per month for the dashboard's chart, on SQLite and PostgreSQL: each paid invoice counts
in the calendar month of its paid time in the org's time zone, over this month and the eleven
before it; the last month's figure is "paid this month"; unpaid invoices and older payments do
not count; a currency paid only months ago still gets its row."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import update

from invoices.test_overdue import WEST, org_in, sent_invoice
from regentra.invoices import receivables
from regentra.models import Invoice, InvoiceStatus, Org

TODAY = date(2026, 12, 15)


def paid(db: Any, kit: Any, at: datetime, amount: int, currency: str = "usd") -> uuid.UUID:
    invoice_id = sent_invoice(db, kit, due=TODAY)
    with db.session() as s:
        s.execute(
            update(Invoice)
            .where(Invoice.id == invoice_id)
            .values(
                status=InvoiceStatus.paid.value, paid_at=at, amount_paid=amount, currency=currency
            )
        )
        s.commit()
    return invoice_id


def test_paid_per_month_in_the_orgs_time_zone_over_twelve_months(db: Any, make_org: Any) -> None:
    kit = org_in(db, make_org, WEST)  # UTC-11
    # 1 Dec 05:00 UTC is still 30 Nov in the org's zone: November.
    paid(db, kit, datetime(2026, 12, 1, 5, 0, tzinfo=UTC), 10_000)
    paid(db, kit, datetime(2026, 12, 1, 11, 30, tzinfo=UTC), 2_500)  # 1 Dec 00:30 there
    paid(db, kit, datetime(2026, 12, 14, 9, 0, tzinfo=UTC), 1_000)
    # 1 Jan 2026 00:30 there: the oldest month of the twelve; 31 Dec 2025 there: too old.
    paid(db, kit, datetime(2026, 1, 1, 11, 30, tzinfo=UTC), 700)
    paid(db, kit, datetime(2026, 1, 1, 10, 30, tzinfo=UTC), 99_999)
    paid(db, kit, datetime(2026, 6, 3, 12, 0, tzinfo=UTC), 4_200, currency="eur")
    sent_invoice(db, kit, due=TODAY)  # sent, not paid: outstanding only

    with db.session() as s:
        org = s.get(Org, kit.org.id)
        assert org is not None
        starts = receivables.month_starts(org, TODAY)
        assert (starts[0], starts[-1], len(starts)) == (date(2026, 1, 1), date(2026, 12, 1), 12)
        by = {f.currency: f for f in receivables.figures(s, org=org, today=TODAY)}
    usd, eur = by["USD"], by["EUR"]
    assert usd.paid_by_month == [700, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10_000, 3_500]
    assert usd.paid == 3_500 and usd.outstanding > 0
    assert eur.paid_by_month == [0, 0, 0, 0, 0, 4_200, 0, 0, 0, 0, 0, 0]
    assert (eur.paid, eur.outstanding) == (0, 0)


def test_twelve_months_across_a_year_boundary(db: Any, make_org: Any) -> None:
    kit = make_org()
    with db.session() as s:
        org = s.get(Org, kit.org.id)
        assert org is not None
        starts = receivables.month_starts(org, date(2027, 2, 28))
    assert starts[0] == date(2026, 3, 1) and starts[-1] == date(2027, 2, 1)
    assert [d.month for d in starts] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2]
