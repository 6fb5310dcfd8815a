"""Refunds and disputes of a paid invoice, through the app in-process against the Stripe
sandbox: a refund made in Regentra (its row first, its id the idempotency key), refunds and
disputes made in Stripe and read back from their events (the webhook request calls no Stripe
API: a task reads the object again) or by reconciliation when every event was lost."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from web.pages import PageClient

from integrations.conftest import Billing, StripeApp, connect_billing
from integrations.stripe.test_webhook_events import (
    audits,
    body_of,
    deliver,
    invoice_state,
    pay,
    raw_event,
    sent_invoice,
    settle,
    sign,
    stop_deliveries,
    stored,
    stripe_requests,
    webhook_url,
)
from regentra.integrations.stripe import handlers
from regentra.models import Refund


def _paid_invoice(
    billing: Billing, run_tasks: Callable[..., list[str]], method: str = "card"
) -> dict[str, Any]:
    """A sent invoice paid by card (or by bank, settled) on the hosted page, found paid by
    reconciliation."""
    invoice = sent_invoice(billing, minutes=120, rate=10000)  # $200.00
    pay(billing, invoice["stripe_invoice_id"], method)
    if method == "ach":
        settle(billing, invoice["stripe_invoice_id"])
    with billing.kit.api() as api:
        run = api.post("/integrations/stripe/reconcile")
    assert run.status_code == 200 and run.json()["ok"], run.text
    run_tasks()
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "paid" and state["amount_paid"] == 20000, state
    return state


def _intent(billing: Billing, invoice: dict[str, Any]) -> str:
    payments = billing.stripe.v1.invoice_payments.list(
        params={"invoice": invoice["stripe_invoice_id"]}
    )
    intent: str = payments.data[0].payment.payment_intent
    return intent


def _events(billing: Billing, *types: str, since: set[str] | None = None) -> list[dict[str, Any]]:
    """The account's events of these types (not in `since`), oldest first, as JSON."""
    found = [
        raw_event(billing, e.id)
        for e in billing.stripe.v1.events.list(params={"limit": 100}).auto_paging_iter()
        if e.type in types and (since is None or e.id not in since)
    ]
    return sorted(found, key=lambda e: (e["created"], e["id"]))


def _deliver(billing: Billing, events: list[dict[str, Any]], times: int = 1) -> None:
    url = webhook_url(billing)
    for _ in range(times):
        for event in events:
            body = body_of(event)
            r = deliver(billing.kit, url, body, sign(body, billing.webhook_secret))
            assert r.status_code == 200, r.text


@pytest.fixture
def billing(stripe_app: StripeApp, run_tasks: Callable[..., list[str]]) -> Billing:
    made = connect_billing(stripe_app)
    run_tasks()  # the first Save's catalog sync
    stop_deliveries(made)  # the app is in-process: the test delivers events itself
    return made


