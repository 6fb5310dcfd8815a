"""Stripe payouts mirrored in Regentra, through the app in-process against a Stripe sandbox of
the test's own (its clock moves): automatic daily payouts arrive by their events (read again
by a task) or by reconciliation, the Payouts page and API list them with their contents named
by invoice, and a failed payout shows as failed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import Database, Site
from sandbox.stripe.conftest import StripeSandbox
from web.pages import PageClient

from integrations.conftest import Billing, StripeApp, connect_billing, use_stripe
from integrations.stripe.test_refunds_and_disputes import _deliver, _events, _paid_invoice
from integrations.stripe.test_webhook_events import stop_deliveries
from regentra.integrations.stripe import handlers

DAY = 86_400


@pytest.fixture
def billing(
    db: Database,
    site: Site,
    clock_sandbox: StripeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    run_tasks: Callable[..., list[str]],
) -> Billing:
    use_stripe(monkeypatch, clock_sandbox.url, stripe_max_rps="0")
    made = connect_billing(StripeApp(site, clock_sandbox, db))
    run_tasks()
    stop_deliveries(made)
    with made.control() as ctl:
        on = ctl.post("/_sandbox/payouts/schedule", data={"interval": "daily"})
        assert on.status_code == 200, on.text
    return made


def _advance(billing: Billing, seconds: int) -> None:
    with billing.control() as ctl:
        moved = ctl.post("/_sandbox/clock/advance", data={"seconds": seconds})
    assert moved.status_code == 200, moved.text


def test_daily_payout_arrives_by_its_events_with_its_contents_by_invoice(
    billing: Billing, site: Site, run_tasks: Callable[..., list[str]]
) -> None:
    first = _paid_invoice(billing, run_tasks)
    second = _paid_invoice(billing, run_tasks)
    with billing.kit.api() as api:
        refund = api.post(f"/invoices/{first['id']}/refunds", json={"amount": 1000})
    assert refund.status_code == 201, refund.text
    _advance(billing, 4 * DAY)
    (stripe_payout,) = billing.stripe.v1.payouts.list().data
    events = _events(billing, "payout.created", "payout.paid")
    assert sorted(e["type"] for e in events) == ["payout.created", "payout.paid"]
    _deliver(billing, events, times=2)
    assert run_tasks().count(handlers.MOVEMENT_TASK) == 2  # a redelivery is stored once

    with billing.kit.api() as api:
        (listed,) = api.get("/payouts").json()["items"]
        detail = api.get(f"/payouts/{listed['id']}").json()
        approver = billing.kit.add_user("approver")
    assert listed["stripe_payout_id"] == stripe_payout.id
    assert listed["amount"] == stripe_payout.amount and listed["status"] == "paid"
    assert listed["arrival_date"] and listed["automatic"] is True
    kinds = sorted((c["kind"], c["invoice_number"]) for c in detail["contents"])
    assert kinds == sorted(
        [
            ("payment", first["number"]),
            ("payment", second["number"]),
            ("refund", first["number"]),
            ("payout", None),
        ]
    )
    payments = [c for c in detail["contents"] if c["kind"] == "payment"]
    assert sum(c["net"] for c in detail["contents"] if c["kind"] != "payout") == listed["amount"]
    assert all(c["amount"] == 20000 and c["fee"] > 0 for c in payments)
    # QuickBooks is not connected: the Transfer waits for it (posted once it is connected).
    (waiting,) = detail["quickbooks"]
    assert (waiting["kind"], waiting["state"]) == ("payout", "waiting"), waiting
    assert "connected" in waiting["error"]
    with billing.kit.api(approver) as api:
        assert api.get("/payouts").status_code == 403
    with PageClient(site) as page:
        page.login(billing.kit.admin.email)
        listing = page.get("/payouts").text
        shown = page.get(f"/payouts/{listed['id']}").text
    assert stripe_payout.id in listing and 'href="/payouts"' in listing
    assert first["number"] in shown and second["number"] in shown


def test_a_failed_payout_found_by_reconciliation_shows_why(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    _paid_invoice(billing, run_tasks)
    _advance(billing, 3 * DAY)
    (stripe_payout,) = billing.stripe.v1.payouts.list().data
    with billing.control() as ctl:
        failed = ctl.post(
            f"/_sandbox/payouts/{stripe_payout.id}/fail", data={"failure_code": "account_closed"}
        )
    assert failed.status_code == 200, failed.text
    with billing.kit.api() as api:  # every event lost: reconciliation finds it
        run = api.post("/integrations/stripe/reconcile")
        assert run.status_code == 200 and run.json()["movements_changed"] >= 1, run.json()
        (listed,) = api.get("/payouts").json()["items"]
    assert listed["status"] == "failed" and listed["failure_code"] == "account_closed"
    assert "closed" in (listed["failure_message"] or "")
    # Stripe unreachable: the payout is still shown, with why its contents are not.
    with billing.control() as ctl:
        assert ctl.post("/_sandbox/faults", data={"rate_500": 1}).is_success
    try:
        with billing.kit.api() as api:
            shown = api.get(f"/payouts/{listed['id']}")
    finally:
        with billing.control() as ctl:
            assert ctl.post("/_sandbox/faults").is_success
    assert shown.status_code == 200, shown.text
    assert shown.json()["contents"] is None and shown.json()["status"] == "failed"
    assert "Stripe could not list the contents now" in shown.json()["contents_error"]
