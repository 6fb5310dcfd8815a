"""Fees as Stripe charges them: the balance transaction in the account's settlement currency,
with `exchange_rate` and `fee_details`, and the international card and currency conversion
surcharges, paying on the hosted invoice page with Stripe's international test cards."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import stripe

from sandbox.stripe.conftest import StripeSandbox, new_key


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _open(client: stripe.StripeClient, amount: int, currency: str) -> stripe.Invoice:
    customer = client.v1.customers.create(params={"name": "Contoso", "email": "ap@c.example"})
    draft = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "currency": currency,
        }
    )
    client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "invoice": draft.id,
            "amount": amount,
            "currency": currency,
        }
    )
    return client.v1.invoices.finalize_invoice(draft.id)


def _pay_on_page(client: stripe.StripeClient, invoice: stripe.Invoice, card: str) -> Any:
    """Pay on the hosted invoice page with `card`; the charge with its balance transaction."""
    paid = httpx.post(invoice.hosted_invoice_url + "/card", data={"card_number": card})
    assert paid.status_code == 200, paid.text
    found = client.v1.invoices.retrieve(invoice.id, params={"expand": ["payments"]})
    assert found.status == "paid"
    intent = client.v1.payment_intents.retrieve(
        found.payments.data[0].payment.payment_intent,
        params={"expand": ["latest_charge.balance_transaction"]},
    )
    return intent.latest_charge


def _set_country(sandbox: StripeSandbox, sk: str, country: str) -> None:
    with sandbox.control(sk) as control:
        assert control.post("/_sandbox/account", data={"country": country}).status_code == 200


def test_domestic_card_same_currency_has_no_exchange_rate(stripe_sandbox: StripeSandbox) -> None:
    client = stripe_sandbox.client(new_key())
    charge = _pay_on_page(client, _open(client, 10000, "usd"), "4242424242424242")
    txn = charge.balance_transaction
    assert (txn.amount, txn.currency, txn.exchange_rate) == (10000, "usd", None)
    assert txn.fee == 320 and txn.net == 9680  # 2.9% + 30¢
    (detail,) = txn.fee_details
    assert (detail.amount, detail.currency, detail.type) == (320, "usd", "stripe_fee")


def test_international_card_surcharge(stripe_sandbox: StripeSandbox) -> None:
    client = stripe_sandbox.client(new_key())
    charge = _pay_on_page(client, _open(client, 10000, "usd"), "4000 0082 6000 0000")
    assert charge.payment_method_details.card.country == "GB"
    assert charge.payment_method_details.card.last4 == "0000"
    txn = charge.balance_transaction
    assert txn.exchange_rate is None
    assert txn.fee == 470  # 2.9% + 1.5% international + 30¢
    assert txn.fee_details[0].amount == 470


def test_brazilian_card_on_the_hosted_page(stripe_sandbox: StripeSandbox) -> None:
    client = stripe_sandbox.client(new_key())
    charge = _pay_on_page(client, _open(client, 2000, "usd"), "4000000760000002")
    assert charge.payment_method_details.card.country == "BR"
    assert charge.balance_transaction.fee == _half_up(Decimal(2000) * Decimal("0.044")) + 30


def test_fee_in_settlement_currency_with_exchange_rate(stripe_sandbox: StripeSandbox) -> None:
    sk = new_key()
    _set_country(stripe_sandbox, sk, "GB")  # settles in GBP
    client = stripe_sandbox.client(sk)
    charge = _pay_on_page(client, _open(client, 10000, "usd"), "4000008260000000")  # a UK card
    assert (charge.amount, charge.currency) == (10000, "usd")  # the charge keeps its currency
    txn = charge.balance_transaction
    rate = Decimal("0.787402")  # 1.00 USD → GBP (1 / 1.27), the sandbox's fixed table
    settled = _half_up(Decimal("100.00") * rate * 100)
    assert txn.currency == "gbp" and txn.amount == settled == 7874
    assert Decimal(str(txn.exchange_rate)) == rate
    fee = _half_up(Decimal(settled) * Decimal("0.039")) + 30  # 2.9% + 1% conversion + 30
    assert txn.fee == fee and txn.net == settled - fee
    (detail,) = txn.fee_details
    assert (detail.amount, detail.currency, detail.type) == (fee, "gbp", "stripe_fee")


def test_conversion_and_international_surcharges_add_up(stripe_sandbox: StripeSandbox) -> None:
    client = stripe_sandbox.client(new_key())  # a US account settling in USD
    charge = _pay_on_page(client, _open(client, 5000, "eur"), "4000002760000016")  # German card
    assert charge.payment_method_details.card.country == "DE"
    txn = charge.balance_transaction
    assert txn.currency == "usd" and Decimal(str(txn.exchange_rate)) == Decimal("1.08")
    assert txn.amount == 5400
    assert txn.fee == _half_up(Decimal(5400) * Decimal("0.054")) + 30  # 2.9 + 1.5 + 1 %


def test_zero_decimal_conversion(stripe_sandbox: StripeSandbox) -> None:
    client = stripe_sandbox.client(new_key())
    charge = _pay_on_page(client, _open(client, 10000, "jpy"), "4242424242424242")
    txn = charge.balance_transaction
    # JPY 10,000 at 0.0067 = USD 67.00: JPY has no minor unit, USD has cents.
    assert (txn.amount, txn.currency) == (6700, "usd")


def test_unknown_card_number_still_refused(stripe_sandbox: StripeSandbox) -> None:
    client = stripe_sandbox.client(new_key())
    invoice = _open(client, 1000, "usd")
    refused = httpx.post(
        invoice.hosted_invoice_url + "/card", data={"card_number": "4000000000009999"}
    )
    assert refused.status_code == 400 and "invalid" in refused.text
