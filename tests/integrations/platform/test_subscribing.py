"""Each org's Regentra subscription: trial, Stripe Checkout on the platform account (the
Stripe sandbox, a fresh account per test), the platform webhook (signed deliveries of the
sandbox's own events, duplicated and reordered), and what each status allows; in-process on
both databases."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import Database, free_port
from sandbox.stripe.conftest import start_sandbox, stop_sandbox
from sqlalchemy import select
from web.pages import PageClient, misaligned_headers

from integrations.conftest import Billing, StripeApp, connect_billing, use_stripe
from integrations.platform.conftest import WEBHOOK, Platform, billing_of, row_of, subscribe
from integrations.stripe.test_webhook_events import make_event
from regentra.config import get_settings
from regentra.integrations.platform import setup
from regentra.kit.time import utcnow
from regentra.models import AuditEvent, PlatformEvent


def test_billing_off_every_org_is_active(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    body = billing_of(kit)
    assert body["billing_on"] is False and body["status"] == "active"
    assert body["can_send_invoices"] is True
    with PageClient(stripe_app.server) as page:
        page.login(kit.admin.email)
        assert 'id="billing-off"' in page.get("/billing").text
    with kit.api() as api:
        refused = api.post("/billing/checkout", json={"plan": "starter"})
    assert refused.status_code == 409
    assert "REGENTRA_PLATFORM_STRIPE_SECRET_KEY" in refused.json()["error"]["message"]
    with stripe_app.server.http() as http:  # type: ignore[union-attr]
        assert http.post(WEBHOOK, content=b"{}").status_code == 404


def test_a_new_org_is_in_trial_and_sending_stops_when_it_ends(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    billing = connect_billing(platform.app)
    body = billing_of(billing.kit)
    assert body["billing_on"] and body["status"] == "trial" and body["can_send_invoices"]
    ends = body["trial_ends_at"]
    assert ends is not None
    left = (datetime.fromisoformat(ends) - utcnow() - timedelta(days=14)).total_seconds()
    assert -60 < left <= 0
    assert [p["name"] for p in body["plans"]] == ["starter", "pro"]
    assert body["seats"] == 1  # the admin

    monkeypatch.setenv("REGENTRA_PLATFORM_TRIAL_DAYS", "0")
    get_settings.cache_clear()
    draft = billing.invoice()
    with billing.kit.api() as api:
        refused = api.post(f"/invoices/{draft['id']}/send")
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "subscription_required"
        assert "trial ended" in error["message"] and "Settings → Billing" in error["message"]
        assert api.get(f"/invoices/{draft['id']}").json()["status"] == "draft"
    assert billing.stripe.v1.invoices.list().data == []  # nothing reached the org's Stripe
    body = billing_of(billing.kit)
    assert body["status"] == "trial_over" and body["can_send_invoices"] is False
    with PageClient(platform.app.server) as page:
        page.login(billing.kit.admin.email)
        shown = page.get("/billing")
        html = shown.text
        assert 'data-status="trial_over"' in html and 'id="subscribe-starter"' in html
        assert 'data-plan="starter"' in html and misaligned_headers(html) == []  # the plans
        # Subscribe answers with a redirect to Checkout: the page's policy lets the form go.
        policy = shown.headers["content-security-policy"]
        assert f"form-action 'self' {platform.app.sandbox.url};" in policy
        assert "trial has ended" in page.get("/invoices").text  # the banner


def test_subscribing_through_checkout_makes_the_org_active(
    platform: Platform, db: Database
) -> None:
    billing: Billing = connect_billing(platform.app)
    kit = billing.kit
    tech = kit.add_user("technician")
    kit.add_user("approver")
    client = kit.client()
    with kit.api() as api:
        updated = api.patch(f"/clients/{client.id}", json={"compliance_enabled": True})
        assert updated.status_code == 200, updated.text
    subscription_id = subscribe(platform, kit, "pro")

    body = billing_of(kit)
    assert body["status"] == "active" and body["plan"] == "pro"
    assert body["subscription_status"] == "active" and body["activating"] is False
    assert body["current_period_end"] is not None
    # In Stripe: the plan fee, the seats (3 active users), one compliance tenant.
    sub = platform.stripe.v1.subscriptions.retrieve(subscription_id)
    lines = sorted((i.price.lookup_key, i.quantity) for i in sub["items"].data)
    assert lines == [
        ("regentra_compliance_tenant_monthly", 1),
        ("regentra_pro_monthly", 1),
        ("regentra_pro_seat_monthly", 3),
    ]
    assert sub.metadata["regentra_org_id"] == str(kit.org.id)
    # The same Customer is kept for the org.
    row = row_of(db, kit)
    assert row is not None and sub.customer == row.stripe_customer_id
    with PageClient(platform.app.server) as page:
        page.login(kit.admin.email)
        html = page.get("/billing").text
        assert 'data-status="active"' in html and "Pro plan" in html
        assert 'id="subscribe-pro"' not in html
        # From the platform account: the card on file and the first (paid) invoice.
        assert 'id="billing-card">visa •••• 4242<' in html
        assert 'data-status="paid"' in html and f'href="{platform.app.sandbox.url}/' in html
        assert misaligned_headers(html) == []  # the invoices' amounts
    body = billing_of(kit)
    assert body["payment_method"] == "visa •••• 4242" and body["stripe_error"] is None
    (first,) = body["invoices"]
    assert first["status"] == "paid" and first["amount_paid"] == first["amount_due"] > 0
    assert first["hosted_invoice_url"].startswith(platform.app.sandbox.url)
    # Sending works; the technician sees no Billing page.
    sent = billing.sent_invoice()
    assert sent["status"] == "sent"
    with PageClient(platform.app.server) as page:
        page.login(tech.email)
        assert page.get("/billing").status_code == 403
    with kit.api() as api:
        again = api.post("/billing/checkout", json={"plan": "starter"})
    assert again.status_code == 409 and "already has" in again.json()["error"]["message"]


def test_duplicate_and_reordered_events_apply_once_in_stripes_order(
    platform: Platform, db: Database
) -> None:
    kit = platform.app.make_org()
    subscribe(platform, kit)
    events = platform.events()
    for event in events:  # every one again: duplicates
        answer = platform.deliver(event)
        assert answer.status_code == 200 and answer.json()["duplicate"] is True
    with db.session() as session:
        stored = session.scalars(select(PlatformEvent.event_id)).all()
    assert sorted(stored) == sorted(e["id"] for e in events)
    # A later state, then an older snapshot arriving after it: the later one stays.
    row = row_of(db, kit)
    assert row is not None
    snapshot = platform.raw(f"/v1/subscriptions/{row.stripe_subscription_id}")
    newer = make_event("customer.subscription.updated", {**snapshot, "status": "past_due"})
    newer["created"] = int(time.time()) + 60
    older = make_event("customer.subscription.updated", {**snapshot, "status": "active"})
    older["created"] = int(time.time()) + 30
    assert platform.deliver(newer).status_code == 200
    assert platform.deliver(older).status_code == 200
    assert billing_of(kit)["status"] == "past_due"
    with db.session() as session:
        outcome = session.scalar(
            select(PlatformEvent.outcome).where(PlatformEvent.event_id == older["id"])
        )
    assert outcome == "ignored: a later state of the subscription was applied already"
    # Two states of the same second (their order unknown): Stripe's current state decides.
    tie = int(time.time()) + 90
    first = make_event("customer.subscription.updated", {**snapshot, "status": "past_due"})
    second = make_event("customer.subscription.updated", {**snapshot, "status": "canceled"})
    first["created"] = second["created"] = tie
    assert platform.deliver(first).status_code == 200
    assert billing_of(kit)["status"] == "past_due"
    assert platform.deliver(second).status_code == 200
    assert billing_of(kit)["status"] == "active"  # as the subscription is in Stripe


def test_failed_payment_past_due_then_paid_then_deleted_refuses_sending(
    platform: Platform, db: Database
) -> None:
    billing = connect_billing(platform.app)
    kit = billing.kit
    subscription_id = subscribe(platform, kit)
    snapshot = platform.raw(f"/v1/subscriptions/{subscription_id}")
    invoice = {
        "id": "in_" + uuid.uuid4().hex[:24],
        "object": "invoice",
        "customer": snapshot["customer"],
        "parent": {"subscription_details": {"subscription": subscription_id}},
    }
    at = int(time.time()) + 10

    def event(type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        nonlocal at
        made = make_event(type_, obj)
        made["created"] = at = at + 1
        return made

    assert platform.deliver(event("invoice.payment_failed", invoice)).status_code == 200
    body = billing_of(kit)
    assert body["status"] == "past_due" and body["can_send_invoices"] is True
    with PageClient(platform.app.server) as page:
        page.login(kit.admin.email)
        assert 'data-status="past_due"' in page.get("/billing").text
        home = page.get("/").text  # the banner, on every page, for admins
        assert 'id="billing-alert"' in home and "could not charge the card" in home
    tech = kit.add_user("technician")
    with PageClient(platform.app.server) as page:
        page.login(tech.email)
        assert 'id="billing-alert"' not in page.get("/").text
    assert platform.deliver(event("invoice.paid", invoice)).status_code == 200
    assert billing_of(kit)["status"] == "active"
    with PageClient(platform.app.server) as page:
        page.login(kit.admin.email)
        assert 'id="billing-alert"' not in page.get("/").text

    deleted = event("customer.subscription.deleted", {**snapshot, "status": "canceled"})
    assert platform.deliver(deleted).status_code == 200
    body = billing_of(kit)
    assert body["status"] == "canceled" and body["can_send_invoices"] is False
    draft = billing.invoice()
    with kit.api() as api:
        refused = api.post(f"/invoices/{draft['id']}/send")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "subscription_required"
        assert "canceled" in refused.json()["error"]["message"]
        # Everything else keeps working, and the way back is open: subscribing again.
        assert api.get("/invoices").status_code == 200
        again = api.post("/billing/checkout", json={"plan": "starter"})
    assert again.status_code == 201, again.text
    assert again.json()["url"].startswith(platform.app.sandbox.url + "/c/pay/")


def test_rejected_and_foreign_deliveries(platform: Platform, db: Database) -> None:
    kit = platform.app.make_org()
    other = platform.app.make_org()
    subscribe(platform, kit)
    snapshot = platform.raw("/v1/subscriptions")["data"][0]
    canceled = make_event("customer.subscription.updated", {**snapshot, "status": "canceled"})
    canceled["created"] = int(time.time()) + 120
    # Signed with another secret, or not at all: 400 with a generic message, nothing stored.
    wrong = platform.deliver(canceled, secret="whsec_" + "x" * 32)
    assert wrong.status_code == 400
    assert wrong.json() == {"error": {"code": "webhook_rejected", "message": "webhook rejected"}}
    with platform.app.server.http() as http:  # type: ignore[union-attr]
        unsigned = http.post(WEBHOOK, content=json.dumps(canceled).encode())
    assert unsigned.status_code == 400
    with db.session() as session:
        ids = session.scalars(select(PlatformEvent.event_id)).all()
    assert canceled["id"] not in ids
    assert billing_of(kit)["status"] == "active"
    # A customer that belongs to no org: stored, ignored; the other org is untouched.
    stranger = platform.stripe.v1.customers.create(params={"name": "Not an org"})
    foreign = make_event(
        "customer.subscription.updated",
        {**snapshot, "id": "sub_" + uuid.uuid4().hex[:20], "customer": stranger.id},
    )
    assert platform.deliver(foreign).status_code == 200
    with db.session() as session:
        row = session.scalar(select(PlatformEvent).where(PlatformEvent.event_id == foreign["id"]))
    assert row is not None and row.org_id is None
    assert row.outcome == "ignored: a customer that belongs to no organization"
    assert billing_of(other)["status"] == "trial"
    assert billing_of(kit)["status"] == "active"


def test_plan_change_and_cancel_at_period_end_and_its_undo(
    platform: Platform, db: Database
) -> None:
    kit = platform.app.make_org()
    kit.add_user("technician")
    subscription_id = subscribe(platform, kit, "starter")
    with kit.api() as api:
        moved = api.post("/billing/plan", json={"plan": "pro"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["plan"] == "pro" and moved.json()["status"] == "active"
        same = api.post("/billing/plan", json={"plan": "pro"})
        assert same.status_code == 409 and "already on the Pro plan" in same.text
        assert api.post("/billing/plan", json={"plan": "gold"}).status_code == 422
    sub = platform.raw(f"/v1/subscriptions/{subscription_id}")
    assert sorted((i["price"]["lookup_key"], i["quantity"]) for i in sub["items"]["data"]) == [
        ("regentra_pro_monthly", 1),
        ("regentra_pro_seat_monthly", 2),
    ]

    with kit.api() as api:
        canceling = api.post("/billing/cancel")
        assert canceling.status_code == 200, canceling.text
        body = canceling.json()
        assert body["cancel_at_period_end"] is True and body["status"] == "active"
        assert body["can_send_invoices"] is True  # until the period ends
        assert api.post("/billing/cancel").status_code == 409
    assert platform.raw(f"/v1/subscriptions/{subscription_id}")["cancel_at_period_end"] is True
    with PageClient(platform.app.server) as page:
        page.login(kit.admin.email)
        html = page.get("/billing").text
        assert "canceling at the end of the period" in html and 'id="billing-resume"' in html
        undone = page.follow(page.post("/billing/resume", {})).text
        assert "the cancellation is undone" in undone and 'id="billing-cancel"' in undone
    assert platform.raw(f"/v1/subscriptions/{subscription_id}")["cancel_at_period_end"] is False
    # The webhooks of these changes, delivered late and in any order, change nothing more.
    for event in reversed(platform.events()):
        assert platform.deliver(event).status_code == 200
    body = billing_of(kit)
    assert body["plan"] == "pro" and body["cancel_at_period_end"] is False
    with db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.org_id == kit.org.id, AuditEvent.action.like("billing.%")
            )
        ).all()
    assert sorted(actions) == [
        "billing.cancel_requested",
        "billing.cancel_undone",
        "billing.plan_changed",
    ]


def test_the_billing_page_shows_what_it_knows_when_stripe_is_unreachable(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = platform.app.make_org()
    subscribe(platform, kit)
    monkeypatch.setenv("REGENTRA_STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("REGENTRA_STRIPE_MAX_NETWORK_RETRIES", "0")
    get_settings.cache_clear()
    with PageClient(platform.app.server) as page:
        page.login(kit.admin.email)
        shown = page.get("/billing")
        assert shown.status_code == 200
        assert 'id="billing-stripe-error"' in shown.text and "Could not reach Stripe" in shown.text
        assert 'data-status="active"' in shown.text  # what Regentra knows still shows
    body = billing_of(kit)
    assert body["status"] == "active" and body["invoices"] == []
    assert body["stripe_error"] and "Could not reach Stripe" in body["stripe_error"]


def test_one_checkout_at_a_time_so_no_org_pays_twice(platform: Platform) -> None:
    kit = platform.app.make_org()
    with kit.api() as api:
        first = api.post("/billing/checkout", json={"plan": "starter"})
        second = api.post("/billing/checkout", json={"plan": "pro"})
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    sessions = platform.raw("/v1/checkout/sessions")["data"]
    by_url = {s["url"]: s for s in sessions if s["url"]}
    assert first.json()["url"] not in by_url  # the first one was expired
    assert {s["status"] for s in sessions} == {"expired", "open"}
    card = {"card_number": "4242 4242 4242 4242", "exp": "12 / 34", "cvc": "123", "name": "O"}
    expired = httpx.post(first.json()["url"], data=card, follow_redirects=False, timeout=30)
    assert expired.status_code != 303  # nothing to pay there any more
    paid = httpx.post(second.json()["url"], data=card, follow_redirects=False, timeout=30)
    assert paid.status_code == 303, paid.text
    with kit.api() as api:  # paid, its webhook not here yet: no second Checkout
        refused = api.post("/billing/checkout", json={"plan": "starter"})
    assert refused.status_code == 409 and "being activated" in refused.text
    assert len(platform.raw("/v1/subscriptions")["data"]) == 1


@pytest.fixture
def clock_platform(stripe_app: StripeApp, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """Billing on against a Stripe sandbox of this test's own, whose clock it may advance
    (a renewal a month later) without moving the clock of the shared sandbox."""
    own = start_sandbox("--rate-limit", "0")
    try:
        key = f"sk_test_platform{uuid.uuid4().hex}"
        use_stripe(monkeypatch, own.url, stripe_max_rps="0", platform_stripe_secret_key=key)
        report = setup.set_up()
        assert report.webhook_secret
        monkeypatch.setenv("REGENTRA_PLATFORM_STRIPE_WEBHOOK_SECRET", report.webhook_secret)
        get_settings.cache_clear()
        app = StripeApp(stripe_app.server, own, stripe_app.database)
        yield Platform(app, key, report.webhook_secret)
    finally:
        stop_sandbox(own)


def test_a_failed_renewal_makes_the_org_past_due_paying_active_deleting_canceled(
    clock_platform: Platform,
) -> None:
    """Acceptance 2 with the sandbox's own events: the renewal a month later fails on a
    declining card (`invoice.payment_failed`, the subscription `past_due`), paying the open
    invoice makes it active, deleting the subscription cancels it and sending then answers
    409 with the reason."""
    platform = clock_platform
    billing = connect_billing(platform.app)
    kit = billing.kit
    subscription_id = subscribe(platform, kit)
    seen = {e["id"] for e in platform.events()}

    def deliver_new() -> list[str]:
        fresh = [e for e in platform.events() if e["id"] not in seen]
        for event in fresh:
            seen.add(event["id"])
            assert platform.deliver(event).status_code == 200
        return [e["type"] for e in fresh]

    platform.stripe.v1.subscriptions.update(
        subscription_id, params={"default_payment_method": "pm_card_chargeDeclined"}
    )
    with platform.app.sandbox.control(platform.key) as control:
        advanced = control.post("/_sandbox/clock/advance", data={"seconds": 32 * 86400})
        assert advanced.status_code == 200, advanced.text
    types = deliver_new()
    assert "invoice.payment_failed" in types and "customer.subscription.updated" in types
    body = billing_of(kit)
    assert body["status"] == "past_due" and body["subscription_status"] == "past_due"
    with PageClient(platform.app.server) as page:
        page.login(kit.admin.email)
        assert 'id="billing-alert"' in page.get("/").text

    (open_invoice,) = platform.stripe.v1.invoices.list(params={"status": "open"}).data
    platform.stripe.v1.invoices.pay(open_invoice.id, params={"payment_method": "pm_card_visa"})
    assert "invoice.paid" in deliver_new()
    assert billing_of(kit)["status"] == "active"

    platform.stripe.v1.subscriptions.cancel(subscription_id)
    assert "customer.subscription.deleted" in deliver_new()
    body = billing_of(kit)
    assert body["status"] == "canceled" and body["can_send_invoices"] is False
    draft = billing.invoice()
    with kit.api() as api:
        refused = api.post(f"/invoices/{draft['id']}/send")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "subscription_required"
    assert "canceled" in refused.json()["error"]["message"]
