"""`POST /v1/invoices/{id}/send` on an invoice that is already open, through the real SDK:
Stripe emails it again (an `invoice.sent` event each time); a repeated idempotency key
replays the first answer and sends nothing; a paid invoice can be sent (docs: "no reference
to the payment in the email"), a void or uncollectible one cannot."""

from __future__ import annotations

import pytest
import stripe


def _open_invoice(client: stripe.StripeClient) -> stripe.Invoice:
    customer = client.v1.customers.create(params={"name": "Contoso", "email": "ap@c.example"})
    draft = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    client.v1.invoice_items.create(
        params={"customer": customer.id, "invoice": draft.id, "amount": 5000, "currency": "usd"}
    )
    return client.v1.invoices.finalize_invoice(draft.id)


def _sent_events(client: stripe.StripeClient, invoice_id: str) -> int:
    events = client.v1.events.list(params={"limit": 100, "type": "invoice.sent"})
    return sum(1 for e in events.data if e.data.object.id == invoice_id)


def test_an_open_invoice_is_sent_again_on_each_request(client: stripe.StripeClient) -> None:
    invoice = _open_invoice(client)
    assert invoice.status == "open"
    first = client.v1.invoices.send_invoice(invoice.id, None, {"idempotency_key": "send-1"})
    assert first.status == "open" and _sent_events(client, invoice.id) == 1

    again = client.v1.invoices.send_invoice(invoice.id, None, {"idempotency_key": "resend-1"})
    assert again.status == "open" and again.id == invoice.id
    assert _sent_events(client, invoice.id) == 2  # emailed again

    # The first key again: Stripe replays its saved answer and sends no email.
    client.v1.invoices.send_invoice(invoice.id, None, {"idempotency_key": "send-1"})
    assert _sent_events(client, invoice.id) == 2

    client.v1.invoices.send_invoice(invoice.id, None, {"idempotency_key": "resend-2"})
    assert _sent_events(client, invoice.id) == 3


def test_paid_can_be_sent_void_and_uncollectible_cannot(client: stripe.StripeClient) -> None:
    paid = _open_invoice(client)
    client.v1.invoices.pay(paid.id, params={"paid_out_of_band": True})
    assert client.v1.invoices.send_invoice(paid.id).status == "paid"
    assert _sent_events(client, paid.id) == 1

    voided = _open_invoice(client)
    client.v1.invoices.void_invoice(voided.id)
    lost = _open_invoice(client)
    client.v1.invoices.mark_uncollectible(lost.id)
    for closed, status in ((voided, "void"), (lost, "uncollectible")):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.invoices.send_invoice(closed.id)
        assert info.value.http_status == 400 and status in info.value.user_message
        assert _sent_events(client, closed.id) == 0