def test_refunds_from_regentra_partial_twice_then_the_rest(
    billing: Billing, stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    invoice = _paid_invoice(billing, run_tasks)
    url = f"/invoices/{invoice['id']}/refunds"
    with billing.kit.api() as api:
        first = api.post(url, json={"amount": 5000, "reason": "requested_by_customer",
                                    "note": "two hours billed twice"})  # fmt: skip
        second = api.post(url, json={"amount": 5000})
        assert first.status_code == 201, first.text
        assert second.status_code == 201, second.text
        too_much = api.post(url, json={"amount": 10001})
        bad_reason = api.post(url, json={"amount": 100, "reason": "changed_mind"})
        zero = api.post(url, json={"amount": 0})
    # Two equal partial refunds are two refunds, each its own row and Stripe refund.
    a, b = first.json(), second.json()
    assert a["status"] == b["status"] == "succeeded"
    assert a["stripe_refund_id"] and b["stripe_refund_id"] and a["id"] != b["id"]
    assert a["stripe_refund_id"] != b["stripe_refund_id"]
    assert a["note"] == "two hours billed twice" and a["reason"] == "requested_by_customer"
    made = billing.stripe.v1.refunds.list(params={"payment_intent": _intent(billing, invoice)})
    assert sorted(r.amount for r in made.data) == [5000, 5000]
    by_id = {r.id: r for r in made.data}
    assert by_id[a["stripe_refund_id"]].metadata["regentra_refund_id"] == a["id"]
    assert by_id[a["stripe_refund_id"]].metadata["regentra_note"] == "two hours billed twice"
    assert by_id[a["stripe_refund_id"]].reason == "requested_by_customer"
    # Refusals: clear words, 4xx, nothing written.
    assert too_much.status_code == 422, too_much.text
    assert "$100.00 of $200.00 is left" in too_much.json()["error"]["message"]
    assert bad_reason.status_code == 422 and zero.status_code == 422
    with billing.kit.db.session() as s:
        rows = list(s.scalars(select(Refund).where(Refund.org_id == billing.kit.org.id)))
    assert len(rows) == 2 and {r.status for r in rows} == {"succeeded"}

    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "paid" and state["refunded"] == 10000
    assert [x["text"] for x in state["badges"]] == ["refunded $100.00"]
    assert [r["amount"] for r in state["refunds"]] == [5000, 5000]
    assert len(audits(billing, invoice["id"], "invoice.refund_requested")) == 2
    assert len(audits(billing, invoice["id"], "invoice.refund")) == 2

    # The events Stripe sent about them change nothing (already mirrored), however often.
    events = _events(billing, "refund.created", "charge.refunded")
    assert len(events) == 4
    _deliver(billing, events, times=2)
    run_tasks()
    assert len(audits(billing, invoice["id"], "invoice.refund")) == 2
    for event in events:
        (seen,) = stored(billing, event_id=event["id"])
        assert seen.processed_at is not None and not (seen.outcome or "").startswith("failed")

    # The rest, then nothing is left.
    with billing.kit.api() as api:
        rest = api.post(url, json={"amount": 10000, "reason": "duplicate"})
        assert rest.status_code == 201, rest.text
        more = api.post(url, json={"amount": 1})
    assert more.status_code == 422 and "$0.00 of $200.00 is left" in more.text
    assert invoice_state(billing, invoice["id"])["badges"][0]["text"] == "refunded $200.00"
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        html = page.get(f"/invoices/{invoice['id']}").text
        listing = page.get("/invoices").text
    assert "refunded $200.00" in html and a["stripe_refund_id"] in html
    assert 'id="refund-form"' not in html  # nothing left to refund
    assert "refunded $200.00" in listing


def test_refund_through_the_invoice_page(
    billing: Billing, stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    invoice = _paid_invoice(billing, run_tasks)
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        before = page.get(f"/invoices/{invoice['id']}").text
        assert 'id="refund-form"' in before and "Up to $200.00" in before
        url = f"/invoices/{invoice['id']}/refund"
        bad = page.follow(page.post(url, {"amount": "250.00", "reason": ""}))
        assert "$200.00 of $200.00 is left" in bad.text
        blank = page.follow(page.post(url, {"amount": ""}))
        assert "Enter the amount to refund." in blank.text
        done = page.follow(
            page.post(url, {"amount": "12.50", "reason": "duplicate", "note": "double entry"})
        )
        assert "Refund of $12.50 succeeded in Stripe." in done.text
        assert "refunded $12.50" in done.text and "double entry" in done.text
        assert "Up to $187.50" in done.text
    (made,) = billing.stripe.v1.refunds.list(
        params={"payment_intent": _intent(billing, invoice)}
    ).data
    assert (made.amount, made.reason) == (1250, "duplicate")


def test_a_bank_refund_that_fails_gives_the_amount_back(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    invoice = _paid_invoice(billing, run_tasks, method="ach")
    url = f"/invoices/{invoice['id']}/refunds"
    with billing.kit.api() as api:
        made = api.post(url, json={"amount": 6000})
    assert made.status_code == 201 and made.json()["status"] == "pending", made.text
    assert invoice_state(billing, invoice["id"])["refunded"] == 6000
    with billing.control() as ctl:
        failed = ctl.post(f"/_sandbox/refunds/{made.json()['stripe_refund_id']}/fail", data={})
    assert failed.status_code == 200, failed.text
    _deliver(billing, _events(billing, "refund.failed"))
    run_tasks()
    state = invoice_state(billing, invoice["id"])
    (refund,) = state["refunds"]
    assert (refund["status"], refund["failure_reason"]) == ("failed", "declined")
    assert state["refunded"] == 0 and state["badges"] == []
    with billing.kit.api() as api:  # the whole amount can be refunded again
        again = api.post(url, json={"amount": 20000})
    assert again.status_code == 201, again.text


def test_refund_of_an_unpaid_invoice_or_by_a_non_admin_is_refused(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    invoice = sent_invoice(billing)
    with billing.kit.api() as api:
        r = api.post(f"/invoices/{invoice['id']}/refunds", json={"amount": 100})
    assert r.status_code == 409 and "only a paid invoice" in r.json()["error"]["message"]
    approver = billing.kit.add_user("approver")
    with billing.kit.api(approver) as api:
        r = api.post(f"/invoices/{invoice['id']}/refunds", json={"amount": 100})
    assert r.status_code == 403


def test_refund_and_dispute_made_in_stripe_arrive_by_webhook(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    invoice = _paid_invoice(billing, run_tasks)
    intent = _intent(billing, invoice)
    before_events = {e["id"] for e in _events(billing, "charge.refunded", "refund.created")}
    billing.stripe.v1.refunds.create(params={"payment_intent": intent, "amount": 2500})
    events = _events(billing, "refund.created", "charge.refunded", since=before_events)
    calls = stripe_requests(billing)
    _deliver(billing, events)
    assert stripe_requests(billing) == calls  # the webhook requests called no Stripe API
    for event in events:
        (seen,) = stored(billing, event_id=event["id"])
        assert seen.processed_at is None and (seen.outcome or "").startswith(handlers.PENDING)
    ran = run_tasks()
    assert ran.count(handlers.MOVEMENT_TASK) == 2
    state = invoice_state(billing, invoice["id"])
    assert state["refunded"] == 2500 and state["refunds"][0]["stripe_refund_id"]
    assert state["refunds"][0]["status"] == "succeeded"
    assert [x["text"] for x in state["badges"]] == ["refunded $25.00"]

    # The cardholder disputes the rest.
    charge = billing.stripe.v1.payment_intents.retrieve(intent).latest_charge
    with billing.control() as ctl:
        opened = ctl.post(f"/_sandbox/charges/{charge}/dispute", data={"reason": "fraudulent"})
    assert opened.status_code == 200, opened.text
    dispute_types = ("charge.dispute.created", "charge.dispute.funds_withdrawn")
    _deliver(billing, _events(billing, *dispute_types), times=2)
    run_tasks()
    state = invoice_state(billing, invoice["id"])
    (dispute,) = state["disputes"]
    assert dispute["status"] == "needs_response" and dispute["amount"] == 17500
    assert dispute["withdrawn"] == 17500 and dispute["withdrawal_fee"] == 1500
    assert state["badges"][1]["text"].startswith("disputed: needs response by ")
    assert state["status"] == "paid"
    # No refund of a disputed payment (Stripe would refuse it too).
    with billing.kit.api() as api:
        r = api.post(f"/invoices/{invoice['id']}/refunds", json={"amount": 100})
    assert r.status_code == 409 and "disputed" in r.json()["error"]["message"]

    with billing.control() as ctl:
        won = ctl.post(f"/_sandbox/disputes/{dispute['stripe_dispute_id']}/decide",
                       data={"outcome": "won"})  # fmt: skip
    assert won.status_code == 200, won.text
    _deliver(billing, _events(billing, "charge.dispute.funds_reinstated", "charge.dispute.closed"))
    run_tasks()
    state = invoice_state(billing, invoice["id"])
    (dispute,) = state["disputes"]
    assert dispute["status"] == "won" and dispute["reinstated"] == 17500
    assert [x["text"] for x in state["badges"]] == ["refunded $25.00", "dispute won"]
    actions = [a.details["status"] for a in audits(billing, invoice["id"], "invoice.dispute")]
    assert actions[0] == "needs_response" and actions[-1] == "won"


def _figures(billing: Billing) -> dict[str, int]:
    with billing.kit.api() as api:
        got = api.get("/receivables")
    assert got.status_code == 200, got.text
    (usd,) = got.json()["currencies"]
    assert usd["currency"] == "USD"
    assert list(usd["paid_by_month"].values())[-1] == usd["paid"]  # this month's bar
    return {k: v for k, v in usd.items() if k not in ("currency", "paid_by_month")}


def test_reconciliation_finds_refunds_and_disputes_when_every_event_was_lost(
    billing: Billing, stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    first = _paid_invoice(billing, run_tasks)
    second = _paid_invoice(billing, run_tasks)
    unpaid = sent_invoice(billing, minutes=60, rate=10000)
    before = _figures(billing)
    assert before == {
        "outstanding": unpaid["total"],
        "overdue": 0,
        "paid": 40000,
        "refunded": 0,
        "lost_to_disputes": 0,
        "disputed": 0,
        "received": 40000,
        "unbilled": 0,
        "aging": {"1-30": 0, "31-60": 0, "61-90": 0, "90+": 0},
    }
    billing.stripe.v1.refunds.create(
        params={"payment_intent": _intent(billing, first), "reason": "duplicate"}
    )
    charge = billing.stripe.v1.payment_intents.retrieve(_intent(billing, second)).latest_charge
    with billing.control() as ctl:
        opened = ctl.post(f"/_sandbox/charges/{charge}/dispute", data={})
        assert opened.status_code == 200, opened.text
        lost = ctl.post(f"/_sandbox/disputes/{opened.json()['id']}/decide",
                        data={"outcome": "lost"})  # fmt: skip
        assert lost.status_code == 200, lost.text
    with billing.kit.api() as api:
        run = api.post("/integrations/stripe/reconcile")
        again = api.post("/integrations/stripe/reconcile")
    assert run.status_code == 200 and run.json()["ok"], run.text
    assert run.json()["movements_changed"] == 2, run.json()
    assert again.json()["movements_changed"] == 0, again.json()
    one, two = invoice_state(billing, first["id"]), invoice_state(billing, second["id"])
    assert one["refunded"] == 20000 and one["refunds"][0]["reason"] == "duplicate"
    assert [x["text"] for x in one["badges"]] == ["refunded $200.00"]
    assert two["disputes"][0]["status"] == "lost"
    assert [x["text"] for x in two["badges"]] == ["dispute lost"]
    assert len(audits(billing, second["id"], "invoice.dispute")) == 1
    # Both invoices stay paid; the receivables figures show where the money went.
    assert one["status"] == two["status"] == "paid"
    after = _figures(billing)
    assert after == {**before, "refunded": 20000, "lost_to_disputes": 20000, "received": 0}
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        home = page.get("/").text
    assert 'id="receivables"' in home
    assert 'data-figure="refunded" data-amount="20000">$200.00' in home
    assert 'data-figure="lost_to_disputes" data-amount="20000">$200.00' in home
    approver = billing.kit.add_user("approver")
    with billing.kit.api(approver) as api:
        assert api.get("/receivables").status_code == 403
    with PageClient(stripe_app.server) as page:
        page.login(approver.email)
        assert 'id="receivables"' not in page.get("/").text


def _backdate(billing: Billing, refund_id: str, hours: float) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from regentra.kit.time import utcnow

    with billing.kit.db.session() as s:
        s.execute(
            update(Refund)
            .where(Refund.id == uuid.UUID(refund_id))
            .values(created_at=utcnow() - timedelta(hours=hours))
        )
        s.commit()


def test_a_refund_stripe_did_not_answer_is_recorded_and_submitted_once_by_reconciliation(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    invoice = _paid_invoice(billing, run_tasks)
    intent = _intent(billing, invoice)
    url = f"/invoices/{invoice['id']}/refunds"
    with billing.control() as ctl:
        assert ctl.post("/_sandbox/faults", data={"rate_500": 1}).is_success
    try:
        with billing.kit.api() as api:
            lost = api.post(url, json={"amount": 4000})
    finally:
        with billing.control() as ctl:
            assert ctl.post("/_sandbox/faults").is_success
    # Recorded, not answered: 202, still counted against what is left.
    assert lost.status_code == 202, lost.text
    assert lost.json()["status"] == "requested" and lost.json()["stripe_refund_id"] is None
    with billing.kit.api() as api:
        too_much = api.post(url, json={"amount": 16001})
    assert too_much.status_code == 422 and "$160.00 of $200.00 is left" in too_much.text
    assert billing.stripe.v1.refunds.list(params={"payment_intent": intent}).data == []

    with billing.kit.api() as api:  # too young to submit again: it may still be answered
        assert api.post("/integrations/stripe/reconcile").json()["ok"]
    assert billing.stripe.v1.refunds.list(params={"payment_intent": intent}).data == []
    _backdate(billing, lost.json()["id"], hours=1)
    with billing.kit.api() as api:
        assert api.post("/integrations/stripe/reconcile").json()["ok"]
        again = api.post("/integrations/stripe/reconcile").json()
    assert again["ok"]
    (made,) = billing.stripe.v1.refunds.list(params={"payment_intent": intent}).data
    assert made.amount == 4000 and made.metadata["regentra_refund_id"] == lost.json()["id"]
    (row,) = invoice_state(billing, invoice["id"])["refunds"]
    assert (row["status"], row["stripe_refund_id"]) == ("succeeded", made.id)


def test_an_old_unanswered_refund_is_found_by_its_metadata_or_ended(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    """After Stripe forgot the idempotency key (24 h), a refund still `requested` is never
    sent again: the one Stripe made (our request did reach it) is found by its metadata; with
    none, the row ends as failed."""
    invoice = _paid_invoice(billing, run_tasks)
    intent = _intent(billing, invoice)
    url = f"/invoices/{invoice['id']}/refunds"
    with billing.control() as ctl:
        assert ctl.post("/_sandbox/faults", data={"rate_500": 1}).is_success
    try:
        with billing.kit.api() as api:
            reached = api.post(url, json={"amount": 3000}).json()
            never = api.post(url, json={"amount": 2000}).json()
    finally:
        with billing.control() as ctl:
            assert ctl.post("/_sandbox/faults").is_success
    assert reached["status"] == never["status"] == "requested"
    # The first one did reach Stripe (its answer was lost): made with our metadata.
    billing.stripe.v1.refunds.create(
        params={
            "payment_intent": intent,
            "amount": 3000,
            "metadata": {"regentra_refund_id": reached["id"]},
        }
    )
    for row in (reached, never):
        _backdate(billing, row["id"], hours=30)
    with billing.kit.api() as api:
        assert api.post("/integrations/stripe/reconcile").json()["ok"]
    made = billing.stripe.v1.refunds.list(params={"payment_intent": intent}).data
    assert [r.amount for r in made] == [3000]  # nothing sent again
    rows = {r["id"]: r for r in invoice_state(billing, invoice["id"])["refunds"]}
    assert rows[reached["id"]]["status"] == "succeeded"
    assert rows[reached["id"]]["stripe_refund_id"] == made[0].id
    assert rows[never["id"]]["status"] == "failed"
    assert "no record" in rows[never["id"]]["failure_reason"]


def test_a_three_decimal_refund_must_end_in_zero(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    """Stripe takes KWD (and the other three-decimal currencies) in amounts ending in 0: a
    refund of 1.235 KWD is refused in words before anything is recorded or sent."""
    from regentra.kit.time import utcnow
    from regentra.models import Invoice

    kit = billing.kit
    client = kit.client(currency="KWD")

    def make(s: Any) -> str:
        invoice = Invoice(
            org_id=kit.org.id,
            client_id=client.id,
            number="INV-KWD-1",
            status="paid",
            currency="KWD",
            total=10_000,
            amount_paid=10_000,
            stripe_invoice_id="in_kwd_" + uuid.uuid4().hex[:8],
            hosted_invoice_url="https://invoice.stripe.test/kwd",
            due_date=utcnow().date(),
            sent_at=utcnow(),
            paid_at=utcnow(),
        )
        s.add(invoice)
        s.flush()
        return str(invoice.id)

    invoice_id = kit._commit(make)
    with kit.api() as api:
        r = api.post(f"/invoices/{invoice_id}/refunds", json={"amount": 1235})
    assert r.status_code == 422, r.text
    assert "multiple of" in r.json()["error"]["message"]
    with kit.db.session() as s:
        assert s.scalars(select(Refund).where(Refund.org_id == kit.org.id)).all() == []
