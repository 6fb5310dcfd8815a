"""Agreements billed to the cent, on SQLite and PostgreSQL (issue 17, acceptance 2): proration
by days, a quantity change mid-period, a price change from the next period, a quarter, included
hours under and over (the entry crossing the limit split), rollover, and each period billed once
by repeated and overlapping generations; voiding releases the period. Every figure below is
computed by hand in the comment beside it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from regentra.agreements import billing
from regentra.agreements import service as agreements
from regentra.agreements.schemas import AgreementCreate, LineChange, LineCreate
from regentra.audit.service import Actor
from regentra.errors import RegentraError
from regentra.invoices import service as invoices
from regentra.invoices import transitions
from regentra.invoices.errors import NothingToInvoice
from regentra.invoices.schemas import InvoiceCreate
from regentra.models import Agreement, Invoice, InvoiceLine, Org, User

NOV = (date(2026, 11, 1), date(2026, 11, 30))


@dataclass
class Kit:
    db: Any
    kit: Any
    client_id: uuid.UUID

    def agreement(self, **kw: Any) -> uuid.UUID:
        lines = kw.pop("lines", [])
        with self.db.session() as s:
            org, admin = self._who(s)
            made = agreements.create(
                s,
                org=org,
                user=admin,
                data=AgreementCreate(
                    client_id=self.client_id,
                    name=kw.pop("name", "Managed services"),
                    lines=[LineCreate(**line) for line in lines],
                    **kw,
                ),
            )
            s.commit()
            return made.id

    def _who(self, s: Any) -> tuple[Org, User]:
        org, admin = s.get(Org, self.kit.org.id), s.get(User, self.kit.admin.id)
        assert org is not None and admin is not None
        return org, admin

    def charge(self, agreement_id: uuid.UUID, start: date, end: date) -> list[tuple[int, int]]:
        """(quantity or 1, amount) per line of the period's charge."""
        with self.db.session() as s:
            found = s.get(Agreement, agreement_id)
            assert found is not None
            made = billing.charge(s, found, start, end, currency="USD")
            return [(line.quantity, line.amount) for line in made.lines]

    def generate(self, period: tuple[date, date], *, agreements: bool = True) -> uuid.UUID:
        with self.db.session() as s:
            org, admin = self._who(s)
            made = invoices.generate(
                s,
                org=org,
                user=admin,
                data=InvoiceCreate(
                    client_id=self.client_id, period_start=period[0], period_end=period[1]
                ),
                agreements_through=period[1] if agreements else None,
            )
            s.commit()
            return made.id

    def lines(self, invoice_id: uuid.UUID) -> list[InvoiceLine]:
        with self.db.session() as s:
            return list(
                s.scalars(
                    select(InvoiceLine)
                    .where(InvoiceLine.invoice_id == invoice_id)
                    .order_by(InvoiceLine.position)
                )
            )

    def total(self, invoice_id: uuid.UUID) -> int:
        with self.db.session() as s:
            found = s.get(Invoice, invoice_id)
            assert found is not None
            return found.total


@pytest.fixture
def k(db: Any, make_org: Any) -> Kit:
    kit = make_org()
    client = kit.client(name="Contoso", hourly_rate=15000)  # $150.00 an hour
    return Kit(db, kit, client.id)


def line(quantity: int, unit: int, **kw: Any) -> dict[str, Any]:
    return {"description": "Managed endpoint", "quantity": quantity, "unit_amount": unit, **kw}


# ---- proration, to the cent ------------------------------------------------------------------


