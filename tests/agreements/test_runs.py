"""Issue 17, acceptance 1, through the invoice runs API in-process: a run for last month lists
a client with an agreement billed in advance (10 hours included, time beyond them) and a
client with an agreement billed in arrears and no time; generating bills each agreement's
last-month period once (and the in-advance one's this-month period), the time beyond the
included hours at the client's rate; a second run for the month finds nothing new; two runs
made for the month before either generates bill each period once in total."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from regentra.agreements import service as agreements
from regentra.agreements.schemas import AgreementCreate, LineCreate
from regentra.invoice_runs import service as runs
from regentra.models import AgreementBillingRecord, Invoice, InvoiceLine, Org, User

RUNS = "/invoice-runs"


@dataclass
class Month:
    kit: Any
    db: Any
    start: date  # the first of last month
    end: date
    contoso: uuid.UUID
    fabrikam: uuid.UUID
    managed: uuid.UUID
    backup: uuid.UUID

    @property
    def period(self) -> str:
        return self.start.strftime("%Y-%m")

    def post(self, path: str, **kw: Any) -> Any:
        with self.kit.api() as api:
            return api.post(path, **kw)

    def billed(self) -> list[tuple[uuid.UUID, date]]:
        with self.db.session() as s:
            rows = s.execute(
                select(AgreementBillingRecord.agreement_id, AgreementBillingRecord.period_start)
                .where(AgreementBillingRecord.org_id == self.kit.org.id)
                .order_by(AgreementBillingRecord.period_start)
            ).all()
            return [(a, p) for a, p in rows]

    def invoices(self) -> int:
        with self.db.session() as s:
            count = s.scalar(
                select(func.count()).select_from(Invoice).where(Invoice.org_id == self.kit.org.id)
            )
            return int(count or 0)

    def lines(self, invoice_id: str) -> list[tuple[str, int | None, int | None, int]]:
        with self.db.session() as s:
            found = s.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == uuid.UUID(invoice_id))
                .order_by(InvoiceLine.position)
            )
            return [(x.kind, x.minutes, x.covered_minutes, x.amount) for x in found]


@pytest.fixture
def m(db: Any, make_org: Any) -> Month:
    kit = make_org()
    with db.session() as s:
        org = s.get(Org, kit.org.id)
        assert org is not None
        start, end = runs.last_month(org)
    contoso = kit.client(name="Contoso", hourly_rate=15000)  # $150.00 an hour
    fabrikam = kit.client(name="Fabrikam", hourly_rate=18500)
    tech, approver = kit.add_user("technician"), kit.add_user("approver")
    ticket = kit.ticket(contoso)
    # 600 minutes included: 300 + 300 of these covered, 120 beyond at $150/h = 30000.
    for day, minutes in ((3, 300), (10, 420)):
        kit.entry(
            tech,
            ticket=ticket,
            minutes=minutes,
            status="approved",
            approver=approver,
            work_date=start + timedelta(days=day - 1),
        )
    with db.session() as s:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        assert org is not None and admin is not None
        made = [
            agreements.create(
                s,
                org=org,
                user=admin,
                data=AgreementCreate(
                    client_id=client.id,
                    name=name,
                    starts_on=start,
                    billing=billing,
                    included_minutes=included,
                    lines=[LineCreate(description=text, quantity=quantity, unit_amount=unit)],
                ),
            ).id
            for client, name, billing, included, text, quantity, unit in (
                (contoso, "Managed services", "advance", 600, "Managed endpoint", 25, 1200),
                (fabrikam, "Backup", "arrears", None, "Backup seat", 10, 500),
            )
        ]
        s.commit()
    return Month(kit, db, start, end, contoso.id, fabrikam.id, made[0], made[1])


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def test_a_run_bills_each_agreement_period_once_and_a_second_run_finds_nothing(
    m: Month,
) -> None:
    made = m.post(RUNS, json={"period": m.period})
    assert made.status_code == 201, made.text
    run = made.json()
    # Contoso: last month's and this month's periods (in advance) 2 x 30000, and 120 minutes
    # beyond the included hours at $150/h 30000; Fabrikam: last month (in arrears) 5000.
    listed = [(i["client_name"], i["entries"], i["minutes"], i["amount"]) for i in run["items"]]
    assert listed == [("Contoso", 2, 720, 90000), ("Fabrikam", 0, 0, 5000)]
    assert run["totals"] == [{"currency": "USD", "amount": 95000, "minutes": 720}]

    generated = m.post(f"{RUNS}/{run['id']}/generate", json={})
    assert generated.status_code == 200, generated.text
    items = generated.json()["items"]
    assert [(i["client_name"], i["state"]) for i in items] == [
        ("Contoso", "draft"),
        ("Fabrikam", "draft"),
    ]
    contoso, fabrikam = (i["invoice_id"] for i in items)
    assert m.lines(contoso) == [
        ("agreement", None, None, 30000),
        ("agreement", None, None, 30000),
        ("time", 300, 300, 0),
        ("time", 420, 300, 30000),
    ]
    assert m.lines(fabrikam) == [("agreement", None, None, 5000)]
    periods = m.billed()
    assert len(periods) == 3 and set(periods) == {
        (m.managed, m.start),
        (m.managed, _next_month(m.start)),
        (m.backup, m.start),
    }

    # A second run for the month: nothing new to list, nothing billed again.
    again = m.post(RUNS, json={"period": m.period})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "nothing_to_invoice"
    assert len(m.billed()) == 3 and m.invoices() == 2


def test_two_runs_made_before_either_generates_bill_each_period_once(m: Month) -> None:
    first = m.post(RUNS, json={"period": m.period}).json()
    second = m.post(RUNS, json={"period": m.period}).json()
    assert [i["amount"] for i in first["items"]] == [i["amount"] for i in second["items"]]

    done = m.post(f"{RUNS}/{first['id']}/generate", json={}).json()
    assert [i["state"] for i in done["items"]] == ["draft", "draft"]
    late = m.post(f"{RUNS}/{second['id']}/generate", json={})
    assert late.status_code == 200, late.text
    assert [(i["state"], i["invoice_id"]) for i in late.json()["items"]] == [
        ("nothing", None),
        ("nothing", None),
    ]
    periods = m.billed()
    assert len(periods) == len(set(periods)) == 3
    assert set(periods) == {
        (m.managed, m.start),
        (m.managed, _next_month(m.start)),
        (m.backup, m.start),
    }
    assert m.invoices() == 2
