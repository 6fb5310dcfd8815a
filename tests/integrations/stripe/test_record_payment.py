"""Recording a payment received outside Stripe (a cheque, a wire), through the app in-process
against the Stripe and QuickBooks sandboxes: the Stripe invoice is marked paid out of band
(one idempotency key per invoice), ours becomes paid through the conditional transition with
the method, reference and date received audited, and the QuickBooks Payment goes to the
mapping's account for payments outside Stripe with no fee; Stripe's `invoice.paid` arriving
afterwards (or reconciliation) records nothing twice; drafts, paid and void invoices and bad
input are refused in words before Stripe is asked; a second submit records nothing; the
invoice page offers it to admins of open invoices."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.qbo_fixtures import QboOrg
from web.pages import PageClient, flash

from integrations.conftest import Billing, StripeApp, connect_billing
from integrations.quickbooks.posting_helpers import Books, books, minor
from integrations.stripe.test_webhook_events import (
    audits,
    body_of,
    deliver,
    events_of,
    invoice_state,
    pay,
    sent_invoice,
    sign,
    stop_deliveries,
    webhook_url,
)
from regentra.integrations.stripe import recording
from regentra.invoices.errors import InvoiceNotOpen
from regentra.models import Invoice, StripeEvent

KEY = "regentra:invoice-record-payment:{id}:{sid}"


@pytest.fixture
def b(
    stripe_app: StripeApp,
    connect_quickbooks: Callable[..., QboOrg],
    db: Any,
    run_tasks: Callable[..., list[str]],
) -> Books:
    made = books(stripe_app, connect_quickbooks, db, run_tasks)
    stop_deliveries(made.billing)  # the tests deliver Stripe's events themselves
    return made


def _requests(billing: Billing) -> list[dict[str, Any]]:
    with billing.control() as ctl:
        r = ctl.get("/_sandbox/requests", params={"limit": 100})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["data"]
    return found


def _pays(billing: Billing, sid: str) -> list[dict[str, Any]]:
    return [
        r
        for r in _requests(billing)
        if r["method"] == "POST" and r["path"] == f"/v1/invoices/{sid}/pay"
    ]


def _record(billing: Billing, invoice_id: str, **body: Any) -> Any:
    with billing.kit.api() as api:
        return api.post(f"/invoices/{invoice_id}/record-payment", json=body)


def _deliver_paid(billing: Billing, sid: str) -> list[str]:
    """Stripe's `invoice.paid` events for the invoice, delivered to the app: the outcomes."""
    ids = []
    for event in events_of(billing, sid, "invoice.paid"):
        raw = body_of(event)
        r = deliver(billing.kit, webhook_url(billing), raw, sign(raw, billing.webhook_secret))
        assert r.status_code == 200, r.text
        ids.append(event["id"])
    with billing.kit.db.session() as s:
        stored = dict(
            s.execute(
                select(StripeEvent.event_id, StripeEvent.outcome).where(
                    StripeEvent.org_id == billing.kit.org.id, StripeEvent.event_id.in_(ids)
                )
            ).all()
        )
    return [str(stored[i]) for i in ids]


def _the_day_before(billing: Billing) -> date:
    with billing.kit.db.session() as s:
        from regentra.invoices.transitions import org_today
        from regentra.models import Org

        org = s.get(Org, billing.kit.org.id)
        assert org is not None
        return org_today(org) - timedelta(days=1)


