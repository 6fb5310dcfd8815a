"""The hosted invoice page, opened and paid as a client would (no API key)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import stripe

from sandbox.stripe.conftest import new_key


def _fee(amount: int) -> int:
    return int((Decimal(amount) * Decimal("0.029")).quantize(Decimal(1), ROUND_HALF_UP)) + 30


def _sent_invoice(client: stripe.StripeClient, **params: Any) -> stripe.Invoice:
    customer = client.v1.customers.create(
        params={"name": "Contoso <Ltd>", "email": "ap@contoso.example"}
    )
    product = client.v1.products.create(params={"name": "Managed endpoint"})
    price = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 4500, "currency": "usd"}
    )
    invoice = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            **params,
        }
    )
    client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "invoice": invoice.id,
            "pricing": {"price": price.id},
            "quantity": 25,
        }
    )
    client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "invoice": invoice.id,
            "amount": 12550,
            "currency": "usd",
            "description": "Onsite visit <script>alert(1)</script>",
        }
    )
    client.v1.invoices.finalize_invoice(invoice.id)
    return client.v1.invoices.send_invoice(invoice.id)


def test_acceptance_pay_by_card_on_the_hosted_page(client: stripe.StripeClient) -> None:
    """Acceptance 2: create → items → finalize → send → page renders → pay by card → paid,
    and the fee is 2.9% + 30¢ of the amount."""
    invoice = _sent_invoice(client)
    assert invoice.total == 25 * 4500 + 12550 == 125050
    url = invoice.hosted_invoice_url
    page = httpx.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert invoice.number in html
    assert "$1,250.50" in html
    assert "Managed endpoint" in html and "Open" in html
    assert "Pay by card" in html and "Pay by bank (ACH)" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Contoso &lt;Ltd&gt;" in html
    due = dt.datetime.fromtimestamp(invoice.due_date, dt.UTC)
    assert f"{due:%B} {due.day}, {due.year}" in html

    paid_page = httpx.post(url + "/card", data={"card_number": "4242 4242 4242 4242"})
    assert paid_page.status_code == 200
    assert "Payment successful" in paid_page.text and "Paid" in paid_page.text
    assert "Pay by card" not in paid_page.text

    paid = client.v1.invoices.retrieve(invoice.id, params={"expand": ["payments"]})
    assert paid.status == "paid" and paid.amount_paid == 125050
    (payment,) = paid.payments.data
    assert payment.status == "paid" and payment.payment.type == "payment_intent"
    intent = client.v1.payment_intents.retrieve(
        payment.payment.payment_intent, params={"expand": ["latest_charge.balance_transaction"]}
    )
    assert intent.latest_charge.balance_transaction.fee == _fee(125050) == 3656
    again = httpx.get(url)
    assert "Paid" in again.text and "Pay by card" not in again.text


def test_declined_and_invalid_cards(client: stripe.StripeClient) -> None:
    invoice = _sent_invoice(client)
    url = invoice.hosted_invoice_url
    declined = httpx.post(url + "/card", data={"card_number": "4000000000000002"})
    assert declined.status_code == 402
    assert "Your card was declined." in declined.text
    assert "Pay by card" in declined.text  # still open: try again
    invalid = httpx.post(url + "/card", data={"card_number": "1234 5678 9012 3456"})
    assert invalid.status_code == 400 and "Your card number is invalid" in invalid.text
    empty = httpx.post(url + "/card", data={})
    assert "Your card number is invalid" in empty.text
    still = client.v1.invoices.retrieve(invoice.id)
    assert still.status == "open" and still.attempt_count == 1
    assert "invoice.payment_failed" in [e.type for e in client.v1.events.list().data]


def test_pay_by_bank(stripe_sandbox: Any, sk: str, client: stripe.StripeClient) -> None:
    invoice = _sent_invoice(client)
    url = invoice.hosted_invoice_url
    submitted = httpx.post(url + "/ach")
    assert submitted.status_code == 200 and "processing" in submitted.text
    assert "Pay by card" not in submitted.text
    assert "processing" in httpx.get(url).text
    assert client.v1.invoices.retrieve(invoice.id).status == "open"
    with stripe_sandbox.control(sk) as http:
        http.post(f"/_sandbox/invoices/{invoice.id}/settle", data={"outcome": "succeeded"})
    assert "Paid" in httpx.get(url).text
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"


def test_page_respects_payment_method_types_and_states(client: stripe.StripeClient) -> None:
    card_only = _sent_invoice(client, payment_settings={"payment_method_types": ["card"]})
    html = httpx.get(card_only.hosted_invoice_url).text
    assert "Pay by card" in html and "Pay by bank" not in html
    refused = httpx.post(card_only.hosted_invoice_url + "/ach")
    assert refused.status_code == 400
    voided = client.v1.invoices.void_invoice(card_only.id)
    html = httpx.get(voided.hosted_invoice_url).text
    assert "voided" in html and "Pay by card" not in html


def test_unknown_links_and_pdf(stripe_sandbox: Any, client: stripe.StripeClient) -> None:
    invoice = _sent_invoice(client)
    acct, token = invoice.hosted_invoice_url.split("/i/", 1)[1].split("/")
    for path in (f"/i/{acct}/test_nope", f"/i/acct_nope/{token}", f"/i/{acct}/{token[:-1]}"):
        assert httpx.get(stripe_sandbox.url + path).status_code == 404
        assert httpx.post(stripe_sandbox.url + path + "/card").status_code == 404
    pdf = httpx.get(invoice.invoice_pdf)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-1.4") and invoice.number.encode() in pdf.content


def test_dates_are_shown_in_the_accounts_time_zone(stripe_sandbox: Any) -> None:
    """The hosted page and PDF show the due date in the account's Dashboard time zone (set
    with `POST /_sandbox/account`, read back in `settings.dashboard.timezone`)."""
    sk = new_key()
    client = stripe_sandbox.client(sk)
    # A zone whose date differs from UTC's right now (one of them always does).
    now = dt.datetime.now(dt.UTC)
    zone = next(
        name
        for name in ("Pacific/Kiritimati", "Pacific/Pago_Pago")
        if now.astimezone(ZoneInfo(name)).date() != now.date()
    )
    with stripe_sandbox.control(sk) as control:
        refused = control.post("/_sandbox/account", data={"timezone": "Mars/Olympus"})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "timezone"
        assert control.post("/_sandbox/account", data={"timezone": zone}).status_code == 200
    assert client.v1.accounts.retrieve_current().settings.dashboard.timezone == zone
    invoice = _sent_invoice(client, days_until_due=0)
    local = dt.datetime.fromtimestamp(invoice.due_date, ZoneInfo(zone)).date()
    assert local != dt.datetime.fromtimestamp(invoice.due_date, dt.UTC).date()
    shown = f"Due {local:%B} {local.day}, {local.year}"
    assert shown in httpx.get(invoice.hosted_invoice_url).text
    assert shown.encode() in httpx.get(invoice.invoice_pdf).content
