"""`POST /v1/invoices/{id}/pay` with `paid_out_of_band=true`, through the real SDK: an open
invoice becomes paid with no charge (no InvoicePayment, no PaymentIntent, no balance
transaction) and only `invoice.paid` is emitted; a repeated idempotency key replays the
answer; a draft, a paid or a void invoice is refused, and so is a payment to make named with
it."""

from __future__ import annotations

from typing import Any

import pytest
import stripe


def _open_invoice(client: stripe.StripeClient, *, finalize: bool = True) -> stripe.Invoice:
    customer = client.v1.customers.create(params={"name": "Contoso", "email": "ap@c.example"})
    draft = client.v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 30}
    )
    client.v1.invoice_items.create(
        params={"customer": customer.id, "invoice": draft.id, "amount": 5000, "currency": "usd"}
    )
    return client.v1.invoices.finalize_invoice(draft.id) if finalize else draft


def _types(client: stripe.StripeClient, invoice_id: str) -> list[str]:
    events = client.v1.events.list(params={"limit": 100})
    return [e.type for e in reversed(events.data) if e.data.object.id == invoice_id]


def _refused(client: stripe.StripeClient, invoice_id: str, **params: object) -> str:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoices.pay(invoice_id, params={"paid_out_of_band": True, **params})  # type: ignore[typeddict-item]
    assert info.value.http_status == 400
    return str(info.value.user_message)


def test_an_open_invoice_is_paid_with_no_charge_and_only_invoice_paid(
    client: stripe.StripeClient,
) -> None:
    invoice = _open_invoice(client)
    paid = client.v1.invoices.pay(
        invoice.id, params={"paid_out_of_band": True}, options={"idempotency_key": "oob-1"}
    )
    assert paid.status == "paid" and paid.amount_paid == 5000 and paid.amount_remaining == 0
    assert paid.status_transitions.paid_at is not None
    assert client.v1.invoice_payments.list(params={"invoice": invoice.id}).data == []
    assert client.v1.payment_intents.list(params={"limit": 100}).data == []
    assert client.v1.balance_transactions.list(params={"limit": 100}).data == []
    assert _types(client, invoice.id)[-1] == "invoice.paid"
    assert "invoice.payment_succeeded" not in _types(client, invoice.id)

    # The same key again: Stripe's saved answer, nothing new happens.
    again = client.v1.invoices.pay(
        invoice.id, params={"paid_out_of_band": True}, options={"idempotency_key": "oob-1"}
    )
    assert again.status == "paid" and _types(client, invoice.id).count("invoice.paid") == 1
    # Another key: the invoice is paid, and that is final.
    assert "already paid" in _refused(client, invoice.id)


def test_drafts_void_invoices_and_a_payment_to_make_are_refused(
    client: stripe.StripeClient,
) -> None:
    draft = _open_invoice(client, finalize=False)
    assert "This invoice is a draft" in _refused(client, draft.id)
    assert client.v1.invoices.retrieve(draft.id).status == "draft"  # not finalized either

    voided = _open_invoice(client)
    client.v1.invoices.void_invoice(voided.id)
    assert "voided" in _refused(client, voided.id)

    invoice = _open_invoice(client)
    for name, value in (("payment_method", "pm_card_visa"), ("source", "src_1"), ("mandate", "m")):
        assert f"You cannot pass `{name}`" in _refused(client, invoice.id, **{name: value})
    assert client.v1.invoices.retrieve(invoice.id).status == "open"
    # `paid_out_of_band=false` is an ordinary payment (here: no payment method on file).
    with pytest.raises(stripe.CardError):
        client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": False})


def test_an_invoice_with_a_bank_payment_processing_is_not_paid_out_of_band(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    invoice = _open_invoice(client)
    with stripe_sandbox.control(sk) as http:
        started = http.post(f"/_sandbox/invoices/{invoice.id}/pay", data={"method": "ach"})
    assert started.status_code == 200 and started.json()["status"] == "open"
    assert "payment that is processing" in _refused(client, invoice.id)
    assert client.v1.invoices.retrieve(invoice.id).status == "open"
