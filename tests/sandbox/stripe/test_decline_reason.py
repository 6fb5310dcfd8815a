"""A declined card leaves Stripe's reason on the PaymentIntent (`last_payment_error`), found
from the invoice through its InvoicePayment, as a product flow reads it (real SDK)."""

from __future__ import annotations

import pytest
import stripe


def test_a_declined_card_sets_last_payment_error_on_the_payment_intent(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create(params={"name": "Contoso"})
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 7}
    )
    client.v1.invoice_items.create(
        params={"customer": customer.id, "invoice": invoice.id, "amount": 4200, "currency": "usd"}
    )
    client.v1.invoices.finalize_invoice(invoice.id)
    with pytest.raises(stripe.CardError) as declined:
        client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_visa_chargeDeclined"})
    assert declined.value.code == "card_declined"

    # The invoice itself says nothing about the decline (no last_finalization_error) …
    still = client.v1.invoices.retrieve(invoice.id)
    assert still.status == "open" and still.last_finalization_error is None
    # … its InvoicePayment names the PaymentIntent, which carries the reason.
    (payment,) = client.v1.invoice_payments.list(params={"invoice": invoice.id}).data
    assert payment.payment.type == "payment_intent"
    intent = client.v1.payment_intents.retrieve(payment.payment.payment_intent)
    assert intent.status == "requires_payment_method"
    error = intent.last_payment_error
    assert error is not None
    assert error.type == "card_error"
    assert error.code == "card_declined" and error.decline_code == "generic_decline"
    assert error.message == "Your card was declined."
    assert error.payment_method.id.startswith("pm_") and error.payment_method.type == "card"
    assert error.payment_method.card.last4 == "0002"
