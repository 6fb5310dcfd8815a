"""Paying invoices like a client would (control API and the module interface): cards,
declines, ACH settling, fees, PaymentIntents, Charges, BalanceTransactions, object shapes."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
import stripe

from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources import billing, invoice_items, payment_methods, payments
from regentra.sandbox.stripe.state import Sandbox
from sandbox.stripe.shapes import assert_shape


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def card_fee(amount: int) -> int:
    return _half_up(Decimal(amount) * Decimal("0.029")) + 30


def ach_fee(amount: int) -> int:
    return min(_half_up(Decimal(amount) * Decimal("0.008")), 500)


def _open_invoice(client: stripe.StripeClient, amount: int, **params: Any) -> stripe.Invoice:
    customer = client.v1.customers.create(params={"name": "Contoso", "email": "ap@c.example"})
    invoice = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 14,
            **params,
        }
    )
    client.v1.invoice_items.create(
        params={"customer": customer.id, "invoice": invoice.id, "amount": amount, "currency": "usd"}
    )
    return client.v1.invoices.finalize_invoice(invoice.id)


def _control(stripe_sandbox: Any, sk: str, invoice_id: str, action: str, **form: str) -> Any:
    with stripe_sandbox.control(sk) as http:
        return http.post(f"/_sandbox/invoices/{invoice_id}/{action}", data=form)


def _intent_of(client: stripe.StripeClient, invoice_id: str) -> stripe.PaymentIntent:
    invoice = client.v1.invoices.retrieve(invoice_id, params={"expand": ["payments"]})
    (payment,) = invoice.payments.data
    return client.v1.payment_intents.retrieve(
        payment.payment.payment_intent, params={"expand": ["latest_charge.balance_transaction"]}
    )


def _types(client: stripe.StripeClient) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]


def test_fee_arithmetic() -> None:
    assert payments.card_fee(500) == 45  # 14.5¢ rounds half up
    assert payments.card_fee(10000) == 320
    assert payments.card_fee(1) == 30
    assert payments.ach_fee(10000) == 80
    assert payments.ach_fee(62500) == 500  # exactly at the cap
    assert payments.ach_fee(250000) == 500
    for amount in (1, 99, 500, 1234, 15748, 99999):
        assert payments.card_fee(amount) == card_fee(amount)
        assert payments.ach_fee(amount) == ach_fee(amount)


def test_card_payment(stripe_sandbox: Any, sk: str, client: stripe.StripeClient) -> None:
    invoice = _open_invoice(client, 15748)
    response = _control(stripe_sandbox, sk, invoice.id, "pay", method="card")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "paid" and body["payments"]["data"][0]["status"] == "paid"

    paid = client.v1.invoices.retrieve(invoice.id, params={"expand": ["payments"]})
    assert paid.status == "paid"
    assert paid.amount_paid == 15748 and paid.amount_remaining == 0
    assert paid.status_transitions.paid_at is not None
    (payment,) = paid.payments.data
    assert payment.id.startswith("inpay_") and payment.status == "paid"
    assert payment.amount_paid == payment.amount_requested == 15748
    assert payment.payment.type == "payment_intent" and payment.is_default is True
    assert payment.status_transitions.paid_at is not None

    intent = client.v1.payment_intents.retrieve(
        payment.payment.payment_intent, params={"expand": ["latest_charge.balance_transaction"]}
    )
    assert intent.id.startswith("pi_") and intent.status == "succeeded"
    assert intent.amount == intent.amount_received == 15748
    charge = intent.latest_charge
    assert charge.id.startswith("ch_") and charge.status == "succeeded" and charge.paid
    assert charge.payment_method_details.card.last4 == "4242"
    txn = charge.balance_transaction
    assert txn.id.startswith("txn_")
    assert txn.amount == 15748 and txn.fee == card_fee(15748) == 487
    assert txn.net == 15748 - 487 and txn.status in ("pending", "available")
    assert [(f.type, f.amount) for f in txn.fee_details] == [("stripe_fee", 487)]
    assert txn.source == charge.id

    # Six levels is past Stripe's four: the fee takes two calls (FACTS.md).
    too_deep = "payments.data.payment.payment_intent.latest_charge.balance_transaction"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoices.retrieve(invoice.id, params={"expand": [too_deep]})
    assert refused.value.code == "property_expansion_max_depth"
    deep = client.v1.invoices.retrieve(
        invoice.id, params={"expand": ["payments.data.payment.payment_intent"]}
    )
    assert deep.payments.data[0].payment.payment_intent.latest_charge == charge.id
    assert client.v1.invoice_payments.retrieve(payment.id).invoice == invoice.id
    listed = client.v1.invoice_payments.list(params={"invoice": invoice.id, "status": "paid"})
    assert [p.id for p in listed.data] == [payment.id]
    by_intent = client.v1.invoice_payments.list(
        params={"payment": {"type": "payment_intent", "payment_intent": intent.id}}
    )
    assert [p.id for p in by_intent.data] == [payment.id]

    types = _types(client)
    wanted = [
        "payment_intent.succeeded",
        "charge.succeeded",
        "invoice.payment_succeeded",
        "invoice.paid",
        "invoice_payment.paid",
    ]
    assert [t for t in types if t in wanted] == wanted
    again = _control(stripe_sandbox, sk, invoice.id, "pay", method="card")
    assert again.status_code == 400


def test_declined_card_then_success(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    invoice = _open_invoice(client, 2000)
    response = _control(stripe_sandbox, sk, invoice.id, "pay", method="card_declined")
    assert response.status_code == 200 and response.json()["status"] == "open"
    intent = _intent_of(client, invoice.id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "card_declined"
    assert intent.last_payment_error.decline_code == "generic_decline"
    assert intent.latest_charge.status == "failed" and intent.latest_charge.paid is False
    assert intent.latest_charge.failure_code == "card_declined"
    assert intent.latest_charge.balance_transaction is None
    still = client.v1.invoices.retrieve(invoice.id)
    assert still.status == "open" and still.amount_paid == 0 and still.attempt_count == 1
    failures = [t for t in _types(client) if t.endswith("failed")]
    assert failures == ["charge.failed", "payment_intent.payment_failed", "invoice.payment_failed"]

    assert _control(stripe_sandbox, sk, invoice.id, "pay", method="card").status_code == 200
    retried = _intent_of(client, invoice.id)  # the same PaymentIntent, now succeeded
    assert retried.id == intent.id and retried.status == "succeeded"
    assert retried.latest_charge.id != intent.latest_charge.id
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    charges = client.v1.charges.list(params={"payment_intent": intent.id})
    assert [c.status for c in charges.data] == ["succeeded", "failed"]


@pytest.mark.parametrize("amount", [10000, 100000])  # 0.8% = $0.80; 0.8% = $8 → capped at $5
def test_ach_settles(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient, amount: int
) -> None:
    invoice = _open_invoice(client, amount)
    response = _control(stripe_sandbox, sk, invoice.id, "pay", method="ach")
    assert response.status_code == 200 and response.json()["status"] == "open"
    intent = _intent_of(client, invoice.id)
    assert intent.status == "processing"
    assert intent.latest_charge.status == "pending"
    assert intent.latest_charge.payment_method_details.type == "us_bank_account"
    still = client.v1.invoices.retrieve(invoice.id)
    assert still.status == "open" and still.amount_paid == 0
    assert "payment_intent.processing" in _types(client)
    assert "invoice.paid" not in _types(client)
    # A second payment while one is processing, or voiding, is refused.
    assert _control(stripe_sandbox, sk, invoice.id, "pay", method="card").status_code == 400
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(invoice.id)

    settled = _control(stripe_sandbox, sk, invoice.id, "settle", outcome="succeeded")
    assert settled.status_code == 200 and settled.json()["status"] == "paid"
    done = _intent_of(client, invoice.id)
    assert done.status == "succeeded"
    txn = done.latest_charge.balance_transaction
    assert txn.fee == ach_fee(amount) == (80 if amount == 10000 else 500)
    assert txn.net == amount - txn.fee
    types = _types(client)
    wanted = ["payment_intent.succeeded", "charge.succeeded", "invoice.payment_succeeded"]
    wanted += ["invoice.paid"]
    assert [t for t in types if t in wanted] == wanted
    assert (
        _control(stripe_sandbox, sk, invoice.id, "settle", outcome="succeeded").status_code == 400
    )


def test_ach_fails(stripe_sandbox: Any, sk: str, client: stripe.StripeClient) -> None:
    invoice = _open_invoice(client, 5000)
    assert _control(stripe_sandbox, sk, invoice.id, "settle").status_code == 400  # nothing yet
    _control(stripe_sandbox, sk, invoice.id, "pay", method="ach")
    failed = _control(stripe_sandbox, sk, invoice.id, "settle", outcome="failed")
    assert failed.status_code == 200 and failed.json()["status"] == "open"
    intent = _intent_of(client, invoice.id)
    assert intent.status == "requires_payment_method"
    assert intent.latest_charge.status == "failed"
    assert intent.latest_charge.failure_code == "insufficient_funds"
    types = _types(client)
    assert "payment_intent.payment_failed" in types and "invoice.payment_failed" in types
    assert "invoice.paid" not in types
    assert client.v1.invoices.retrieve(invoice.id).status == "open"


def test_control_api_checks(stripe_sandbox: Any, sk: str, client: stripe.StripeClient) -> None:
    invoice = _open_invoice(client, 100, payment_settings={"payment_method_types": ["card"]})
    assert _control(stripe_sandbox, sk, invoice.id, "pay", method="cash").status_code == 400
    ach = _control(stripe_sandbox, sk, invoice.id, "pay", method="ach")
    assert ach.status_code == 400  # not accepted by this invoice
    assert _control(stripe_sandbox, sk, "in_missing", "pay").status_code == 404
    other = "sk_test_" + "z" * 30
    assert _control(stripe_sandbox, other, invoice.id, "pay").status_code == 404
    anonymous = httpx.post(f"{stripe_sandbox.url}/_sandbox/invoices/{invoice.id}/pay")
    assert anonymous.status_code == 401


def test_charges_and_balance_transactions(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    first = _open_invoice(client, 1000)
    second = _open_invoice(client, 3000)
    _control(stripe_sandbox, sk, first.id, "pay", method="card")
    _control(stripe_sandbox, sk, second.id, "pay", method="card")
    charges = client.v1.charges.list()
    assert [c.amount for c in charges.data] == [3000, 1000]
    one = charges.data[1]
    assert client.v1.charges.retrieve(one.id).amount == 1000
    mine = client.v1.charges.list(params={"customer": one.customer})
    assert [c.id for c in mine.data] == [one.id]
    page = client.v1.charges.list(params={"limit": 1})
    assert page.has_more and len(page.data) == 1
    txns = client.v1.balance_transactions.list()
    assert [t.amount for t in txns.data] == [3000, 1000]
    assert [t.fee for t in txns.data] == [card_fee(3000), card_fee(1000)]
    by_source = client.v1.balance_transactions.list(params={"source": one.id})
    assert [t.source for t in by_source.data] == [one.id]
    txn = client.v1.balance_transactions.retrieve(one.balance_transaction)
    assert txn.net == 1000 - card_fee(1000)
    intents = client.v1.payment_intents.list(params={"customer": one.customer})
    assert [i.id for i in intents.data] == [one.payment_intent]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.charges.retrieve("ch_missing")


def test_object_shapes(stripe_sandbox: Any, sk: str, client: stripe.StripeClient) -> None:
    """Every object type returned here has the SDK's declared fields (see shapes.py)."""
    product = client.v1.products.create(params={"name": "Shape"})
    price = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 100, "currency": "usd"}
    )
    customer = client.v1.customers.create(params={"name": "Shape"})
    draft = client.v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice", "due_date": 2**31}
    )
    assert_shape(draft, stripe.Invoice)
    item = client.v1.invoice_items.create(
        params={"customer": customer.id, "invoice": draft.id, "pricing": {"price": price.id}}
    )
    assert_shape(item, stripe.InvoiceItem)
    pending = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 5, "currency": "usd"}
    )
    assert_shape(pending, stripe.InvoiceItem)
    lines = client.v1.invoices.line_items.list(draft.id)
    assert_shape(lines.data[0], stripe.InvoiceLineItem)
    _control(stripe_sandbox, sk, draft.id, "pay", method="card_declined")
    declined = _intent_of(client, draft.id)
    assert_shape(client.v1.payment_intents.retrieve(declined.id), stripe.PaymentIntent)
    assert_shape(client.v1.charges.retrieve(declined.latest_charge.id), stripe.Charge)
    _control(stripe_sandbox, sk, draft.id, "pay", method="card")
    invoice = client.v1.invoices.retrieve(draft.id)
    assert_shape(invoice, stripe.Invoice)
    expanded = client.v1.invoices.retrieve(draft.id, params={"expand": ["payments"]})
    assert_shape(expanded.payments.data[0], stripe.InvoicePayment)
    intent = _intent_of(client, draft.id)
    assert_shape(client.v1.payment_intents.retrieve(intent.id), stripe.PaymentIntent)
    charge = client.v1.charges.retrieve(intent.latest_charge.id)
    assert_shape(charge, stripe.Charge)
    assert_shape(
        client.v1.balance_transactions.retrieve(charge.balance_transaction),
        stripe.BalanceTransaction,
    )
    ach = _open_invoice(client, 700)
    _control(stripe_sandbox, sk, ach.id, "pay", method="ach")
    processing = _intent_of(client, ach.id)
    assert_shape(client.v1.payment_intents.retrieve(processing.id), stripe.PaymentIntent)
    assert_shape(client.v1.charges.retrieve(processing.latest_charge.id), stripe.Charge)
    voided = _open_invoice(client, 300)
    assert_shape(client.v1.invoices.void_invoice(voided.id), stripe.Invoice)