def test_the_hand_computed_table(k: Kit) -> None:
    whole = k.agreement(starts_on=date(2026, 1, 1), lines=[line(25, 1200)])
    assert k.charge(whole, *NOV) == [(25, 30000)]  # 25 x $12.00

    late = k.agreement(starts_on=date(2026, 11, 16), lines=[line(25, 1200)])
    assert k.charge(late, *NOV) == [(1, 15000)]  # 25 x 1200 x 15/30 = 15000

    ends = k.agreement(
        starts_on=date(2026, 1, 1), ends_on=date(2026, 11, 13), lines=[line(7, 1999)]
    )
    assert k.charge(ends, *NOV) == [(1, 6064)]  # 7 x 1999 x 13/30 = 6063.63 -> 6064

    february = k.agreement(starts_on=date(2027, 2, 15), lines=[line(3, 1000)])
    feb = (date(2027, 2, 1), date(2027, 2, 28))
    assert k.charge(february, *feb) == [(1, 1500)]  # 3 x 1000 x 14/28 = 1500

    quarterly = k.agreement(starts_on=date(2026, 11, 1), period="quarterly", lines=[line(1, 90000)])
    q4 = (date(2026, 10, 1), date(2026, 12, 31))  # 92 days, 61 of them from 1 Nov
    assert k.charge(quarterly, *q4) == [(1, 59674)]  # 90000 x 61/92 = 59673.91 -> 59674

    half = k.agreement(starts_on=date(2026, 11, 16), lines=[line(1, 1)])
    assert k.charge(half, *NOV) == [(1, 1)]  # 1 x 1 x 15/30 = 0.5 -> 1 (half up)

    outside = k.agreement(starts_on=date(2026, 12, 1), lines=[line(5, 1000)])
    assert k.charge(outside, *NOV) == []


def test_a_quantity_change_mid_period_is_prorated_on_both_sides(k: Kit) -> None:
    made = k.agreement(starts_on=date(2026, 11, 1), billing="arrears", lines=[line(10, 1200)])
    with k.db.session() as s:
        org, admin = k._who(s)
        line_id = billing.lines_of(s, s.get(Agreement, made))[0].id  # type: ignore[arg-type]
        agreements.change_line(
            s,
            org=org,
            user=admin,
            agreement_id=made,
            line_id=line_id,
            data=LineChange(effective_from=date(2026, 11, 15), quantity=25),
        )
        s.commit()
    # 10 x 1200 x 14/30 + 25 x 1200 x 16/30 = 5600 + 16000
    assert k.charge(made, *NOV) == [(1, 21600)]
    invoice = k.generate(NOV)
    (only,) = k.lines(invoice)
    assert (only.kind, only.amount) == ("agreement", 21600)
    assert "10 x $12.00 x 14/30 days" in only.description
    assert "25 x $12.00 x 16/30 days" in only.description


def test_a_price_change_takes_effect_from_the_next_period_never_a_billed_one(k: Kit) -> None:
    made = k.agreement(starts_on=date(2026, 11, 1), lines=[line(25, 1200)])  # in advance
    first = k.generate(NOV)  # November (from the start) and December, in advance
    assert sorted(line.amount for line in k.lines(first)) == [30000, 30000]
    with k.db.session() as s:
        org, admin = k._who(s)
        line_id = billing.lines_of(s, s.get(Agreement, made))[0].id  # type: ignore[arg-type]
        with pytest.raises(RegentraError) as refused:  # December is billed already
            agreements.change_line(
                s,
                org=org,
                user=admin,
                agreement_id=made,
                line_id=line_id,
                data=LineChange(effective_from=date(2026, 12, 1), unit_amount=1500),
            )
        assert "must be after 2026-12-31" in refused.value.message
        agreements.change_line(
            s,
            org=org,
            user=admin,
            agreement_id=made,
            line_id=line_id,
            data=LineChange(effective_from=date(2027, 1, 1), unit_amount=1500),
        )
        s.commit()
    assert k.charge(made, *NOV) == [(25, 30000)]  # unchanged: never retroactive
    assert k.charge(made, date(2027, 1, 1), date(2027, 1, 31)) == [(25, 37500)]


# ---- each period once ------------------------------------------------------------------------


def test_each_period_is_billed_once_and_voiding_releases_it(k: Kit) -> None:
    k.agreement(starts_on=date(2026, 11, 1), billing="arrears", lines=[line(25, 1200)])
    first = k.generate(NOV)
    assert k.total(first) == 30000
    with pytest.raises(NothingToInvoice):  # repeated: November is billed
        k.generate(NOV)
    with k.db.session() as s:
        org, admin = k._who(s)
        draft = s.get(Invoice, first)
        assert draft is not None
        transitions.mark_void(
            s, org=org, actor=Actor.of(admin), invoice=draft, release_entries=True
        )
        s.commit()
    again = k.generate(NOV)  # the void released the period
    assert k.total(again) == 30000


