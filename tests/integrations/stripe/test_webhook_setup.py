"""Setting up the org's webhook: the setup text names the events to select and the snapshot
payload style; a thin (v2) event, signed with the org's secret, is refused with 400 and a
generic message, and its reason is on the Stripe card (in-process, against the sandbox)."""

from __future__ import annotations

import html
import time
import uuid

from web.pages import PageClient

from integrations.conftest import StripeApp, connect_billing
from integrations.stripe.test_webhook_events import (
    body_of,
    connection,
    deliver,
    invoice_state,
    sent_invoice,
    sign,
    stop_deliveries,
    stored,
    webhook_url,
)

EVENTS = [
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "payment_intent.processing",
    # Money after payment (issue 16): refunds, disputes, payouts.
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "payout.created",
    "payout.updated",
    "payout.paid",
    "payout.failed",
    "payout.canceled",
]


def test_the_setup_text_names_the_events_and_snapshot_payloads(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    assert connection(billing)["webhook_events"] == EVENTS
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        text = html.unescape(page.get("/integrations").text)
    steps = text[text.index('id="stripe-steps"') : text.index("</ol>")]
    for event in EVENTS:
        assert f"<code>{event}</code>" in steps
    assert "Snapshot" in steps and "Your account" in steps and "thin" in steps


def test_a_thin_event_is_refused_and_its_reason_is_on_the_card(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    invoice = sent_invoice(billing)
    stop_deliveries(billing)
    # A thin event as an event destination with the thin payload style sends it.
    thin = {
        "id": "evt_test_" + uuid.uuid4().hex[:24],
        "object": "v2.core.event",
        "type": "v1.invoice.paid",
        "livemode": False,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "context": None,
        "related_object": {
            "id": invoice["stripe_invoice_id"],
            "type": "invoice",
            "url": f"/v1/invoices/{invoice['stripe_invoice_id']}",
        },
        "reason": None,
    }
    body = body_of(thin)
    r = deliver(billing.kit, webhook_url(billing), body, sign(body, billing.webhook_secret))
    assert r.status_code == 400, r.text
    assert r.json() == {"error": {"code": "webhook_rejected", "message": "webhook rejected"}}
    assert stored(billing, event_id=thin["id"]) == []
    assert invoice_state(billing, invoice["id"])["status"] == "sent"

    rejection = connection(billing)["last_webhook_rejection"]
    assert rejection is not None and rejection["at"]
    assert "a thin event (v1.invoice.paid) arrived" in rejection["reason"]
    assert "Snapshot" in rejection["reason"]
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        card = html.unescape(page.get("/integrations").text)
    assert "a thin event (v1.invoice.paid) arrived" in card
