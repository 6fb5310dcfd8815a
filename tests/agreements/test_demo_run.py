"""Issue 17, acceptance 1, over the demo's own data (`demo.seed`, as `make demo` seeds it), in
the test's database on SQLite and PostgreSQL: a run for last month bills every agreement's
last-month period once (Contoso's in advance also this month's), with Contoso's time beyond
its 10 included hours charged at its rate; a second run for the month bills nothing new."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from regentra import demo
from regentra.agreements import billing
from regentra.invoice_runs import service as runs
from regentra.invoice_runs.service import NothingToRun
from regentra.kit.money import amount_for
from regentra.models import (
    Agreement,
    AgreementBillingRecord,
    Client,
    InvoiceLine,
    Org,
    TimeEntry,
    User,
)


def test_a_run_for_last_month_over_the_demo_bills_each_agreement_period_once(db: Any) -> None:
    with db.session() as s:
        demo.seed(s)
        s.commit()
        org = s.scalars(select(Org).where(Org.name == "Northwind IT Services")).one()
        admin = s.scalars(
            select(User).where(User.org_id == org.id, User.email == demo.USERS[0][1])
        ).one()
        start, end = runs.last_month(org)
        agreements = list(s.scalars(select(Agreement).where(Agreement.org_id == org.id)))
        assert {a.name for a in agreements} == {"Managed services", "Backup"}

        run = runs.create(s, org=org, user=admin, period_start=start, period_end=end)
        runs.generate(s, org=org, user=admin, run_id=run.id)
        s.commit()
        items = runs.items_of(s, run)
        assert all(i.state == "draft" for i in items), [(i.client_name, i.error) for i in items]

        # Every agreement's last-month period billed once; the in-advance one's this month too.
        billed = s.execute(
            select(Agreement.name, AgreementBillingRecord.period_start)
            .join(Agreement, Agreement.id == AgreementBillingRecord.agreement_id)
            .where(AgreementBillingRecord.org_id == org.id)
            .order_by(Agreement.name, AgreementBillingRecord.period_start)
        ).all()
        this_month = billing.add_months(start, 1)
        assert [tuple(b) for b in billed] == [
            ("Backup", start),
            ("Managed services", start),
            ("Managed services", this_month),
        ]

        # Contoso's last-month time: 600 minutes covered in work-date order, the rest charged.
        contoso = s.scalars(select(Client).where(Client.name == "Contoso Dental")).one()
        item = next(i for i in items if i.client_id == contoso.id)
        lines = list(
            s.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == item.invoice_id)
                .order_by(InvoiceLine.position)
            )
        )
        time = [x for x in lines if x.kind == "time"]
        worked = sum(x.minutes or 0 for x in time)
        covered = sum(x.covered_minutes or 0 for x in time)
        assert covered == 600 and worked > 600
        rate = s.scalars(
            select(TimeEntry.hourly_rate).where(TimeEntry.id == time[-1].time_entry_id)
        ).one()
        assert sum(x.amount for x in time) == sum(
            amount_for(rate, (x.minutes or 0) - (x.covered_minutes or 0), "USD") for x in time
        )
        assert sum(x.amount for x in time) > 0
        endpoints = [x for x in lines if x.kind == "agreement"]
        assert [x.amount for x in endpoints] == [25 * 2500, 25 * 2500]

        # A second run for the month: nothing new to bill.
        with pytest.raises(NothingToRun):
            runs.create(s, org=org, user=admin, period_start=start, period_end=end)
