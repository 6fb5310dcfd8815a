"""Stripe payments deposited to Undeposited Funds (the QuickBooks habit of grouping payments
into bank deposits): each Stripe payout is a Deposit into the payout bank account of the
QuickBooks Payments it paid out, with one line from the account the fees are paid from for
what Stripe took out (fees, a refund), so the Deposit is the bank's line to the cent; a failed
payout's funds come back into that account. In-process, against a Stripe sandbox of the
module's own (its clock moves, its daily payouts are real) and the QuickBooks sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Database, Site
from sandbox.stripe.conftest import StripeSandbox
from sqlalchemy import update

from integrations.conftest import StripeApp, use_stripe
from integrations.quickbooks.movement_helpers import (
    Connect,
    balance,
    moved,
    movement_books,
    paid_invoice,
    payout,
)
from integrations.quickbooks.posting_helpers import Books, day, minor
from integrations.stripe.test_webhook_events import stop_deliveries
from regentra.integrations.quickbooks import movement_kinds, movement_run
from regentra.models import Payout, QuickBooksPosting

DAY = 86_400


@pytest.fixture
def b(
    db: Database,
    site: Site,
    clock_sandbox: StripeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    connect_quickbooks: Connect,
    run_tasks: Callable[..., list[str]],
) -> Books:
    use_stripe(monkeypatch, clock_sandbox.url, stripe_max_rps="0")
    made = movement_books(StripeApp(site, clock_sandbox, db), connect_quickbooks, db, run_tasks)
    made.set_connection(deposit_account_id=made.accounts["Undeposited Funds"])
    stop_deliveries(made.billing)
    with made.billing.control() as ctl:
        on = ctl.post("/_sandbox/payouts/schedule", data={"interval": "daily"})
        assert on.status_code == 200, on.text
    return made


def _control(b: Books, path: str, **form: Any) -> None:
    with b.billing.control() as ctl:
        done = ctl.post(path, data=form)
    assert done.status_code == 200, done.text


def _the_payout(b: Books) -> Payout:
    with b.db.session() as s:
        (row,) = s.query(Payout).filter(Payout.org_id == b.org_id).all()
        s.expunge(row)
    return row


def test_a_payout_is_a_deposit_of_its_payments_less_what_stripe_took_out(b: Books) -> None:
    start = {n: balance(b, n) for n in ("Undeposited Funds", "Stripe Clearing", "Checking")}
    first, second = paid_invoice(b), paid_invoice(b, minutes=90)
    payments = {p["Id"]: minor(p["TotalAmt"]) for p in b.objects("Payment")}
    assert set(payments.values()) == {first["total"], second["total"]}
    fees = sum(minor(p["TotalAmt"]) for p in b.objects("Purchase"))
    assert fees > 0  # the fee Purchases, paid from Stripe Clearing
    with b.billing.kit.api() as api:
        refund = api.post(f"/invoices/{first['id']}/refunds", json={"amount": 1000})
    assert refund.status_code == 201, refund.text
    b.run_tasks()
    (receipt,) = b.objects("RefundReceipt")  # paid from the clearing account, not UF
    assert receipt["DepositToAccountRef"]["value"] == b.accounts["Stripe Clearing"]

    _control(b, "/_sandbox/clock/advance", seconds=4 * DAY)
    b.reconcile()  # learns of the payout (webhooks are not delivered here)
    b.run_tasks()
    paid_out = _the_payout(b)
    assert paid_out.status == "paid" and paid_out.amount == sum(payments.values()) - fees - 1000
    assert {k: r.state for k, r in moved(b, paid_out.id).items()} == {"payout": "posted"}

    (deposit,) = b.objects("Deposit")
    assert deposit["DepositToAccountRef"]["value"] == b.accounts["Checking"]
    assert minor(deposit["TotalAmt"]) == paid_out.amount  # the bank's line, to the cent
    assert day(deposit["TxnDate"]) == paid_out.arrival_date
    linked = {
        line["LinkedTxn"][0]["TxnId"]: minor(line["Amount"])
        for line in deposit["Line"]
        if line.get("LinkedTxn")
    }
    assert linked == payments
    (rest,) = [line for line in deposit["Line"] if not line.get("LinkedTxn")]
    assert rest["DepositLineDetail"]["AccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert minor(rest["Amount"]) == -(fees + 1000)
    assert "payout" in rest["Description"] and paid_out.stripe_payout_id in deposit["PrivateNote"]
    # Everything is paid out, as in Stripe: Undeposited Funds and the clearing account are
    # back where they started, and the bank holds the payout.
    after = {n: balance(b, n) for n in start}
    assert after["Undeposited Funds"] == start["Undeposited Funds"]
    assert after["Stripe Clearing"] == start["Stripe Clearing"]
    assert after["Checking"] - start["Checking"] == paid_out.amount
    assert b.objects("Transfer") == []

    # The bank returns it: Stripe has the funds back, and so has the clearing account.
    _control(b, f"/_sandbox/payouts/{paid_out.stripe_payout_id}/fail")
    b.reconcile()
    b.run_tasks()
    assert {k: r.state for k, r in moved(b, paid_out.id).items()} == {
        "payout": "posted",
        "payout_return": "posted",
    }
    (back,) = b.objects("Transfer")
    assert back["FromAccountRef"]["value"] == b.accounts["Checking"]
    assert back["ToAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert minor(back["Amount"]) == paid_out.amount
    assert balance(b, "Checking") == start["Checking"]
    assert balance(b, "Stripe Clearing") + balance(b, "Undeposited Funds") == (
        start["Stripe Clearing"] + start["Undeposited Funds"] + paid_out.amount
    )


def _payment_posting(b: Books, invoice_id: str, state: str) -> None:
    with b.db.session() as s:
        s.execute(
            update(QuickBooksPosting)
            .where(QuickBooksPosting.invoice_id == uuid.UUID(invoice_id))
            .where(QuickBooksPosting.kind == "payment")
            .values(state=state)
        )
        s.commit()


def test_a_payout_waits_for_the_payments_it_paid_out_to_be_posted(b: Books) -> None:
    sent = paid_invoice(b)
    _payment_posting(b, sent["id"], "pending")  # as if its Payment were not posted yet
    _control(b, "/_sandbox/clock/advance", seconds=4 * DAY)
    b.reconcile()
    b.run_tasks()
    stripe_payout = _the_payout(b)
    (waiting,) = moved(b, stripe_payout.id).values()
    assert waiting.state == "pending" and sent["number"] in (waiting.last_error or "")
    assert b.objects("Deposit") == []
    _payment_posting(b, sent["id"], "posted")
    assert movement_run.sync_movement("payout", stripe_payout.id) == {"payout": "posted"}
    assert len(b.objects("Deposit")) == 1


def test_a_manual_payout_is_left_to_the_bookkeeper(b: Books) -> None:
    pid = payout(b, 4000, automatic=False)
    assert movement_run.sync_movement("payout", pid) == {"payout": "skipped"}
    assert moved(b, pid)["payout"].last_error == movement_kinds.MANUAL_PAYOUT
    assert b.objects("Deposit") == [] and b.objects("Transfer") == []
