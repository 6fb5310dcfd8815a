"""Acceptance (issue 16): a month of an MSP's money in the sandboxes, with the clock advanced a
day at a time: 100 invoices paid (card, and ACH settled days later), 5 partial and 3 full
refunds (from Regentra where it has the invoice as paid, else in Stripe's Dashboard), 4
disputes (2 won, 2 lost), automatic daily payouts (one of them failing and coming back).

Afterwards the QuickBooks sandbox's Stripe clearing account holds exactly the Stripe sandbox's
balance, to the cent; every payout has exactly one Transfer (a failed one its return too),
every refund exactly one RefundReceipt, every dispute exactly one withdrawal (and a won one
exactly one reinstatement); every posting row is posted; Regentra's own rows agree with Stripe.

Two ways through the month, each a `slow` scenario within three minutes:
1. webhooks delivered with faults (20 % dropped for good, 30 % duplicated) and a worker
   SIGKILLed while it posts: dropped events are healed by reconciliation, lost tasks by the
   QuickBooks sweep;
2. every webhook lost (no endpoint at all): reconciliation alone, once per simulated day,
   from Stripe's lists (events are kept 30 days only), reaches the same books.

Everything runs as in production (see tests/integrations/quickbooks/test_acceptance.py, whose
scene this reuses): a `regentra serve --no-worker`, `regentra worker` processes on a shared
queue, and a Stripe and a QuickBooks sandbox of the test's own.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import _org_factory
from sandbox.stripe.receiver import settled
from sqlalchemy import select

from integrations.conftest import Billing, StripeApp, connect_billing
from integrations.quickbooks.mapping_helpers import valid_body
from integrations.quickbooks.posting_helpers import control, minor
from integrations.quickbooks.test_acceptance import Scene, Worker, _idle, _wait, scene
from integrations.quickbooks.test_connect_e2e import connect_through_callback
from regentra import queue
from regentra.integrations.stripe.handlers import MOVEMENT_EVENTS
from regentra.models import (
    Dispute,
    Payout,
    QuickBooksMovementPosting,
    QuickBooksPosting,
    Refund,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["scene"]  # the fixture, imported

INVOICES = 100
START = 5  # the first payments on day 5 …
PAYING_DAYS = 25  # … four a day to the month's last day, so some are not paid out yet
DAYS = 30
DAY = 86_400
ACH_EVERY = 5  # every fifth invoice is paid by bank debit, settled three days later
PARTIAL = {3: 2_500, 7: 1_000, 11: 5_000, 40: 700, 44: 1_234}  # invoice index → amount
FULL = (15, 51, 66)
DISPUTED = {21: "won", 26: "lost", 62: "won", 71: "lost"}  # card invoices, no refunds
FAIL_PAYOUT_ON = 12  # the payout made that day fails (its funds come back)
MINUTES = 3
SWEEP_OLDER_THAN_S = 1.0


@dataclass
class Month:
    billing: Billing
    realm: str
    invoices: list[dict[str, Any]]
    refunded_in_regentra: int = 0
    failed_payouts: list[str] = field(default_factory=list)
    killed_with: list[str] = field(default_factory=list)
    healed: dict[str, Any] = field(default_factory=dict)  # the last reconciliation's report
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase


def _connected(scene: Scene, *, webhooks: bool) -> tuple[Billing, str]:
    kit = _org_factory(scene.database, scene.server)()
    app = StripeApp(scene.server, scene.stripe, scene.database)
    billing = connect_billing(app, kit, events=["invoice.paid", *MOVEMENT_EVENTS])
    if not webhooks:
        with billing.control() as stripe:
            assert stripe.delete(f"/_sandbox/webhooks/{billing.endpoint_id}").status_code == 200
    realm = scene.app.company()
    connect_through_callback(scene.server, scene.app, kit, realm)
    ids = {a["Name"]: str(a["Id"]) for a in scene.app.objects(realm, "Account")}
    ids.update({v["DisplayName"]: str(v["Id"]) for v in scene.app.objects(realm, "Vendor")})
    ids.update({f"item:{i['Name']}": str(i["Id"]) for i in scene.app.objects(realm, "Item")})
    body = valid_body(
        ids,
        payout_account_id=ids["Checking"],
        dispute_account_id=ids.get("Chargebacks") or ids["Merchant Fees"],
    )
    with kit.api() as api:
        saved = api.put("/integrations/quickbooks/mapping", json=body)
        assert saved.status_code == 200, saved.text
    return billing, realm


def _stripe(billing: Billing, verb: str, path: str, **data: Any) -> dict[str, Any]:
    with billing.control() as stripe:
        r = stripe.request(verb, path, data=data or None)
    assert r.status_code == 200, (path, r.text)
    body: dict[str, Any] = r.json()
    return body


def _intent(billing: Billing, invoice: dict[str, Any]) -> str:
    payments = billing.stripe.v1.invoice_payments.list(
        params={"invoice": invoice["stripe_invoice_id"]}
    ).data
    intent: str = next(p for p in payments if p.status == "paid").payment.payment_intent
    return intent


def _paid_here(billing: Billing, invoice: dict[str, Any]) -> bool:
    with billing.kit.api() as api:
        return bool(api.get(f"/invoices/{invoice['id']}").json()["status"] == "paid")


def _refund(month: Month, invoice: dict[str, Any], amount: int | None) -> None:
    """From Regentra when it has the invoice as paid (the admin's button), else in Stripe."""
    billing = month.billing
    if _paid_here(billing, invoice):
        with billing.kit.api() as api:
            body = {"amount": amount or invoice["total"], "reason": "requested_by_customer"}
            made = api.post(f"/invoices/{invoice['id']}/refunds", json=body)
        assert made.status_code == 201, made.text
        month.refunded_in_regentra += 1
        return
    params: dict[str, Any] = {"payment_intent": _intent(billing, invoice)}
    if amount is not None:
        params["amount"] = amount
    billing.stripe.v1.refunds.create(params=params)


def _kill_with_work(scene: Scene, worker: Worker, month: Month, timeout: float = 120) -> None:
    """SIGKILL `worker` as soon as it is running a QuickBooks task (watched from a thread while
    the month goes on making work), start another in its place, and note what it was running
    (read from its log after its death)."""
    _wait(
        lambda: any(n.startswith("regentra.tasks.quickbooks") for n in worker.in_flight()),
        "a worker posting to QuickBooks",
        timeout,
    )
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(timeout=30)
    scene.workers.running.remove(worker)
    month.killed_with = worker.in_flight()
    scene.workers.start()


def _live_month(scene: Scene, *, webhooks: bool, kill: bool) -> Month:
    first = scene.workers.start()
    scene.workers.start()
    billing, realm = _connected(scene, webhooks=webhooks)
    control(scene.qbo, "limits", per_second=100, per_minute=1_000_000, concurrent=10)
    _stripe(billing, "POST", "/_sandbox/payouts/schedule", interval="daily")
    if webhooks:
        _stripe(billing, "POST", "/_sandbox/webhooks/settings", max_attempts=1)
        _stripe(billing, "POST", "/_sandbox/faults", duplicate=0.3, drop=0.2)
    began = time.monotonic()
    month = Month(billing, realm, billing.sent_invoices(INVOICES))
    killer = threading.Thread(target=_kill_with_work, args=(scene, first, month), daemon=True)
    month.timings["send"] = round(time.monotonic() - began, 1)
    per_day = INVOICES // PAYING_DAYS
    ach_paid: dict[int, list[str]] = {}  # day → ACH invoices to settle that day

    def on(n: int, after: int) -> int:  # the day `after` days from invoice n's payment
        return START + n // per_day + after

    for day in range(DAYS):
        for n in (
            range((day - START) * per_day, (day - START + 1) * per_day) if day >= START else ()
        ):
            sid = month.invoices[n]["stripe_invoice_id"]
            ach = n % ACH_EVERY == ACH_EVERY - 1
            _stripe(billing, "POST", f"/_sandbox/invoices/{sid}/pay",
                    method="ach" if ach else "card")  # fmt: skip
            if ach:
                ach_paid.setdefault(day + 3, []).append(sid)
        for sid in ach_paid.pop(day, []):
            _stripe(billing, "POST", f"/_sandbox/invoices/{sid}/settle")
        for n, amount in PARTIAL.items():
            if on(n, 4) == day:
                _refund(month, month.invoices[n], amount)
        for n in FULL:
            if on(n, 5) == day:
                _refund(month, month.invoices[n], None)
        for n, outcome in DISPUTED.items():
            if on(n, 2) == day:
                charge = billing.stripe.v1.payment_intents.retrieve(
                    _intent(billing, month.invoices[n])
                ).latest_charge
                _stripe(billing, "POST", f"/_sandbox/charges/{charge}/dispute")
            if on(n, 6) == day:
                (dispute,) = billing.stripe.v1.disputes.list(
                    params={"payment_intent": _intent(billing, month.invoices[n])}
                ).data
                _stripe(billing, "POST", f"/_sandbox/disputes/{dispute.id}/decide",
                        outcome=outcome)  # fmt: skip
        if day == FAIL_PAYOUT_ON:
            latest = billing.stripe.v1.payouts.list(params={"limit": 1}).data[0]
            _stripe(billing, "POST", f"/_sandbox/payouts/{latest.id}/fail")
            month.failed_payouts.append(latest.id)
        if kill and day == DAYS // 3:
            killer.start()
        _stripe(billing, "POST", "/_sandbox/clock/advance", seconds=DAY)
        if webhooks:
            with billing.control() as stripe:
                settled(stripe, timeout=60)
        else:
            _reconcile(billing)  # the hourly job, once a simulated day
    if kill:
        killer.join(timeout=150)
        assert not killer.is_alive(), "no worker was ever seen posting to QuickBooks"
    # The month's last bank payments settle; the last days' card payments are not available
    # yet, so the balance is not empty.
    for sid in (sid for due in sorted(ach_paid) for sid in ach_paid[due]):
        _stripe(billing, "POST", f"/_sandbox/invoices/{sid}/settle")
    _stripe(billing, "POST", "/_sandbox/clock/advance", seconds=DAY)
    if webhooks:
        with billing.control() as stripe:
            settled(stripe, timeout=60)
            assert stripe.post("/_sandbox/faults").is_success  # clear them
    month.healed = _reconcile(billing)  # heals what was dropped (or reads the rest)
    month.timings["month"] = round(time.monotonic() - began - month.timings["send"], 1)
    return month


def _reconcile(billing: Billing) -> dict[str, Any]:
    with billing.kit.api() as api:
        run = api.post("/integrations/stripe/reconcile")
    assert run.status_code == 200 and run.json()["ok"], run.text
    report: dict[str, Any] = run.json()
    assert not report["warnings"], report
    return report


def _rows(scene: Scene, org_id: uuid.UUID) -> tuple[Counter[str], Counter[str]]:
    with scene.database.session() as s:
        invoice_rows = Counter(
            s.scalars(select(QuickBooksPosting.state).where(QuickBooksPosting.org_id == org_id))
        )
        movement_rows = Counter(
            s.scalars(
                select(QuickBooksMovementPosting.state).where(
                    QuickBooksMovementPosting.org_id == org_id
                )
            )
        )
        s.rollback()
    return invoice_rows, movement_rows


def _open_rows(scene: Scene, org_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """The rows not posted yet, with what they last said (for a deadline's message)."""
    with scene.database.session() as s:
        found = [
            tuple(row)
            for model in (QuickBooksPosting, QuickBooksMovementPosting)
            for row in s.execute(
                select(model.kind, model.state, model.attempts, model.last_error, model.updated_at)
                .where(model.org_id == org_id, model.state != "posted")
                .order_by(model.updated_at)
            )
        ]
        s.rollback()
    return [
        *found,
        ("scheduled", scene.huey.scheduled_count(), "pending", scene.huey.pending_count()),
    ]


def _all_posted(scene: Scene, org_id: uuid.UUID, expected_movements: int) -> bool:
    invoice_rows, movement_rows = _rows(scene, org_id)
    return (
        set(invoice_rows) == {"posted"}
        and invoice_rows["posted"] == 3 * INVOICES
        and set(movement_rows) == {"posted"}
        and movement_rows["posted"] == expected_movements
    )


def _settle_books(scene: Scene, month: Month, expected_movements: int) -> int:
    """Run the QuickBooks sweep whenever the workers are idle until every posting is posted;
    how many sweeps it took."""
    org_id = month.billing.kit.org.id
    deadline = time.monotonic() + 120
    sweeps = 0
    while not _all_posted(scene, org_id, expected_movements):
        assert time.monotonic() < deadline, (_rows(scene, org_id), _open_rows(scene, org_id))
        if _idle(scene):
            queue.send("quickbooks.postings_sweep", SWEEP_OLDER_THAN_S, huey=scene.huey)
            sweeps += 1
            time.sleep(SWEEP_OLDER_THAN_S)
        time.sleep(0.2)
    return sweeps


def _check(scene: Scene, month: Month) -> dict[str, Any]:
    """The books agree with Stripe (see the module doc); the figures, for the report."""
    billing = month.billing
    stripe = billing.stripe
    balance = stripe.v1.balance.retrieve()
    stripe_balance = sum(b.amount for b in (*balance.available, *balance.pending))
    payouts = list(stripe.v1.payouts.list(params={"limit": 100}).auto_paging_iter())
    refunds = list(stripe.v1.refunds.list(params={"limit": 100}).auto_paging_iter())
    disputes = list(stripe.v1.disputes.list(params={"limit": 100}).auto_paging_iter())
    failed = [p for p in payouts if p.status == "failed"]
    assert [p.id for p in failed] == month.failed_payouts
    assert len(refunds) == len(PARTIAL) + len(FULL) and len(disputes) == len(DISPUTED)
    assert Counter(d.status for d in disputes) == {"won": 2, "lost": 2}
    assert payouts and all(p.status in ("pending", "paid", "failed") for p in payouts)
    assert stripe_balance > 0  # the last days' payments are not paid out yet

    with scene.qbo.control() as c:
        books = c.get(f"/_sandbox/companies/{month.realm}/objects").json()
    accounts = {a["Name"]: a for a in books["Account"]}
    clearing = minor(accounts["Stripe Clearing"]["CurrentBalance"])
    assert clearing == stripe_balance, (clearing, stripe_balance)

    transfers = books.get("Transfer", [])
    out = [
        t for t in transfers if t["FromAccountRef"]["value"] == accounts["Stripe Clearing"]["Id"]
    ]
    back = [t for t in transfers if t["ToAccountRef"]["value"] == accounts["Stripe Clearing"]["Id"]]
    assert sorted(minor(t["Amount"]) for t in out) == sorted(p.amount for p in payouts)
    assert sorted(minor(t["Amount"]) for t in back) == sorted(p.amount for p in failed)
    receipts = books.get("RefundReceipt", [])
    assert sorted(minor(r["TotalAmt"]) for r in receipts) == sorted(r.amount for r in refunds)
    purchases = books.get("Purchase", [])
    assert len(purchases) == INVOICES + len(DISPUTED)  # the fees, then the withdrawals
    deposits = books.get("Deposit", [])
    assert sorted(minor(d["TotalAmt"]) for d in deposits) == sorted(
        d.amount for d in disputes if d.status == "won"
    )

    org_id = billing.kit.org.id
    with scene.database.session() as s:
        ours_refunds = s.execute(
            select(Refund.stripe_refund_id, Refund.status).where(Refund.org_id == org_id)
        ).all()
        ours_disputes = set(
            s.execute(
                select(Dispute.stripe_dispute_id, Dispute.status).where(Dispute.org_id == org_id)
            ).all()
        )
        ours_payouts = set(
            s.execute(
                select(Payout.stripe_payout_id, Payout.status).where(Payout.org_id == org_id)
            ).all()
        )
        s.rollback()
    assert sorted(r or "" for r, _ in ours_refunds) == sorted(r.id for r in refunds)
    assert {status for _, status in ours_refunds} == {"succeeded"}
    assert ours_disputes == {(d.id, d.status) for d in disputes}
    assert ours_payouts == {(p.id, p.status) for p in payouts}
    return {
        "stripe_balance": stripe_balance,
        "payouts": len(payouts),
        "failed_payouts": len(failed),
        "refunds": len(refunds),
        "refunded_in_regentra": month.refunded_in_regentra,
        "disputes": len(disputes),
    }


def _expected_movements(month: Month) -> int:
    stripe = month.billing.stripe
    payouts = list(stripe.v1.payouts.list(params={"limit": 100}).auto_paging_iter())
    return (
        len(PARTIAL)
        + len(FULL)
        + len(DISPUTED)
        + sum(1 for o in DISPUTED.values() if o == "won")
        + len(payouts)
        + sum(1 for p in payouts if p.status == "failed")
    )


def test_a_month_with_webhook_faults_and_a_killed_worker_balances_the_clearing_account(
    scene: Scene,
) -> None:
    started = time.monotonic()
    month = _live_month(scene, webhooks=True, kill=True)
    assert month.killed_with, "the worker was killed with no task in hand"
    with month.billing.control() as stripe:
        deliveries = stripe.get("/_sandbox/deliveries", params={"limit": 10000}).json()["data"]
    per_event = Counter(d["event"] for d in deliveries)
    assert any(n > 1 for n in per_event.values()), "no event was duplicated"
    healed = month.healed
    assert healed["paid"] or healed["movements_changed"], "no event was lost: drops did not bite"
    sweeps = _settle_books(scene, month, _expected_movements(month))
    figures = _check(scene, month)
    print(f"{figures}; healed by reconciliation: {len(healed['paid'])} paid, "
          f"{healed['movements_changed']} movements; killed with {month.killed_with}; "
          f"sweeps {sweeps}; {month.timings}; {time.monotonic() - started:.1f} s")  # fmt: skip
    assert time.monotonic() - started < MINUTES * 60


def test_the_same_month_with_every_webhook_lost_reaches_the_same_books_by_reconciliation(
    scene: Scene,
) -> None:
    started = time.monotonic()
    month = _live_month(scene, webhooks=False, kill=False)
    with month.billing.control() as stripe:
        deliveries = stripe.get("/_sandbox/deliveries", params={"limit": 10000}).json()["data"]
    assert deliveries == [], "a webhook was delivered"
    sweeps = _settle_books(scene, month, _expected_movements(month))
    figures = _check(scene, month)
    print(f"{figures}; sweeps {sweeps}; {month.timings}; {time.monotonic() - started:.1f} s")
    assert time.monotonic() - started < MINUTES * 60
