"""The overdue sweep, on SQLite and PostgreSQL: `sent` invoices past their due date in the
org's time zone become `overdue` (audited, once), those due today stay `sent`, and an overdue
invoice can still be paid. All in-process, in the test's rolled-back transaction (`db`): the
"invoices.overdue_sweep" task opens its session through `session_scope`, which joins it, and
runs here, directly and as the periodic job the consumers install."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from regentra import periodic, queue
from regentra.audit.service import Actor
from regentra.invoices import service as invoicing
from regentra.invoices import transitions
from regentra.invoices.schemas import InvoiceCreate
from regentra.invoices.tasks import overdue_sweep
from regentra.kit.time import utcnow
from regentra.models import AuditEvent, Invoice, Org, User

EAST = "Pacific/Kiritimati"  # UTC+14
WEST = "Pacific/Pago_Pago"  # UTC-11: always at least a calendar day behind EAST


def org_in(db: Any, make_org: Any, timezone: str) -> Any:
    kit = make_org()
    with db.session() as s:
        s.execute(update(Org).where(Org.id == kit.org.id).values(timezone=timezone))
        s.commit()
        org = s.get(Org, kit.org.id)
        assert org is not None
        kit.org = org
    return kit


def today_in(kit: Any) -> date:
    return transitions.org_today(kit.org)


def sent_invoice(db: Any, kit: Any, *, due: date) -> uuid.UUID:
    """An invoice generated from one approved entry and marked sent, due on `due`."""
    tech = kit.add_user("technician")
    client = kit.client()
    entry = kit.entry(tech, ticket=kit.ticket(client), status="approved")
    with db.session() as s:
        org = s.get(Org, kit.org.id)
        admin = s.get(User, kit.admin.id)
        data = InvoiceCreate(client_id=client.id, entry_ids=[entry.id])
        invoice = invoicing.generate(s, org=org, user=admin, data=data)
        transitions.mark_sent(
            s,
            invoice=invoice,
            actor=Actor.system(),
            stripe_invoice_id=f"in_test_{uuid.uuid4().hex[:20]}",
            hosted_invoice_url=None,
            due_date=due,
        )
        s.commit()
        return invoice.id


def state(db: Any, invoice_id: uuid.UUID) -> tuple[str, list[AuditEvent]]:
    with db.session() as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None
        overdue = s.scalars(
            select(AuditEvent).where(
                AuditEvent.subject_type == "invoice",
                AuditEvent.subject_id == str(invoice_id),
                AuditEvent.action == "invoice.overdue",
            )
        ).all()
        return invoice.status, list(overdue)


def test_due_dates_pass_in_the_orgs_time_zone_once_and_payment_still_counts(
    db: Any, make_org: Any
) -> None:
    east = org_in(db, make_org, EAST)
    west = org_in(db, make_org, WEST)
    east_today, west_today = today_in(east), today_in(west)
    assert west_today < east_today

    yesterday = sent_invoice(db, east, due=east_today - timedelta(days=1))
    due_today = sent_invoice(db, east, due=east_today)
    # The same calendar day is still today in the west, and already past in the east.
    west_due_today = sent_invoice(db, west, due=west_today)
    east_due_that_day = sent_invoice(db, east, due=west_today)

    assert overdue_sweep() >= 2
    for invoice_id in (yesterday, east_due_that_day):
        status, entries = state(db, invoice_id)
        assert status == "overdue"
        assert len(entries) == 1
        assert entries[0].actor_type == "system"
    assert (
        state(db, yesterday)[1][0].details["due_date"]
        == (east_today - timedelta(days=1)).isoformat()
    )
    for invoice_id in (due_today, west_due_today):
        assert state(db, invoice_id) == ("sent", [])

    overdue_sweep()  # again: nothing moves twice, nothing is audited twice
    assert [len(state(db, i)[1]) for i in (yesterday, east_due_that_day)] == [1, 1]
    assert state(db, due_today)[0] == "sent"

    # Paid later (the webhook, or reconciliation): overdue → paid.
    with db.session() as s:
        invoice = s.get(Invoice, yesterday)
        assert invoice is not None and invoice.stripe_invoice_id is not None
        paid = transitions.mark_paid(
            s,
            org_id=east.org.id,
            stripe_invoice_id=invoice.stripe_invoice_id,
            paid_at=utcnow(),
            amount_paid=invoice.total,
            source="webhook",
        )
        s.commit()
    assert paid is not None and paid.id == yesterday
    status, entries = state(db, yesterday)
    assert status == "paid" and len(entries) == 1
    overdue_sweep()
    assert state(db, yesterday)[0] == "paid"


def test_the_sweep_is_a_periodic_job_every_15_minutes_under_its_lock(
    db: Any, make_org: Any, tmp_path: Path
) -> None:
    huey = queue.make_huey(f"sqlite:///{tmp_path / 'queue.db'}")
    queue.load_tasks()
    periodic.install(huey)  # the default SCHEDULE, as `regentra worker` and `serve` do
    names = {type(t).__name__ for t in huey._registry.periodic_tasks}
    assert {"periodic.invoices.overdue", "periodic.stripe.reconcile"} <= names

    entry = next(e for e in periodic.SCHEDULE if e.name == "invoices.overdue")
    assert entry.task == "invoices.overdue_sweep"
    hour = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    ran = [m for m in range(60) if entry.schedule(hour.replace(minute=m))]
    assert ran == [0, 15, 30, 45]

    kit = org_in(db, make_org, "UTC")
    late = sent_invoice(db, kit, due=today_in(kit) - timedelta(days=3))
    (job,) = [
        t for t in huey._registry.periodic_tasks if type(t).__name__ == "periodic.invoices.overdue"
    ]
    huey.execute(type(job)())
    status, entries = state(db, late)
    assert status == "overdue" and len(entries) == 1
    assert not huey.is_locked("periodic.invoices.overdue")
