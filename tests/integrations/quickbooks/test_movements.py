"""Refunds, disputes and payouts posted to QuickBooks (`quickbooks.sync_movement`), in-process
against both sandboxes on SQLite and PostgreSQL, for a paid invoice mirrored by the existing
flow: the objects (type, accounts, amounts, dates), once each even when run again or after a
crash between QuickBooks' answer and the row's update; a mapping field missing → failed in
words, Retry after setting it posts; no connection or no mapping → waiting; Undeposited Funds
and a manual payout → skipped; the post-from date; the hourly sweep."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from integrations.conftest import StripeApp, connect_billing
from integrations.quickbooks.movement_helpers import (
    Connect,
    at,
    balance,
    change,
    dispute,
    enqueue,
    moved,
    movement_books,
    paid_invoice,
    payout,
    refund,
    states,
    today,
)
from integrations.quickbooks.posting_helpers import Books, day, minor, save_mapping
from regentra import queue
from regentra.integrations.quickbooks import movement_rows, movement_run, movements, tasks
from regentra.models import (
    AuditEvent,
    Dispute,
    Payout,
    QuickBooksConnection,
    QuickBooksMovementPosting,
    Refund,
)


@pytest.fixture
def b(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., list[str]]
) -> Books:
    return movement_books(stripe_app, connect_quickbooks, db, run_tasks)


def _lines(obj: dict[str, Any], detail: str) -> list[tuple[str, int]]:
    return [(line[detail]["AccountRef"]["value"], minor(line["Amount"])) for line in obj["Line"]]


def test_a_refund_is_a_refund_receipt_from_the_clearing_account(b: Books) -> None:
    sent = paid_invoice(b)
    refunded_at = at(today() - timedelta(days=1))
    rid = refund(b, sent, 5000, settled_fee=-150, refunded_at=refunded_at)
    enqueue(b, "refund", rid)
    assert b.run_tasks() == [movements.SYNC_TASK]
    assert states(b, rid) == {"refund": "posted"}

    receipt = b.one("RefundReceipt")
    assert receipt["CustomerRef"]["value"] == b.one("Invoice")["CustomerRef"]["value"]
    assert receipt["DepositToAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert minor(receipt["TotalAmt"]) == 5000
    (line,) = receipt["Line"]
    assert line["SalesItemLineDetail"]["ItemRef"]["value"] == b.accounts["item:Services"]
    assert day(receipt["TxnDate"]) == refunded_at.date()
    row = moved(b, rid)["refund"]
    assert receipt["PrivateNote"].startswith("Regentra refund re_")
    assert (row.qbo_id, row.qbo_type, row.amount, row.currency) == (
        receipt["Id"],
        "RefundReceipt",
        5000,
        "USD",
    )
    # Stripe gave its fee back: a Deposit into the clearing account from the fee expense.
    (fee_back,) = b.objects("Deposit")
    assert fee_back["DepositToAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert _lines(fee_back, "DepositLineDetail") == [(b.accounts["Merchant Fees"], 150)]
    assert row.details["fee_deposit"] == fee_back["Id"]
    assert movements.describe(row)["quickbooks_type"] == "RefundReceipt"  # type: ignore[index]

    # A refund Stripe charged a fee for: the fee is a Purchase from the clearing account.
    charged = refund(b, sent, 1000, settled_fee=25)
    assert movement_run.sync_movement("refund", charged) == {"refund": "posted"}
    purchase = next(p for p in b.objects("Purchase") if "refund" in p["PrivateNote"])
    assert purchase["AccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert _lines(purchase, "AccountBasedExpenseLineDetail") == [(b.accounts["Merchant Fees"], 25)]
    assert moved(b, charged)["refund"].details["fee_purchase"] == purchase["Id"]
    assert len(b.objects("RefundReceipt")) == 2

    # Again, by task and directly: nothing more.
    enqueue(b, "refund", rid)
    b.run_tasks()
    movement_run.sync_movement("refund", rid)
    assert len(b.objects("RefundReceipt")) == 2 and len(b.objects("Deposit")) == 1
    assert moved(b, rid)["refund"].attempts == 1


def test_a_refund_that_fails_after_it_was_posted_comes_back_into_the_clearing_account(
    b: Books,
) -> None:
    """A bank refund fails after its RefundReceipt was posted (Stripe put the money back in
    the balance): a Deposit into the clearing account from the income item's account, once;
    one that fails before it was posted is not posted at all."""
    sent = paid_invoice(b)
    before = balance(b, "Stripe Clearing")
    rid = refund(b, sent, 4000, status="pending")
    assert movement_run.sync_movement("refund", rid) == {"refund": "posted"}
    assert balance(b, "Stripe Clearing") == before - 4000
    change(b, Refund, rid, status="failed", failure_reason="declined")
    assert movement_run.sync_movement("refund", rid) == {
        "refund": "posted",
        "refund_return": "posted",
    }
    (back,) = b.objects("Deposit")
    assert back["DepositToAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert _lines(back, "DepositLineDetail") == [(b.accounts["Services"], 4000)]
    assert back["PrivateNote"].startswith("Regentra refund_return re_")
    assert balance(b, "Stripe Clearing") == before
    movement_run.sync_movement("refund", rid)
    assert len(b.objects("Deposit")) == 1

    early = refund(b, sent, 1000, status="failed")
    assert movement_run.sync_movement("refund", early) == {}
    assert len(b.objects("RefundReceipt")) == 1 and len(b.objects("Deposit")) == 1

    # Canceled after it was posted (a refund waiting for the client's action): the same.
    canceled = refund(b, sent, 700, status="requires_action")
    assert movement_run.sync_movement("refund", canceled) == {"refund": "posted"}
    change(b, Refund, canceled, status="canceled")
    assert movement_run.sync_movement("refund", canceled)["refund_return"] == "posted"
    assert balance(b, "Stripe Clearing") == before

    # Failed while an attempt at its RefundReceipt had begun (a worker died mid-way): it is no
    # longer due, but the attempt runs to its end (adopting what QuickBooks made, else making
    # it once), then its money comes back.
    begun = refund(b, sent, 300, status="pending")
    with b.db.session() as s:
        realm = s.scalar(select(QuickBooksConnection.realm_id))
        s.add(
            QuickBooksMovementPosting(
                org_id=b.org_id,
                subject_id=begun,
                invoice_id=uuid.UUID(sent["id"]),
                kind="refund",
                state="pending",
                attempts=1,
                realm_id=realm,
                details={},
            )
        )
        s.commit()
    change(b, Refund, begun, status="failed")
    assert movement_run.sync_movement("refund", begun) == {
        "refund": "posted",
        "refund_return": "posted",
    }
    assert balance(b, "Stripe Clearing") == before
    assert len(b.objects("RefundReceipt")) == 3 and len(b.objects("Deposit")) == 3


def test_a_dispute_and_its_reinstatement(b: Books) -> None:
    sent = paid_invoice(b)
    did = dispute(b, sent)
    assert movement_run.sync_movement("dispute", did) == {"dispute": "posted"}
    purchase = next(p for p in b.objects("Purchase") if "dispute" in p["PrivateNote"])
    assert purchase["PaymentType"] == "Check"
    assert purchase["AccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert purchase["EntityRef"]["value"] == b.accounts["vendor:Stripe"]
    assert _lines(purchase, "AccountBasedExpenseLineDetail") == [
        (b.accounts["Chargebacks"], sent["total"]),
        (b.accounts["Merchant Fees"], 1500),
    ]
    assert day(purchase["TxnDate"]) == today()
    assert moved(b, did)["dispute"].amount == sent["total"] + 1500

    won = at(today())
    change(b, Dispute, did, status="won", reinstated=sent["total"], reinstated_at=won)
    assert movement_run.sync_movement("dispute", did) == {
        "dispute": "posted",
        "reinstatement": "posted",
    }
    (deposit,) = b.objects("Deposit")
    assert deposit["DepositToAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert _lines(deposit, "DepositLineDetail") == [(b.accounts["Chargebacks"], sent["total"])]
    assert day(deposit["TxnDate"]) == won.date()
    movement_run.sync_movement("dispute", did)
    assert len(b.objects("Deposit")) == 1 and len(b.objects("Purchase")) == 2  # + the fee


def test_a_payout_and_its_failure(b: Books) -> None:
    arrival = today() + timedelta(days=2)
    pid = payout(b, 12345, arrival_date=arrival, status="in_transit")
    assert movement_run.sync_movement("payout", pid) == {"payout": "posted"}
    (transfer,) = b.objects("Transfer")
    assert transfer["FromAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert transfer["ToAccountRef"]["value"] == b.accounts["Checking"]
    assert minor(transfer["Amount"]) == 12345 and day(transfer["TxnDate"]) == arrival

    failed = at(today() + timedelta(days=3))
    change(b, Payout, pid, status="failed", failed_at=failed)
    assert movement_run.sync_movement("payout", pid)["payout_return"] == "posted"
    back = next(t for t in b.objects("Transfer") if t["Id"] != transfer["Id"])
    assert back["FromAccountRef"]["value"] == b.accounts["Checking"]
    assert back["ToAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert minor(back["Amount"]) == 12345 and day(back["TxnDate"]) == failed.date()

    # A canceled payout posts nothing; one canceled after its Transfer was posted gets the
    # Transfer back (Stripe returned the funds to the balance).
    canceled = payout(b, 500, status="canceled")
    assert movement_run.sync_movement("payout", canceled) == {}
    assert len(b.objects("Transfer")) == 2
    late = payout(b, 800, status="pending")
    assert movement_run.sync_movement("payout", late) == {"payout": "posted"}
    change(b, Payout, late, status="canceled")
    assert movement_run.sync_movement("payout", late) == {
        "payout": "posted",
        "payout_return": "posted",
    }
    returned = b.objects("Transfer")[-1]
    assert returned["ToAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert minor(returned["Amount"]) == 800


@pytest.mark.parametrize("kind", ["refund", "dispute", "payout"])
def test_a_crash_between_quickbooks_and_the_row_still_posts_once(
    b: Books, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The worker dies after QuickBooks made the object and before the row says so: the next
    run finds it by its memo's reference and records it; nothing is made twice."""
    real = movement_rows.posted
    crashed: list[str] = []

    def crash_once(row: movement_rows.Row, **kw: Any) -> bool:
        if not crashed:
            crashed.append(kw["qbo_id"])
            raise RuntimeError("worker killed before commit")
        return real(row, **kw)

    monkeypatch.setattr(movement_rows, "posted", crash_once)
    sent = paid_invoice(b)
    subject_id = {
        "refund": lambda: refund(b, sent, 2500),
        "dispute": lambda: dispute(b, sent),
        "payout": lambda: payout(b, 7000),
    }[kind]()
    entity = {"refund": "RefundReceipt", "dispute": "Purchase", "payout": "Transfer"}[kind]
    before = len(b.objects(entity))
    with pytest.raises(RuntimeError):
        movement_run.sync_movement(kind, subject_id)
    assert crashed and states(b, subject_id) == {kind: "pending"}
    assert movement_run.sync_movement(kind, subject_id) == {kind: "posted"}
    assert len(b.objects(entity)) == before + 1
    row = moved(b, subject_id)[kind]
    assert row.qbo_id == crashed[0] and row.attempts == 2