def test_two_agreements_of_one_client_bill_beside_each_other_once(k: Kit) -> None:
    k.agreement(name="Endpoints", starts_on=date(2026, 11, 1), lines=[line(25, 1200)])
    k.agreement(
        name="Backup",
        starts_on=date(2026, 11, 1),
        billing="arrears",
        lines=[{"description": "Backup seat", "quantity": 10, "unit_amount": 500}],
    )
    invoice = k.generate(NOV)
    # Endpoints in advance: November (its first period) and December; backup in arrears: Nov.
    assert sorted(line.amount for line in k.lines(invoice)) == [5000, 30000, 30000]
    with pytest.raises(NothingToInvoice):
        k.generate(NOV)


# ---- included hours --------------------------------------------------------------------------


def _time(k: Kit, *entries: tuple[int, int]) -> None:
    tech = k.kit.add_user("technician")
    ticket = k.kit.ticket(_client(k))
    for day, minutes in entries:
        k.kit.entry(
            tech, ticket=ticket, minutes=minutes, status="approved", work_date=date(2026, 11, day)
        )


def _client(k: Kit) -> Any:
    from regentra.models import Client

    with k.db.session() as s:
        return s.get(Client, k.client_id)


def test_included_hours_cover_time_in_work_date_order_and_split_the_crossing_entry(
    k: Kit,
) -> None:
    k.agreement(
        starts_on=date(2026, 11, 1), billing="arrears", included_minutes=600, lines=[line(25, 1200)]
    )
    _time(k, (9, 90), (3, 240), (7, 120), (5, 300))
    invoice = k.generate(NOV)
    time = [x for x in k.lines(invoice) if x.kind == "time"]
    # 600 included: 3 Nov 240 + 5 Nov 300 = 540 covered; 7 Nov: 60 covered, 60 at $150/h;
    # 9 Nov: 90 at $150/h.
    assert [(x.work_date.day, x.minutes, x.covered_minutes, x.amount) for x in time] == [
        (3, 240, 240, 0),
        (5, 300, 300, 0),
        (7, 120, 60, 15000),
        (9, 90, None, 22500),
    ]
    assert k.total(invoice) == 30000 + 15000 + 22500
    # Later time of the same month: the hours are used up.
    _time(k, (20, 60))
    later = k.generate(NOV, agreements=False)
    assert [(x.covered_minutes, x.amount) for x in k.lines(later)] == [(None, 15000)]


def test_time_under_the_included_hours_costs_nothing_and_beyond_goes_at_the_agreements_rate(
    k: Kit,
) -> None:
    k.agreement(
        starts_on=date(2026, 11, 1),
        billing="arrears",
        included_minutes=120,
        hourly_rate=12000,
        lines=[line(1, 50000)],
    )
    _time(k, (2, 60), (4, 45))
    under = k.generate(NOV)
    assert [(x.covered_minutes, x.amount) for x in k.lines(under) if x.kind == "time"] == [
        (60, 0),
        (45, 0),
    ]
    _time(k, (6, 45))  # 15 left: 15 covered, 30 at $120/h = 6000
    over = k.generate(NOV, agreements=False)
    assert [(x.covered_minutes, x.unit_amount, x.amount) for x in k.lines(over)] == [
        (15, 12000, 6000)
    ]


def test_unused_hours_roll_over_only_when_the_agreement_says_so(k: Kit) -> None:
    k.agreement(
        starts_on=date(2026, 10, 1),
        billing="arrears",
        included_minutes=60,
        rollover=True,
        lines=[line(1, 100)],
    )
    tech = k.kit.add_user("technician")
    ticket = k.kit.ticket(_client(k))
    k.kit.entry(tech, ticket=ticket, minutes=20, status="approved", work_date=date(2026, 10, 5))
    k.generate((date(2026, 10, 1), date(2026, 10, 31)))  # October: 20 of 60 used
    k.kit.entry(tech, ticket=ticket, minutes=120, status="approved", work_date=date(2026, 11, 5))
    november = k.generate(NOV)
    # November: 60 + the 40 October left = 100 covered; 20 at $150/h = 5000.
    assert [(x.covered_minutes, x.amount) for x in k.lines(november) if x.kind == "time"] == [
        (100, 5000)
    ]


# ---- changes inside a period billed in advance: adjustments ----------------------------------

DEC = (date(2026, 12, 1), date(2026, 12, 31))