# ---- the module interface other parts of the sandbox use (in-process) ---------------------
def _in_process_invoice(
    sandbox: Sandbox, collection_method: str = "charge_automatically"
) -> tuple[Any, dict[str, Any]]:
    account = sandbox.account("sk_test_" + "a" * 24)
    customer = sandbox.add(account, {"object": "customer", "created": 0, "email": None})
    params: dict[str, Any] = {"customer": customer["id"], "collection_method": collection_method}
    if collection_method == "send_invoice":
        params["days_until_due"] = 7
    invoice = billing.new_invoice(sandbox, account, params, billing_reason="subscription_cycle")
    invoice_items.add_line(sandbox, account, invoice, amount=12000, description="Plan")
    return account, invoice


def test_pay_invoice_interface_for_automatic_invoices() -> None:
    sandbox = Sandbox()
    account, invoice = _in_process_invoice(sandbox)
    intent = payments.pay_invoice(sandbox, account, invoice, method="card")  # draft → finalized
    assert intent["status"] == "succeeded" and intent["object"] == "payment_intent"
    assert invoice["status"] == "paid" and invoice["number"] and invoice["due_date"] is None
    types = [e["type"] for e in reversed(sandbox.all(account, "event"))]
    assert types == [
        "invoice.created",
        "invoice.finalized",
        "payment_intent.created",
        "payment_intent.succeeded",
        "charge.succeeded",
        "invoice.payment_succeeded",
        "invoice.paid",
        "invoice_payment.paid",
    ]
    with pytest.raises(StripeError):
        payments.pay_invoice(sandbox, account, invoice, method="card")


