"""Resending an open invoice to the client, through the app in-process against the Stripe
sandbox: each resend is a new `POST /v1/invoices/{id}/send` with its own idempotency key
(the first send's key would only replay that send), an `invoice.sent` event in Stripe and an
"invoice.resent" audit entry; drafts, paid and void invoices are refused in words (409)
before Stripe is asked; so is an invoice Stripe already has as paid."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from web.pages import PageClient, flash

from integrations.conftest import Billing, StripeApp, connect_billing
from integrations.platform.conftest import Platform
from integrations.stripe.conftest import cancel_platform_subscription
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
from regentra.invoices import transitions

DAY = timedelta(days=1)


def _requests(billing: Billing) -> list[dict[str, Any]]:
    with billing.control() as ctl:
        r = ctl.get("/_sandbox/requests", params={"limit": 100})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["data"]
    return found


def _sends(billing: Billing, sid: str) -> list[dict[str, Any]]:
    """The account's `POST /v1/invoices/{sid}/send` requests, oldest first."""
    return [
        r
        for r in _requests(billing)
        if r["method"] == "POST" and r["path"] == f"/v1/invoices/{sid}/send"
    ]


def _resend(billing: Billing, invoice_id: str) -> Any:
    with billing.kit.api() as api:
        return api.post(f"/invoices/{invoice_id}/resend")


def test_each_resend_emails_again_with_its_own_key_and_is_audited(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    invoice = sent_invoice(billing)
    sid = invoice["stripe_invoice_id"]
    (first,) = _sends(billing, sid)
    assert len(events_of(billing, sid, "invoice.sent")) == 1

    for n in (1, 2):
        r = _resend(billing, invoice["id"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "sent" and body["id"] == invoice["id"]
        assert any(step["action"] == "invoice.resent" for step in body["timeline"])
        # A real send each time: Stripe emails the client and says so with invoice.sent.
        assert len(events_of(billing, sid, "invoice.sent")) == 1 + n

    sends = _sends(billing, sid)
    assert len(sends) == 3 and all(s["status"] == 200 for s in sends)
    keys = [s["idempotency_key"] for s in sends]
    assert len(set(keys)) == 3 and first["idempotency_key"] == keys[0]
    assert all(k.startswith(f"regentra:invoice-resend:{invoice['id']}:{sid}:") for k in keys[1:])

    # Past its due date (the overdue sweep moved it): still open, so it is sent again too.
    due = date.fromisoformat(invoice["due_date"])
    moved = billing.kit._commit(
        lambda s: transitions.mark_overdue(s, now=datetime.combine(due, time(12), UTC) + DAY)
    )
    assert moved == 1 and invoice_state(billing, invoice["id"])["status"] == "overdue"
    r = _resend(billing, invoice["id"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "overdue"
    assert len(_sends(billing, sid)) == 4 and len(events_of(billing, sid, "invoice.sent")) == 4

    entries = audits(billing, invoice["id"], "invoice.resent")
    assert len(entries) == 3
    admin = billing.kit.admin
    assert {e.actor_user_id for e in entries} == {admin.id}
    assert all(e.details["stripe_invoice_id"] == sid for e in entries)
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "overdue" and state["sent_at"] == invoice["sent_at"]


def test_drafts_paid_and_void_invoices_are_refused_in_words(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    stop_deliveries(billing)  # this test delivers the payment's events itself
    draft = billing.invoice()
    paid = sent_invoice(billing)
    voided = sent_invoice(billing)

    pay(billing, paid["stripe_invoice_id"], "card")
    for event in events_of(billing, paid["stripe_invoice_id"], "invoice.paid"):
        raw = body_of(event)
        r = deliver(billing.kit, webhook_url(billing), raw, sign(raw, billing.webhook_secret))
        assert r.status_code == 200, r.text
    assert invoice_state(billing, paid["id"])["status"] == "paid"
    with billing.kit.api() as api:
        r = api.post(f"/invoices/{voided['id']}/void", json={"release_entries": True})
    assert r.status_code == 200, r.text

    before = len(_requests(billing))
    expected = {
        draft["id"]: "is a draft: send it first",
        paid["id"]: "is already paid",
        voided["id"]: "is void: its payment link no longer works",
    }
    for invoice_id, words in expected.items():
        r = _resend(billing, invoice_id)
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "not_open" and words in error["message"], error
    assert len(_requests(billing)) == before  # Stripe was not asked
    for invoice_id in expected:
        assert audits(billing, invoice_id, "invoice.resent") == []


def test_an_invoice_paid_in_stripe_meanwhile_is_not_emailed_again(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    stop_deliveries(billing)  # the payment's webhook has not arrived yet
    invoice = sent_invoice(billing)
    sid = invoice["stripe_invoice_id"]
    pay(billing, sid, "card")
    assert invoice_state(billing, invoice["id"])["status"] == "sent"

    r = _resend(billing, invoice["id"])
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "stripe_invoice_closed" and "is paid in Stripe" in error["message"]
    assert len(_sends(billing, sid)) == 1  # only the first send
    assert audits(billing, invoice["id"], "invoice.resent") == []


def test_the_invoice_page_offers_resend_to_admins_of_open_invoices(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    kit = billing.kit
    invoice = sent_invoice(billing)
    draft = billing.invoice()
    approver = kit.add_user("approver")
    path = f"/invoices/{invoice['id']}"
    with PageClient(stripe_app.server) as page:
        page.login(kit.admin.email)
        assert 'data-action="resend"' not in page.get(f"/invoices/{draft['id']}").text
        detail = page.get(path).text
        assert 'data-action="resend"' in detail and f'action="{path}/resend"' in detail

        r = page.post(f"{path}/resend")
        detail = page.follow(r).text
        kind, message = flash(detail) or ("", "")
        assert kind == "success" and f"{invoice['number']} sent again" in message, message
        # Test mode: the flash says Stripe emails nobody, as the first send's does.
        assert "test mode" in message
        assert 'data-action="invoice.resent"' in detail
        assert re.search(r"Sent again to [^<]+ through Stripe", detail)

        r = page.post(f"/invoices/{draft['id']}/resend")
        kind, message = flash(page.follow(r).text) or ("", "")
        assert kind == "error" and "is a draft: send it first" in message, message
    with PageClient(stripe_app.server) as page:
        page.login(approver.email)
        assert 'data-action="resend"' not in page.get(path).text
        assert page.post(f"{path}/resend").status_code == 403
    assert len(audits(billing, invoice["id"], "invoice.resent")) == 1
    assert len(events_of(billing, invoice["stripe_invoice_id"], "invoice.sent")) == 2


def test_a_canceled_regentra_subscription_refuses_resending_as_it_refuses_sending(
    platform: Platform, stripe_app: StripeApp
) -> None:
    billing = connect_billing(stripe_app)
    invoice = sent_invoice(billing)
    sid = invoice["stripe_invoice_id"]
    assert _resend(billing, invoice["id"]).status_code == 200  # in its trial: allowed
    cancel_platform_subscription(platform, billing)

    r = _resend(billing, invoice["id"])
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "subscription_required", error
    assert "your Regentra subscription is canceled" in error["message"]
    assert "Settings → Billing" in error["message"]
    assert len(_sends(billing, sid)) == 2  # the first send and the resend before: no more
    assert len(audits(billing, invoice["id"], "invoice.resent")) == 1
    # The page says the same in words.
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        r = page.post(f"/invoices/{invoice['id']}/resend")
        kind, message = flash(page.follow(r).text) or ("", "")
    assert kind == "error" and "Your Regentra subscription is canceled" in message, message
    assert len(_sends(billing, sid)) == 2