def _change(k: Kit, agreement_id: uuid.UUID, **change: Any) -> None:
    with k.db.session() as s:
        org, admin = k._who(s)
        line_id = billing.lines_of(s, s.get(Agreement, agreement_id))[0].id  # type: ignore[arg-type]
        agreements.change_line(
            s,
            org=org,
            user=admin,
            agreement_id=agreement_id,
            line_id=line_id,
            data=LineChange(**change),
        )
        s.commit()


def test_a_decrease_inside_a_period_billed_in_advance_is_credited_by_the_next_run(k: Kit) -> None:
    made = k.agreement(starts_on=date(2026, 11, 1), lines=[line(25, 1200)])
    first = k.generate(NOV)  # November and December (in advance): 2 x 30000
    assert k.total(first) == 60000
    with pytest.raises(RegentraError):  # November is closed: only December can change
        _change(k, made, effective_from=date(2026, 11, 20), quantity=15)
    _change(k, made, effective_from=date(2026, 12, 16), quantity=15)
    second = k.generate(DEC)
    amounts = [(x.agreement_period_start, x.amount) for x in k.lines(second)]
    # January in advance: 15 x 1200 = 18000. December again: 25 x 1200 x 15/31 +
    # 15 x 1200 x 16/31 = 738000/31 = 23806.45 -> 23806, billed 30000: a credit of 6194.
    assert amounts == [(date(2027, 1, 1), 18000), (date(2026, 12, 1), -6194)]
    assert k.total(second) == 11806
    credit = k.lines(second)[1]
    assert "instead of $300.00 billed" in credit.description
    with pytest.raises(NothingToInvoice):  # nothing new: the credit was given once
        k.generate(DEC)


def test_a_credit_larger_than_the_invoice_is_carried_to_the_next_one(k: Kit) -> None:
    made = k.agreement(starts_on=date(2026, 11, 1), lines=[line(25, 1200)])
    k.generate(NOV)  # November and December billed
    with k.db.session() as s:
        org, admin = k._who(s)
        from regentra.agreements.schemas import AgreementUpdate

        agreements.update(
            s,
            org=org,
            user=admin,
            agreement_id=made,
            data=AgreementUpdate(ends_on=date(2026, 12, 10)),
        )
        s.commit()
    tech = k.kit.add_user("technician")
    ticket = k.kit.ticket(_client(k))
    k.kit.entry(tech, ticket=ticket, minutes=60, status="approved", work_date=date(2026, 12, 1))
    december = k.generate(DEC)
    # December now: 25 x 1200 x 10/31 = 9677.42 -> 9677, billed 30000: a credit of 20323,
    # of which the invoice (an hour at $150.00) takes 15000; 5323 waits.
    assert [x.amount for x in k.lines(december)] == [15000, -15000]
    assert k.total(december) == 0
    assert "$53.23 of this credit goes on the next invoice" in k.lines(december)[1].description
    # More December time, on the next invoice: it takes the rest of the credit.
    k.kit.entry(tech, ticket=ticket, minutes=120, status="approved", work_date=date(2026, 12, 2))
    following = k.generate(DEC)
    assert [x.amount for x in k.lines(following)] == [30000, -5323]
    assert k.total(following) == 24677
    # Voiding it gives its part of the credit back, to be taken again.
    with k.db.session() as s:
        org, admin = k._who(s)
        draft = s.get(Invoice, following)
        assert draft is not None
        transitions.mark_void(
            s, org=org, actor=Actor.of(admin), invoice=draft, release_entries=True
        )
        s.commit()
    again = k.generate(DEC)
    assert [x.amount for x in k.lines(again)] == [30000, -5323]


# ---- an agreement on an invoice of its own ---------------------------------------------------


def test_an_agreement_billed_separately_is_a_run_item_and_an_invoice_of_its_own(k: Kit) -> None:
    from regentra.invoice_runs import service as runs

    with k.db.session() as s:
        org, _ = k._who(s)
        start, end = runs.last_month(org)
    k.agreement(name="Endpoints", starts_on=start, billing="arrears", lines=[line(25, 1200)])
    own = k.agreement(
        name="Backup",
        starts_on=start,
        billing="arrears",
        separate_invoice=True,
        lines=[{"description": "Backup seat", "quantity": 10, "unit_amount": 500}],
    )
    with k.db.session() as s:
        org, admin = k._who(s)
        run = runs.create(s, org=org, user=admin, period_start=start, period_end=end)
        items = runs.items_of(s, run)
        listed = [(i.client_name, i.agreement_id, i.amount) for i in items]
        assert listed == [("Contoso", None, 30000), ("Contoso · Backup", own, 5000)]
        runs.generate(s, org=org, user=admin, run_id=run.id)
        drafts = [i.invoice_id for i in runs.items_of(s, run)]
        s.commit()
    main, separate = (k.lines(d) for d in drafts if d is not None)
    assert [(x.description.split(" · ")[0], x.amount) for x in main] == [
        ("Managed endpoint", 30000)
    ]
    assert [(x.agreement_id, x.amount) for x in separate] == [(own, 5000)]
    with k.db.session() as s, pytest.raises(RegentraError):  # both periods billed: nothing new
        org, admin = k._who(s)
        runs.create(s, org=org, user=admin, period_start=start, period_end=end)