def test_pay_invoice_charges_a_stored_payment_method() -> None:
    sandbox = Sandbox()
    account, invoice = _in_process_invoice(sandbox)
    customer = account.objects[invoice["customer"]]
    card = payment_methods.new_card(sandbox, account, customer, last4="4444", brand="mastercard")
    with pytest.raises(StripeError) as info:
        payments.pay_invoice(sandbox, account, invoice, payment_method="pm_missing")
    assert info.value.status == 404 and info.value.param == "payment_method"
    with pytest.raises(StripeError) as info:
        payments.pay_invoice(sandbox, account, invoice, method="ach", payment_method=card["id"])
    assert info.value.param == "method" and invoice["status"] == "draft"
    intent = payments.pay_invoice(sandbox, account, invoice, payment_method=card["id"])
    assert intent["status"] == "succeeded" and intent["payment_method"] == card["id"]
    charge = account.objects[intent["latest_charge"]]
    assert charge["payment_method"] == card["id"]
    assert charge["payment_method_details"]["card"]["last4"] == "4444"
    assert len(sandbox.all(account, "payment_method")) == 1  # no new one-off card
    assert invoice["status"] == "paid"


def test_settle_invoice_interface() -> None:
    sandbox = Sandbox()
    account, invoice = _in_process_invoice(sandbox, "send_invoice")
    billing.finalize(sandbox, account, invoice, "http://sandbox.test")
    assert invoice["hosted_invoice_url"].startswith("http://sandbox.test/i/")
    declined = payments.pay_invoice(sandbox, account, invoice, method="card_declined")
    assert declined["status"] == "requires_payment_method"
    processing = payments.pay_invoice(sandbox, account, invoice, method="ach")
    assert processing["id"] == declined["id"] and processing["status"] == "processing"
    assert invoice["status"] == "open"
    settled = payments.settle_invoice(sandbox, account, invoice, outcome="succeeded")
    assert settled["status"] == "succeeded" and invoice["status"] == "paid"
    txn = account.objects[account.objects[settled["latest_charge"]]["balance_transaction"]]
    assert txn["fee"] == 96 and txn["status"] == "pending"
    sandbox.clock_offset += 5 * 86400
    payments.install(sandbox)
    for hook in sandbox.clock_hooks:
        hook(sandbox)
    assert txn["status"] == "available"
    with pytest.raises(StripeError):
        payments.settle_invoice(sandbox, account, invoice, outcome="failed")