def test_mapping_fields_not_chosen_yet_make_postings_wait_and_saving_resumes_them(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., list[str]]
) -> None:
    """A mapping saved before the payout bank account and the account for disputed amounts
    existed: payouts and disputes wait (not fail, each to be retried by hand) and are posted
    when the mapping is saved with them (`quickbooks.resume`)."""
    b = movement_books(
        stripe_app,
        connect_quickbooks,
        db,
        run_tasks,
        payout_account_id=None,
        dispute_account_id=None,
    )
    sent = paid_invoice(b)
    pid, did = payout(b, 4000), dispute(b, sent)
    assert movement_run.sync_movement("payout", pid) == {"payout": "waiting"}
    assert movement_run.sync_movement("dispute", did) == {"dispute": "waiting"}
    assert moved(b, pid)["payout"].last_error == (
        "waiting for the QuickBooks mapping's payout bank account (choose it on the "
        "QuickBooks card and save)"
    )
    assert "account for disputed amounts" in (moved(b, did)["dispute"].last_error or "")
    assert b.objects("Transfer") == []

    b.set_connection(
        payout_account_id=b.accounts["Checking"], dispute_account_id=b.accounts["Chargebacks"]
    )
    with b.db.session() as s:  # what saving the mapping enqueues
        queue.enqueue(s, "quickbooks.resume", str(b.org_id))
        s.commit()
    b.run_tasks()
    assert states(b, pid) == {"payout": "posted"} and states(b, did) == {"dispute": "posted"}
    assert len(b.objects("Transfer")) == 1