# ---- which periods a run bills ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "billing_", "starts_on", "through", "expected"),
    [
        # The run for November: monthly in arrears bills November; in advance December too.
        ("monthly", "arrears", date(2026, 11, 16), date(2026, 11, 30), ["2026-11-01"]),
        (
            "monthly",
            "advance",
            date(2026, 11, 16),
            date(2026, 11, 30),
            ["2026-11-01", "2026-12-01"],
        ),
        # Quarterly in arrears: Q4 only once it is over (the run for December).
        ("quarterly", "arrears", date(2026, 10, 1), date(2026, 11, 30), []),
        ("quarterly", "arrears", date(2026, 10, 1), date(2026, 12, 31), ["2026-10-01"]),
        # Quarterly in advance: Q1 2027 in the run for December, the quarter before it starts.
        ("quarterly", "advance", date(2026, 11, 1), date(2026, 11, 30), ["2026-10-01"]),
        (
            "quarterly",
            "advance",
            date(2026, 11, 1),
            date(2026, 12, 31),
            ["2026-10-01", "2027-01-01"],
        ),
        ("yearly", "advance", date(2026, 3, 1), date(2026, 12, 31), ["2026-01-01", "2027-01-01"]),
        ("yearly", "arrears", date(2026, 3, 1), date(2026, 11, 30), []),
    ],
)
def test_the_periods_a_run_bills(
    period: str, billing_: str, starts_on: date, through: date, expected: list[str]
) -> None:
    agreement = Agreement(period=period, billing=billing_, starts_on=starts_on, ends_on=None)
    found = [start.isoformat() for start, _ in billing.due_periods(agreement, through=through)]
    assert found == expected


def test_an_ended_agreement_bills_no_period_after_its_end() -> None:
    agreement = Agreement(
        period="monthly", billing="advance", starts_on=date(2026, 9, 1), ends_on=date(2026, 10, 15)
    )
    found = [s.isoformat() for s, _ in billing.due_periods(agreement, through=date(2026, 11, 30))]
    assert found == ["2026-09-01", "2026-10-01"]


def test_a_separate_agreement_is_ticked_apart_from_its_clients_invoice(k: Kit) -> None:
    from regentra.invoice_runs import service as runs

    with k.db.session() as s:
        org, _ = k._who(s)
        start, end = runs.last_month(org)
    k.agreement(name="Endpoints", starts_on=start, billing="arrears", lines=[line(25, 1200)])
    own = k.agreement(
        name="Backup",
        starts_on=start,
        billing="arrears",
        separate_invoice=True,
        lines=[{"description": "Backup seat", "quantity": 10, "unit_amount": 500}],
    )
    with k.db.session() as s:
        org, admin = k._who(s)
        run = runs.create(s, org=org, user=admin, period_start=start, period_end=end)
        runs.generate(s, org=org, user=admin, run_id=run.id, client_ids=[own])  # only Backup
        states = {i.client_name: i.state for i in runs.items_of(s, run)}
        assert states == {"Contoso": "excluded", "Contoso · Backup": "draft"}


def test_an_agreement_whose_hours_covered_invoiced_time_is_ended_not_deleted(k: Kit) -> None:
    made = k.agreement(starts_on=date(2026, 11, 1), billing="arrears", included_minutes=60)
    _time(k, (3, 30))
    k.generate(NOV, agreements=False)  # the time only: the agreement has no line to bill
    with k.db.session() as s:
        org, admin = k._who(s)
        with pytest.raises(RegentraError) as refused:
            agreements.delete(s, org=org, user=admin, agreement_id=made)
        assert "set an end date instead" in refused.value.message
