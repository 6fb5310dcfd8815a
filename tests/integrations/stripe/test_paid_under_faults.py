"""Acceptance: 300 invoices paid while Stripe's webhooks are duplicated, reordered and dropped,
then one reconciliation run: every invoice is paid exactly once, with one "paid" audit entry.

A private sandbox (its faults are sandbox-wide) and a server of its own, on each database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from conftest import Database, _org_factory, stop_server
from sandbox.stripe.conftest import start_sandbox, stop_sandbox
from sandbox.stripe.receiver import settled
from sqlalchemy import select

from integrations.conftest import (
    StripeApp,
    connect_billing,
    reconcile_after_drops,
    start_stripe_app,
)
from regentra.models import AuditEvent, Invoice

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INVOICES = 300


@pytest.fixture
def faulty(database: Database) -> Iterator[StripeApp]:
    sandbox = start_sandbox("--rate-limit", "0")
    # The pacing is for Stripe's real limits; this sandbox has none.
    server = start_stripe_app(database, sandbox.url, extra_env={"REGENTRA_STRIPE_MAX_RPS": "0"})
    try:
        yield StripeApp(server, sandbox, database)
    finally:
        stop_server(server)
        stop_sandbox(sandbox)


def test_300_paid_invoices_through_duplicate_reorder_and_drop_then_one_reconciliation(
    faulty: StripeApp,
) -> None:
    # The endpoint listens for what this test is about (deliveries to one endpoint go out one
    # at a time, so every other event type would only slow it down).
    billing = connect_billing(
        faulty, _org_factory(faulty.database, faulty.server)(), events=["invoice.paid"]
    )
    invoices = billing.sent_invoices(INVOICES)
    by_stripe_id = {invoice["stripe_invoice_id"]: invoice for invoice in invoices}
    assert len(by_stripe_id) == INVOICES

    with billing.control() as control:
        # One attempt per event: a dropped delivery is lost for good, as after Stripe gives up.
        assert control.post("/_sandbox/webhooks/settings", data={"max_attempts": 1}).is_success
        faults = {"duplicate": 0.3, "reorder": 0.3, "drop": 0.25}
        assert control.post("/_sandbox/faults", data=faults).is_success
        for stripe_id in by_stripe_id:
            paid = control.post(f"/_sandbox/invoices/{stripe_id}/pay")
            assert paid.status_code == 200, paid.text
        settled(control, timeout=120)
        assert control.post("/_sandbox/faults").is_success  # clear them
        deliveries = control.get("/_sandbox/deliveries", params={"limit": 10000}).json()["data"]

    kinds = Counter(d["event"] for d in deliveries if d["type"] == "invoice.paid")
    assert any(n > 1 for n in kinds.values()), "no invoice.paid event was duplicated"

    still_open = reconcile_after_drops(billing, faulty.database)

    org_id = billing.kit.org.id
    with faulty.database.session() as s:
        statuses = Counter(s.scalars(select(Invoice.status).where(Invoice.org_id == org_id)).all())
        assert statuses == {"paid": INVOICES}
        paid_entries = s.execute(
            select(AuditEvent.subject_id, AuditEvent.details).where(
                AuditEvent.org_id == org_id, AuditEvent.action == "invoice.paid"
            )
        ).all()
    per_invoice = Counter(subject for subject, _ in paid_entries)
    assert len(per_invoice) == INVOICES
    assert set(per_invoice.values()) == {1}, "an invoice was marked paid twice"
    how = Counter(details["message"] for _, details in paid_entries)
    assert how["payment found by reconciliation"] == still_open
    assert how["payment received (Stripe webhook)"] == INVOICES - still_open