def test_a_failed_posting_is_retried_through_the_api(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., list[str]]
) -> None:
    b = movement_books(stripe_app, connect_quickbooks, db, run_tasks)
    pid, other = payout(b, 4000, currency="eur"), payout(b, 700, currency="eur")
    assert movement_run.sync_movement("payout", pid) == {"payout": "failed"}
    assert movement_run.sync_movement("payout", other) == {"payout": "failed"}
    failed = moved(b, pid)["payout"]
    assert "in EUR" in (failed.last_error or "") and "home currency is USD" in (
        failed.last_error or ""
    )
    # Running again changes nothing (Retry first).
    assert movement_run.sync_movement("payout", pid) == {"payout": "failed"}

    change(b, Payout, pid, currency="usd")  # what was wrong, put right
    api = b.billing.kit.api()
    answer = api.post(f"/integrations/quickbooks/movement-postings/{failed.id}/retry")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["state"], body["subject"], body["subject_id"]) == ("pending", "payout", str(pid))
    assert moved(b, pid)["payout"].generation == 1
    assert b.run_tasks() == [movements.SYNC_TASK]
    assert states(b, pid) == {"payout": "posted"}
    assert len(b.objects("Transfer")) == 1
    again = api.post(f"/integrations/quickbooks/movement-postings/{failed.id}/retry")
    assert again.status_code == 409
    listed = api.get("/integrations/quickbooks/movement-postings", params={"state": "failed"})
    assert [item["subject_id"] for item in listed.json()["items"]] == [str(other)]
    with b.db.session() as s:
        audit = s.query(AuditEvent).filter_by(action="quickbooks.posting_retried").one()
    assert (audit.subject_type, str(audit.subject_id)) == ("payout", str(pid))