def test_a_cheque_marks_it_paid_in_stripe_here_and_in_quickbooks_with_no_fee(b: Books) -> None:
    billing = b.billing
    sent = sent_invoice(billing)
    sid = sent["stripe_invoice_id"]
    assert b.run_tasks() == ["quickbooks.mirror_invoice"]
    received_on = _the_day_before(billing)

    r = _record(
        billing, sent["id"], method="cheque", reference="1234", received_on=str(received_on)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "paid" and body["amount_paid"] == sent["total"]
    # Stripe agrees: paid out of band, with no charge (so no fee), one call with the key.
    stripe_invoice = billing.stripe.v1.invoices.retrieve(sid)
    assert stripe_invoice.status == "paid" and stripe_invoice.amount_remaining == 0
    assert billing.stripe.v1.invoice_payments.list(params={"invoice": sid}).data == []
    (paid_call,) = _pays(billing, sid)
    assert paid_call["status"] == 200
    assert paid_call["idempotency_key"] == KEY.format(id=sent["id"], sid=sid)

    # Regentra: paid on the day received, audited once with who, how, reference and amount.
    row = b.invoice_row(sent["id"])
    assert row.status == "paid" and row.amount_paid == sent["total"]
    assert row.paid_at is not None
    (entry,) = audits(billing, sent["id"], "invoice.paid")
    assert entry.actor_user_id == billing.kit.admin.id
    assert entry.details["method"] == "cheque" and entry.details["reference"] == "1234"
    assert entry.details["amount_paid"] == sent["total"]
    assert entry.details["received_on"] == received_on.isoformat()
    step = next(s for s in body["timeline"] if s["action"] == "invoice.paid")
    assert "cheque" in str(step)

    # QuickBooks: the Payment to the account for payments outside Stripe, dated as received;
    # no fee booked.
    assert b.run_tasks() == ["quickbooks.record_payment"]
    rows = b.rows(sent["id"])
    assert rows["payment"].state == "posted" and rows["fee"].state == "skipped", rows
    assert "no Stripe fee" in (rows["fee"].last_error or "")
    payment = b.one("Payment")
    assert payment["DepositToAccountRef"]["value"] == b.accounts["Undeposited Funds"]
    assert payment["DepositToAccountRef"]["value"] != b.accounts["Stripe Clearing"]
    assert minor(payment["TotalAmt"]) == sent["total"]
    assert payment["TxnDate"] == received_on.isoformat()
    assert "outside Stripe" in payment["PrivateNote"]
    assert b.objects("Purchase") == [] and b.one("Invoice")["Balance"] == 0

    # Stripe's invoice.paid (out of band) arrives afterwards, then reconciliation: nothing
    # is recorded twice.
    (outcome,) = _deliver_paid(billing, sid)
    assert "no change" in outcome and "is paid" in outcome
    b.reconcile()
    assert b.run_tasks() == []
    assert len(audits(billing, sent["id"], "invoice.paid")) == 1
    assert len(b.objects("Payment")) == 1 and b.objects("Purchase") == []
    assert b.invoice_row(sent["id"]).paid_at == row.paid_at


def test_refusals_in_words_before_stripe_is_asked(b: Books, stripe_app: StripeApp) -> None:
    billing = b.billing
    draft = billing.invoice()
    # A bank payment processing (Stripe refuses to mark it paid then): noted by the webhook
    # and the task that finds its invoice.
    processing = sent_invoice(billing)
    pay(billing, processing["stripe_invoice_id"], "ach")
    with billing.control() as ctl:
        started = ctl.get("/v1/events", params={"type": "payment_intent.processing"})
    for event in started.json()["data"]:
        raw = body_of(event)
        r = deliver(billing.kit, webhook_url(billing), raw, sign(raw, billing.webhook_secret))
        assert r.status_code == 200, r.text
    b.run_tasks()
    assert invoice_state(billing, processing["id"])["payment_processing_at"] is not None
    paid = sent_invoice(billing)
    voided = sent_invoice(billing)
    pay(billing, paid["stripe_invoice_id"], "card")
    _deliver_paid(billing, paid["stripe_invoice_id"])
    assert invoice_state(billing, paid["id"])["status"] == "paid"
    with billing.kit.api() as api:
        r = api.post(f"/invoices/{voided['id']}/void", json={"release_entries": True})
    assert r.status_code == 200, r.text
    open_one = sent_invoice(billing)

    before = len(_requests(billing))
    for invoice_id, words in (
        (draft["id"], "is a draft: send it first"),
        (paid["id"], "is already paid"),
        (voided["id"], "is void"),
        (processing["id"], "has a bank payment processing in Stripe: wait until it settles"),
    ):
        r = _record(billing, invoice_id, method="wire")
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "not_open" and words in error["message"], error
    tomorrow = str(_the_day_before(billing) + timedelta(days=2))
    for body, words in (
        ({"method": "cash"}, "method"),
        ({}, "method"),
        ({"method": "cheque", "reference": "x" * 101}, "reference"),
        ({"method": "cheque", "received_on": "yesterday"}, "received_on"),
        ({"method": "cheque", "received_on": tomorrow}, "cannot be in the future"),
        ({"method": "cheque", "amount": 5}, "amount"),
    ):
        r = _record(billing, open_one["id"], **body)
        assert r.status_code == 422, (body, r.text)
        assert words in r.text, (body, r.text)
    r = _record(billing, str(uuid.uuid4()), method="cheque")
    assert r.status_code == 404, r.text
    for role in ("approver", "technician"):
        user = billing.kit.add_user(role)
        with billing.kit.api(user) as api:
            r = api.post(f"/invoices/{open_one['id']}/record-payment", json={"method": "wire"})
        assert r.status_code == 403, r.text
    assert len(_requests(billing)) == before  # Stripe was not asked
    with PageClient(stripe_app.server) as page:  # nor offered on the page while it settles
        page.login(billing.kit.admin.email)
        detail = page.get(f"/invoices/{processing['id']}").text
        assert 'id="payment-processing"' in detail
        assert 'data-action="record-payment"' not in detail
        assert 'data-action="record-payment"' in page.get(f"/invoices/{open_one['id']}").text
    assert audits(billing, open_one["id"], "invoice.paid") == []
    assert invoice_state(billing, open_one["id"])["status"] == "sent"

    # Paid by card in Stripe meanwhile (its notice not here yet): refused, nothing recorded.
    pay(billing, open_one["stripe_invoice_id"], "card")
    r = _record(billing, open_one["id"], method="cheque", reference="99")
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "stripe_invoice_closed" and "is paid in Stripe" in error["message"]
    assert audits(billing, open_one["id"], "invoice.paid") == []
    assert invoice_state(billing, open_one["id"])["status"] == "sent"


def test_a_second_submit_records_nothing_and_a_lost_answer_is_replayed(b: Books) -> None:
    billing = b.billing
    sent = sent_invoice(billing)
    sid = sent["stripe_invoice_id"]
    assert _record(billing, sent["id"], method="wire", reference="W-1").status_code == 200
    again = _record(billing, sent["id"], method="wire", reference="W-1")
    assert again.status_code == 409 and "already paid" in again.json()["error"]["message"]
    assert len(_pays(billing, sid)) == 1 and len(audits(billing, sent["id"], "invoice.paid")) == 1

    # Stripe marked it paid but its answer never came back (the same key was used): asking
    # again gets Stripe's saved answer, and the payment is recorded once.
    lost = sent_invoice(billing)
    key = KEY.format(id=lost["id"], sid=lost["stripe_invoice_id"])
    billing.stripe.v1.invoices.pay(
        lost["stripe_invoice_id"], {"paid_out_of_band": True}, {"idempotency_key": key}
    )
    r = _record(billing, lost["id"], method="other", reference="cash at the desk")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "paid"
    assert [p["idempotency_key"] for p in _pays(billing, lost["stripe_invoice_id"])] == [key, key]
    (entry,) = audits(billing, lost["id"], "invoice.paid")
    assert entry.details["method"] == "other"
    assert len(events_of(billing, lost["stripe_invoice_id"], "invoice.paid")) == 1


def test_stripes_notice_handled_first_still_records_the_payment_as_received(b: Books) -> None:
    """The `invoice.paid` of our own pay call handled before our transition (a race of
    milliseconds): the payment is still recorded as received outside Stripe, on its date."""
    billing = b.billing
    sent = sent_invoice(billing)
    sid = sent["stripe_invoice_id"]
    billing.stripe.v1.invoices.pay(sid, {"paid_out_of_band": True})
    _deliver_paid(billing, sid)  # the webhook marks it paid first
    received_on = _the_day_before(billing)
    kit = billing.kit

    def race(s: Any) -> Invoice:
        from regentra.models import Org, User

        org, user = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        invoice = s.get(Invoice, uuid.UUID(sent["id"]))
        details = {
            "method": "cheque",
            "reference": "77",
            "received_on": received_on.isoformat(),
            "recorded_by": user.name or user.email,
        }
        recording._after_a_race(
            s,
            org=org,
            user=user,
            invoice=invoice,
            details=details,
            how=recording.describe("cheque", "77"),
        )
        return invoice

    invoice = kit._commit(race)
    assert invoice.status == "paid"
    (entry,) = audits(billing, sent["id"], "invoice.payment_recorded")
    assert entry.actor_user_id == kit.admin.id and entry.details["reference"] == "77"
    assert entry.details["amount_paid"] == sent["total"]
    assert len(audits(billing, sent["id"], "invoice.paid")) == 1  # Stripe's, by the webhook
    state = invoice_state(billing, sent["id"])
    assert state["paid_at"] is not None
    step = next(s for s in state["timeline"] if s["action"] == "invoice.payment_recorded")
    assert "cheque 77" in str(step)
    # Recorded once: a second try is refused.
    with pytest.raises(InvoiceNotOpen, match="already paid"):
        kit._commit(race)


def test_the_invoice_page_records_a_payment_for_admins_of_open_invoices(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    stop_deliveries(billing)
    kit = billing.kit
    invoice = sent_invoice(billing)
    draft = billing.invoice()
    approver = kit.add_user("approver")
    path = f"/invoices/{invoice['id']}"
    with PageClient(stripe_app.server) as page:
        page.login(kit.admin.email)
        assert 'data-action="record-payment"' not in page.get(f"/invoices/{draft['id']}").text
        detail = page.get(path).text
        assert 'data-action="record-payment"' in detail
        assert f'action="{path}/record-payment"' in detail
        assert 'name="method"' in detail and 'name="reference"' in detail
        assert 'name="received_on"' in detail and "cannot be undone" in detail

        future = str(_the_day_before(billing) + timedelta(days=2))
        r = page.post(f"{path}/record-payment", {"method": "cheque", "received_on": future})
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and "Date received cannot be in the future" in message, message
        r = page.post(f"{path}/record-payment", {"method": "cheque", "received_on": "31/12"})
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and "Date received must be a date" in message, message

        r = page.post(f"{path}/record-payment", {"method": "cheque", "reference": "1234"})
        detail = page.follow(r).text
        kind, message = flash(detail) or ("", "")
        assert kind == "success" and "(cheque 1234) recorded" in message, message
        assert f"invoice {invoice['number']} is paid" in message
        assert 'data-action="record-payment"' not in detail  # paid: no form any more
        name = kit.admin.name or kit.admin.email
        assert re.search(
            rf"Payment recorded outside Stripe \(cheque 1234\) by {re.escape(name)}", detail
        ), detail
        r = page.post(f"{path}/record-payment", {"method": "cheque", "reference": "1234"})
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and "already paid" in message, message
    with PageClient(stripe_app.server) as page:
        page.login(approver.email)
        other = sent_invoice(billing)
        assert 'data-action="record-payment"' not in page.get(f"/invoices/{other['id']}").text
        assert (
            page.post(f"/invoices/{other['id']}/record-payment", {"method": "wire"}).status_code
            == 403
        )
    assert len(audits(billing, invoice["id"], "invoice.paid")) == 1
    assert billing.stripe.v1.invoices.retrieve(invoice["stripe_invoice_id"]).status == "paid"


@pytest.mark.e2e
def test_a_double_click_on_a_real_server_records_the_payment_once(
    stripe_server: StripeApp,
) -> None:
    """Two submits at once to `regentra serve`, whose webhook gets Stripe's `invoice.paid`
    meanwhile: one records the payment, the other is refused, Stripe is asked with one key."""
    billing = connect_billing(stripe_server)
    sent = sent_invoice(billing)
    sid = sent["stripe_invoice_id"]
    barrier = threading.Barrier(2)

    def submit(_: int) -> int:
        with billing.kit.api() as api:
            barrier.wait(timeout=30)
            r = api.post(
                f"/invoices/{sent['id']}/record-payment",
                json={"method": "cheque", "reference": "5"},
            )
        assert r.status_code in (200, 409), r.text
        return r.status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(submit, range(2)))
    assert codes == [200, 409]
    keys = {p["idempotency_key"] for p in _pays(billing, sid)}
    assert keys == {KEY.format(id=sent["id"], sid=sid)}
    assert invoice_state(billing, sent["id"])["status"] == "paid"
    recorded = [
        e
        for action in ("invoice.paid", "invoice.payment_recorded")
        for e in audits(billing, sent["id"], action)
        if e.details.get("method")
    ]
    assert len(recorded) == 1 and recorded[0].details["reference"] == "5"
    assert len(audits(billing, sent["id"], "invoice.paid")) == 1
