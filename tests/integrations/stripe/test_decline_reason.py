"""A declined card's reason, as Stripe gives it on the PaymentIntent (`last_payment_error`),
shown on the invoice page and in the list, through the app in-process against the sandbox:
the webhook request makes no Stripe call; a task run after commit reads the reason; a
later payment clears it."""

from __future__ import annotations

import re
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


def _failed_count(billing: Billing, stripe_app: StripeApp) -> tuple[int, str]:
    """The admin dashboard's count of invoices with a failed payment, and the list its card
    links to (`/invoices?payment_failed=1`)."""
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        home = page.get("/").text
        card = re.search(
            r'href="(/invoices\?payment_failed=1)" id="count-payment-failed" data-count="(\d+)"',
            home,
        )
        assert card, "no failed-payments card on the admin dashboard"
        listing = page.get(card.group(1))
        assert listing.status_code == 200
        return int(card.group(2)), listing.text


def _row(listing: str, invoice_id: str) -> str:
    """The list's row of one invoice ("" when it is not listed)."""
    found = re.search(rf'<tr data-invoice-id="{invoice_id}".*?</tr>', listing, re.S)
    return found.group(0) if found else ""


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
    assert 'data-badge="payment-failed"' in detail
    row = _row(listing, invoice["id"])
    assert 'data-badge="payment-failed">payment failed</span>' in row and DECLINED in row
    # The dashboard counts it, and its card lists just the open invoices with a failure.
    other = sent_invoice(billing)  # sent, never declined: not counted, not listed
    count, failed_list = _failed_count(billing, stripe_app)
    assert count == 1
    assert _row(failed_list, invoice["id"]) and not _row(failed_list, other["id"])
    with billing.kit.api() as api:
        only = api.get("/invoices", params={"payment_failed": "true"}).json()["items"]
    assert [i["id"] for i in only] == [invoice["id"]]

    # The client then pays with a good card: the reason goes.
    pay(billing, sid, "card")
    _deliver_all(billing, sid, "invoice.paid")
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "paid"
    assert state["payment_failure"] is None and state["payment_failed_at"] is None
    detail, listing = _pages(billing, stripe_app, invoice["id"])
    assert 'id="payment-failure"' not in detail and DECLINED not in listing
    assert 'data-badge="payment-failed"' not in detail + listing
    count, failed_list = _failed_count(billing, stripe_app)
    assert count == 0 and not _row(failed_list, invoice["id"])
    assert 'id="no-invoices"' in failed_list