def test_without_a_connection_or_a_mapping_rows_wait(
    stripe_app: StripeApp,
    connect_quickbooks: Connect,
    db: Any,
    run_tasks: Callable[..., list[str]],
) -> None:
    billing = connect_billing(stripe_app)
    run_tasks()
    lone = Books(billing, None, db, run_tasks, {})  # type: ignore[arg-type]
    pid = payout(lone, 3000)
    enqueue(lone, "payout", pid)
    run_tasks()
    row = moved(lone, pid)["payout"]
    assert row.state == "waiting" and "connected" in (row.last_error or "")

    # Connected, no mapping yet: still waiting; saving the mapping resumes it.
    from integrations.quickbooks.posting_helpers import accounts_of

    qbo = connect_quickbooks(billing.kit)
    b = Books(billing, qbo, db, run_tasks, accounts_of(qbo))
    assert movement_run.sync_movement("payout", pid) == {"payout": "waiting"}
    assert "mapping" in (moved(b, pid)["payout"].last_error or "")
    save_mapping(db, b.org_id, b.accounts, payout_account_id=b.accounts["Checking"])
    tasks.resume(str(b.org_id))
    run_tasks()
    assert states(b, pid) == {"payout": "posted"}
    assert len(b.objects("Transfer")) == 1


def test_undeposited_funds_skips_manual_payouts_and_post_from_skips_older_movements(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., list[str]]
) -> None:
    """(Undeposited Funds with automatic payouts: test_undeposited_payouts.py.)"""
    b = movement_books(stripe_app, connect_quickbooks, db, run_tasks)
    b.set_connection(deposit_account_id=b.accounts["Undeposited Funds"])
    pid = payout(b, 4000, status="failed", failed_at=at(today()), automatic=False)
    assert movement_run.sync_movement("payout", pid) == {
        "payout": "skipped",
        "payout_return": "skipped",
    }
    assert "manual payout" in (moved(b, pid)["payout"].last_error or "")
    assert b.objects("Transfer") == [] and b.objects("Deposit") == []

    b.set_connection(
        deposit_account_id=b.accounts["Stripe Clearing"], post_from=today() - timedelta(days=5)
    )
    old = payout(b, 4000, arrival_date=today() - timedelta(days=6))
    assert movement_run.sync_movement("payout", old) == {"payout": "skipped"}
    assert "post-from" in (moved(b, old)["payout"].last_error or "")


