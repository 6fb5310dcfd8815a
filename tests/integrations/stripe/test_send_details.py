"""What the client reads on a sent invoice, through `/api/v1` against the Stripe sandbox:
Stripe's invoice carries our number (and a number Stripe already has is refused with a clear
409), the due date is the one Stripe computed, in the org's time zone, a customer's email
edited back and forth is applied every time, and the page says when Stripe sends no email."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
from sandbox.stripe.conftest import new_key
from web.pages import PageClient, flash

from integrations.conftest import Billing, StripeApp, connect_billing


def _send(billing: Billing, invoice_id: str) -> httpx.Response:
    with billing.kit.api() as api:
        response: httpx.Response = api.post(f"/invoices/{invoice_id}/send")
    return response


def _other_date_zone(now: datetime) -> str:
    """A time zone whose date differs from UTC's at `now` (and for a few hours after)."""
    if now.hour >= 10:
        return "Pacific/Kiritimati"  # UTC+14: already tomorrow
    return "Pacific/Pago_Pago"  # UTC-11: still yesterday


def test_the_stripe_invoice_number_equals_ours(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    draft = billing.invoice()
    response = _send(billing, draft["id"])
    assert response.status_code == 200, response.text
    sent = response.json()
    si = billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"])
    assert si.number == draft["number"] == sent["number"]
    # The hosted page and its PDF show the same number.
    page = httpx.get(sent["hosted_invoice_url"])
    assert f"Invoice {draft['number']}" in page.text
    assert draft["number"].encode() in httpx.get(sent["hosted_invoice_url"] + "/pdf").content


def test_a_number_stripe_already_has_is_refused_with_a_clear_message(
    stripe_app: StripeApp,
) -> None:
    """Two organizations billing through one Stripe account both start at INV-000001."""
    key = new_key()
    first = connect_billing(stripe_app, key=key)
    second = connect_billing(stripe_app, key=key)
    one = first.invoice()
    sent = _send(first, one["id"])
    assert sent.status_code == 200, sent.text
    other = second.invoice()
    assert other["number"] == one["number"]

    refused = _send(second, other["id"])
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "stripe_invoice_number_taken"
    assert f"Stripe refused invoice number {other['number']}" in error["message"]
    assert "already uses it" in error["message"] and "was not sent" in error["message"]
    with second.kit.api() as api:
        still = api.get(f"/invoices/{other['id']}").json()
    assert still["status"] == "draft" and still["sent_at"] is None
    # Stripe holds one invoice with that number: the first organization's.
    numbered = [
        i for i in first.stripe.v1.invoices.list({"limit": 100}).data if i.number == one["number"]
    ]
    assert [i.id for i in numbered] == [sent.json()["stripe_invoice_id"]]


def test_the_due_date_is_stripes_in_the_orgs_time_zone(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    zone = _other_date_zone(datetime.now(UTC))
    with billing.kit.api() as api:
        assert api.patch("/org", json={"timezone": zone}).status_code == 200
    # The Stripe account keeps its Dashboard in the same zone as the org.
    with billing.control() as control:
        assert control.post("/_sandbox/account", data={"timezone": zone}).status_code == 200
    draft = billing.invoice()
    response = _send(billing, draft["id"])
    assert response.status_code == 200, response.text
    sent = response.json()
    si = billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"])
    stripe_due = datetime.fromtimestamp(si.due_date, UTC)
    local = stripe_due.astimezone(ZoneInfo(zone)).date()
    assert local != stripe_due.date()  # the zone was picked so that the dates differ
    assert sent["due_date"] == local.isoformat()
    with billing.kit.api() as api:
        listed = api.get("/invoices").json()["items"]
    assert [i["due_date"] for i in listed if i["id"] == draft["id"]] == [local.isoformat()]
    # The client reads the same due date on Stripe's hosted page and PDF.
    shown = f"Due {local:%B} {local.day}, {local.year}"
    assert shown in httpx.get(sent["hosted_invoice_url"]).text
    assert shown.encode() in httpx.get(si.invoice_pdf).content


def test_a_customer_email_changed_back_and_forth_is_applied_every_time(
    stripe_app: StripeApp,
) -> None:
    """A → B → A → B within Stripe's 24 h key window: each change reaches Stripe (an older
    update's idempotency key is never replayed)."""
    billing = connect_billing(stripe_app)
    kit = billing.kit
    client = kit.client(hourly_rate=12000)
    ticket = kit.ticket(client)
    tech, approver = kit.add_user("technician"), kit.add_user("approver")
    customer_id = None
    for email in ("a@client.example.com", "b@client.example.com") * 2:
        with kit.api() as api:
            patched = api.patch(f"/clients/{client.id}", json={"billing_email": email})
            assert patched.status_code == 200, patched.text
        kit.entry(tech, ticket=ticket, minutes=60, status="approved", approver=approver)
        with kit.api() as api:
            draft = api.post("/invoices", json={"client_id": str(client.id)})
            assert draft.status_code == 201, draft.text
        sent = _send(billing, draft.json()["id"])
        assert sent.status_code == 200, sent.text
        si = billing.stripe.v1.invoices.retrieve(sent.json()["stripe_invoice_id"])
        customer_id = customer_id or si.customer
        assert si.customer == customer_id  # one Customer, kept up to date
        assert billing.stripe.v1.customers.retrieve(customer_id).email == email


def test_in_test_mode_the_page_says_stripe_sends_no_email(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    draft = billing.invoice()
    with PageClient(stripe_app.server) as page:
        page.login(billing.kit.admin.email)
        r = page.post(f"/invoices/{draft['id']}/send")
        kind, message = flash(page.follow(r).text) or ("", "")
    message = html.unescape(message)
    assert kind == "success" and f"Invoice {draft['number']} sent through Stripe" in message
    assert "test mode" in message and "sends no email" in message
    assert "The client got an email" not in message
    assert re.search(r"due \d{4}-\d{2}-\d{2}", message)
