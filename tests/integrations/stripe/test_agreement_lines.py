"""An invoice with agreement lines and time the agreement's included hours cover, sent through
the Stripe sandbox (issue 17): the agreement lines go as any line (quantity x unit when exact,
else an amount), a partly covered time line says what was covered and charges the rest, a
fully covered one goes as an amount of 0 (Stripe's invoice item `amount` has no lower bound:
docs.stripe.com/api/invoiceitems/create), and Stripe's total is ours."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select

from integrations.conftest import StripeApp, connect_billing
from regentra.agreements import service as agreements
from regentra.agreements.schemas import AgreementCreate, LineCreate
from regentra.invoices import service as invoices
from regentra.invoices.schemas import InvoiceCreate
from regentra.models import InvoiceLine, Org, User

NOV = (date(2026, 11, 1), date(2026, 11, 30))


def _draft(billing: Any) -> uuid.UUID:
    kit = billing.kit
    client = kit.client(name="Contoso", hourly_rate=15000)  # $150.00 an hour
    ticket = kit.ticket(client, title="Server patching")
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    # 600 minutes included: 3 Nov 300 all covered; 7 Nov 420: 300 covered, 120 at $150/h.
    for day, minutes in ((3, 300), (7, 420)):
        kit.entry(
            tech,
            ticket=ticket,
            minutes=minutes,
            status="approved",
            approver=approver,
            work_date=date(2026, 11, day),
        )
    with kit.db.session() as s:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        assert org is not None and admin is not None
        agreements.create(
            s,
            org=org,
            user=admin,
            data=AgreementCreate(
                client_id=client.id,
                name="Managed services",
                starts_on=NOV[0],
                billing="arrears",
                included_minutes=600,
                lines=[
                    LineCreate(description="Managed endpoint", quantity=25, unit_amount=1200),
                    LineCreate(description="Backup", quantity=1, unit_amount=5000),
                ],
            ),
        )
        made = invoices.generate(
            s,
            org=org,
            user=admin,
            data=InvoiceCreate(client_id=client.id, period_start=NOV[0], period_end=NOV[1]),
            agreements_through=NOV[1],
        )
        s.commit()
        return made.id


def test_agreement_lines_and_covered_time_reach_stripe_with_our_total(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    invoice_id = _draft(billing)
    with billing.kit.db.session() as s:
        ours = list(
            s.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == invoice_id)
                .order_by(InvoiceLine.position)
            )
        )
        figures = [(x.kind, x.quantity, x.minutes, x.covered_minutes, x.amount) for x in ours]
    assert figures == [
        ("agreement", 25, None, None, 30000),
        ("agreement", 1, None, None, 5000),
        ("time", 1, 300, 300, 0),
        ("time", 1, 420, 300, 30000),
    ]

    with billing.kit.api() as api:
        response = api.post(f"/invoices/{invoice_id}/send")
    assert response.status_code == 200, response.text
    sent = response.json()
    assert sent["status"] == "sent" and sent["total"] == 65000

    si = billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"])
    assert si.total == 65000 and si.amount_due == 65000
    stripe_lines = billing.stripe.v1.invoices.line_items.list(si.id, {"limit": 100}).data
    by_line = {line.metadata.to_dict()["regentra_line_id"]: line for line in stripe_lines}
    assert set(by_line) == {str(x.id) for x in ours}
    endpoints, backup, covered, partly = (by_line[str(x.id)] for x in ours)
    assert (endpoints.quantity, endpoints.amount) == (25, 30000)
    assert endpoints.description.startswith("Managed endpoint")
    assert backup.amount == 5000 and backup.description.startswith("Backup")
    assert covered.amount == 0
    assert covered.description.startswith(
        "2026-11-03 · Server patching · "
        f"{ours[2].technician_name} · 5 h, covered by the agreement — "
    )
    assert partly.amount == 30000
    assert partly.description.startswith(
        "2026-11-07 · Server patching · "
        f"{ours[3].technician_name} · 7 h, 5 h covered by the agreement, 2 h @ $150.00/h — "
    )
    assert sum(line.amount for line in stripe_lines) == sent["total"]