def test_the_sweep_enqueues_lost_and_open_movements(b: Books) -> None:
    sent = paid_invoice(b)
    rid = refund(b, sent, 1000)  # its task was lost: no row
    pid = payout(b, 2000)
    movement_rows.ensure(b.org_id, pid, None, ["payout"], b.qbo.realm)  # a row left pending
    tasks.postings_sweep(older_than_s=0)
    ran = b.run_tasks()
    assert ran.count(movements.SYNC_TASK) == 2
    assert states(b, rid) == {"refund": "posted"} and states(b, pid) == {"payout": "posted"}
    # Nothing is due any more: the sweep enqueues nothing.
    tasks.postings_sweep(older_than_s=0)
    assert movements.SYNC_TASK not in b.run_tasks()


def test_for_subjects_keeps_orgs_apart(b: Books) -> None:
    pid = payout(b, 2500)
    movement_run.sync_movement("payout", pid)
    with b.db.session() as s:
        assert movements.for_subjects(s, org_id=uuid.uuid4(), subject_ids=[pid]) == {}
        mine = movements.for_subjects(s, org_id=b.org_id, subject_ids={pid})
    assert set(mine[pid]) == {"payout"}


def test_the_clearing_account_follows_the_stripe_balance(b: Books) -> None:
    """After a card payment (the existing flow: Payment in, fee Purchase out), a partial
    refund whose fee Stripe gave back, a dispute withdrawn then won, and a payout of what is
    left, the clearing account's CurrentBalance in QuickBooks moved by exactly those amounts
    at every step, and ends where the Stripe balance ends: at zero."""
    start = balance(b, "Stripe Clearing")
    sent = paid_invoice(b, minutes=120, rate=15000)  # $300.00
    txn = b.balance_transaction(sent["stripe_invoice_id"])
    assert txn["net"] == sent["total"] - txn["fee"]
    steps = [("payment less fee", txn["net"])]
    assert balance(b, "Stripe Clearing") - start == txn["net"]

    rid = refund(b, sent, 10000, settled_fee=-310)
    movement_run.sync_movement("refund", rid)
    steps.append(("refund, fee back", -10000 + 310))
    left = sent["total"] - 10000
    did = dispute(b, sent, amount=left, withdrawn=left, withdrawal_fee=1500)
    movement_run.sync_movement("dispute", did)
    steps.append(("dispute withdrawn", -left - 1500))
    change(b, Dispute, did, status="won", reinstated=left, reinstated_at=at(today()))
    movement_run.sync_movement("dispute", did)
    steps.append(("dispute won", left))
    stripe_balance = sum(amount for _, amount in steps)
    assert balance(b, "Stripe Clearing") - start == stripe_balance, steps

    checking = balance(b, "Checking")
    pid = payout(b, stripe_balance)
    movement_run.sync_movement("payout", pid)
    assert balance(b, "Stripe Clearing") == start  # everything paid out, as in Stripe
    assert balance(b, "Checking") - checking == stripe_balance
    for subject_id in (rid, did, pid):
        assert all(r.state == "posted" for r in moved(b, subject_id).values())


