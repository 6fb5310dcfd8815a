"""A declined card's reason, as Stripe gives it on the PaymentIntent (`last_payment_error`),
shown on the invoice page and in the list, through the app in-process against the sandbox:
the webhook request makes no Stripe call; a task run after commit reads the reason; a
later payment clears it."""

from __future__ import annotations

from collections.abc import Callable

from web.pages import PageClient

from integrations.conftest import Billing, StripeApp, connect_billing
from integrations.stripe.test_webhook_events import (
    body_of,
    deliver,
    events_of,
    invoice_state,
    pay,
    sent_invoice,
    sign,
    stop_deliveries,
    stored,
    stripe_requests,
    webhook_url,
)
from regentra.integrations.stripe import handlers

DECLINED = "Your card was declined. (generic decline)"


def _deliver_all(billing: Billing, stripe_invoice_id: str, type_: str) -> None:
    for event in events_of(billing, stripe_invoice_id, type_):
        body = body_of(event)
        r = deliver(billing.kit, webhook_url(billing), body, sign(body, billing.webhook_secret))
        assert r.status_code == 200, r.text


def _pages(billing: Billing, stripe_app: StripeApp, invoice_id: str) -> tuple[str, str]:
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        return page.get(f"/invoices/{invoice_id}").text, page.get("/invoices").text


def test_a_declined_card_shows_stripes_reason_on_the_invoice_and_the_list(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    billing = connect_billing(stripe_app)
    run_tasks()  # the first Save's catalog sync, as a worker would have run it
    invoice = sent_invoice(billing)
    sid = invoice["stripe_invoice_id"]
    stop_deliveries(billing)
    pay(billing, sid, "card_declined")
    (event,) = events_of(billing, sid, "invoice.payment_failed")
    assert "payment_intent" not in event["data"]["object"]  # current versions: not in the event
    body = body_of(event)

    before = stripe_requests(billing)
    r = deliver(billing.kit, webhook_url(billing), body, sign(body, billing.webhook_secret))
    assert r.status_code == 200, r.text
    assert stripe_requests(billing) == before  # the webhook request called no Stripe API
    (seen,) = stored(billing, event_id=event["id"])
    assert seen.processed_at is None and seen.outcome.startswith(handlers.PENDING)
    assert invoice_state(billing, invoice["id"])["payment_failure"] is None

    assert run_tasks() == [handlers.PAYMENT_FAILURE_TASK]
    assert stripe_requests(billing) > before  # the task asked Stripe
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "sent"
    assert state["payment_failure"] == DECLINED and state["payment_failed_at"] is not None
    (seen,) = stored(billing, event_id=event["id"])
    assert seen.processed_at is not None and DECLINED in (seen.outcome or "")
    with billing.kit.api() as api:
        listed = api.get("/invoices").json()["items"]
    assert [i["payment_failure"] for i in listed if i["id"] == invoice["id"]] == [DECLINED]
    detail, listing = _pages(billing, stripe_app, invoice["id"])
    assert 'id="payment-failure"' in detail and DECLINED in detail
    assert f"payment failed: {DECLINED}" in listing

    # The client then pays with a good card: the reason goes.
    pay(billing, sid, "card")
    _deliver_all(billing, sid, "invoice.paid")
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "paid"
    assert state["payment_failure"] is None and state["payment_failed_at"] is None
    detail, listing = _pages(billing, stripe_app, invoice["id"])
    assert 'id="payment-failure"' not in detail and DECLINED not in listing