def test_the_pages_retry_a_movement_posting(
    stripe_app: StripeApp,
    connect_quickbooks: Connect,
    db: Any,
    run_tasks: Callable[..., list[str]],
    site: Any,
) -> None:
    from web.pages import PageClient, flash

    b = movement_books(stripe_app, connect_quickbooks, db, run_tasks)
    pid = payout(b, 900, currency="eur")
    assert movement_run.sync_movement("payout", pid) == {"payout": "failed"}
    posting = moved(b, pid)["payout"]
    change(b, Payout, pid, currency="usd")
    with PageClient(site) as page:
        page.login(b.billing.kit.admin.email)
        card = page.get("/integrations").text
        row = re.search(
            rf'<tr data-posting-id="{posting.id}" data-kind="payout">(.*?)</tr>', card, re.S
        )
        assert row and f'href="/payouts/{pid}"' in row.group(1)
        assert "Payout (Transfer)" in row.group(1) and "in EUR" in row.group(1)
        assert f'action="/integrations/quickbooks/movement-postings/{posting.id}/retry"' in card
        assert 'id="qbo-no-failures"' not in card
        retried = page.post(
            f"/integrations/quickbooks/movement-postings/{posting.id}/retry",
            {"next": "/integrations#quickbooks"},
        )
        assert retried.status_code == 303
        assert flash(page.follow(retried).text) == (
            "success",
            "Payout (Transfer): trying again now.",
        )
        b.run_tasks()
        assert states(b, pid) == {"payout": "posted"}
        done = page.post(
            f"/integrations/quickbooks/movement-postings/{posting.id}/retry",
            {"next": "/integrations"},
        )
        assert flash(page.follow(done).text)[0] == "error"


def test_a_foreign_refund_takes_out_what_stripe_settled(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., list[str]]
) -> None:
    """A USD invoice of a GBP company whose Stripe account settles in GBP: the refund is a
    USD RefundReceipt from the GBP clearing account at the rate that makes its home amount
    what Stripe settled, so the clearing account moves by exactly that."""
    from integrations.quickbooks.test_currencies import _country_key

    b = movement_books(
        stripe_app,
        connect_quickbooks,
        db,
        run_tasks,
        key=_country_key(stripe_app, "GB"),
        currency="GBP",
        multicurrency=True,
    )
    sent = paid_invoice(b)
    assert sent["currency"] == "USD"
    before = balance(b, "Stripe Clearing")
    rid = refund(b, sent, 5000, settled_amount=3937, settlement_currency="gbp")
    assert movement_run.sync_movement("refund", rid) == {"refund": "posted"}
    receipt = b.one("RefundReceipt")
    assert receipt["CurrencyRef"]["value"] == "USD" and minor(receipt["TotalAmt"]) == 5000
    assert receipt["CustomerRef"]["value"] == b.one("Invoice")["CustomerRef"]["value"]
    assert before - balance(b, "Stripe Clearing") == 3937
    assert moved(b, rid)["refund"].details["exchange_rate"] == "0.787400"


def test_two_workers_on_one_movement_posting_record_one_object(b: Books) -> None:
    """Two workers with the same snapshot of the row (the same generation): both create with
    the same requestid, QuickBooks answers both with one object, one conditional UPDATE
    wins, and only the winner audits."""
    from regentra.integrations.quickbooks import posting_facts
    from regentra.integrations.quickbooks.client import QuickBooks
    from regentra.integrations.quickbooks.movement_kinds import RUNNERS, MoveRun

    pid = payout(b, 6100)
    subject = movement_run.load("payout", pid)
    mapping = posting_facts.load_mapping(b.org_id)
    assert subject is not None and mapping is not None
    movement_rows.ensure(b.org_id, pid, None, ["payout"], mapping.realm_id)
    row = movement_rows.read_all(b.org_id, "payout", pid)["payout"]
    outcomes = []
    with QuickBooks(b.org_id) as qbo:
        for _ in range(2):
            outcome = RUNNERS["payout"](MoveRun(subject, mapping, qbo), row, False)
            assert isinstance(outcome, dict)
            outcomes.append(
                movement_rows.posted(row, reference="po", realm_id=mapping.realm_id, **outcome)
            )
    assert outcomes == [True, False]
    assert len(b.objects("Transfer")) == 1
    with b.db.session() as s:
        audits = s.query(AuditEvent).filter_by(action="quickbooks.posted", subject_type="payout")
        assert audits.count() == 1
