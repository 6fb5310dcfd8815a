"""Currencies as Stripe has them (docs.stripe.com/currencies), through the real SDK: only
supported currencies, ISK amounts divisible by 100, three-decimal amounts ending in 0, and an
invoice due less than the currency's minimum charge marked paid at finalization with the
amount carried to the customer's balance."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe


def _customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create(params={"name": "Contoso", "email": "ap@contoso.example"})


def _invoice(client: stripe.StripeClient, customer: str, currency: str = "usd") -> Any:
    return client.v1.invoices.create(
        params={
            "customer": customer,
            "currency": currency,
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )


def _item(client: stripe.StripeClient, invoice: Any, amount: int, currency: str = "usd") -> Any:
    return client.v1.invoice_items.create(
        params={
            "customer": invoice.customer,
            "invoice": invoice.id,
            "amount": amount,
            "currency": currency,
        }
    )


def _refused(call: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    assert caught.value.http_status == 400
    return caught.value


def test_only_currencies_stripe_supports(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    product = client.v1.products.create(params={"name": "Support"})
    # IRR is an ISO 4217 currency Stripe does not support.
    error = _refused(
        lambda: client.v1.invoice_items.create(
            params={"customer": customer.id, "amount": 1000, "currency": "irr"}
        )
    )
    assert error.param == "currency"
    assert error.user_message is not None
    assert error.user_message.startswith("Invalid currency: irr.")
    assert "usd" in error.user_message
    error = _refused(
        lambda: client.v1.prices.create(
            params={"product": product.id, "unit_amount": 1000, "currency": "xyz"}
        )
    )
    assert error.param == "currency"
    _refused(lambda: _invoice(client, customer.id, "irr"))
    # Lowercase or not, a supported one is fine.
    assert _invoice(client, customer.id, "EUR").currency == "eur"


def test_isk_amounts_are_divisible_by_100(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice = _invoice(client, customer.id, "isk")
    error = _refused(lambda: _item(client, invoice, 12345, "isk"))
    assert error.param == "amount" and error.code == "parameter_invalid_integer"
    assert "divisible by 100" in (error.user_message or "")
    product = client.v1.products.create(params={"name": "Hours"})
    error = _refused(
        lambda: client.v1.prices.create(
            params={"product": product.id, "unit_amount": 150, "currency": "isk"}
        )
    )
    assert error.param == "unit_amount"
    # 123 krónur is 12300 in the API.
    assert _item(client, invoice, 12300, "isk").amount == 12300
    price = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 1500, "currency": "isk"}
    )
    assert price.unit_amount == 1500
    assert client.v1.invoices.retrieve(invoice.id).total == 12300


def test_three_decimal_amounts_end_in_zero(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    product = client.v1.products.create(params={"name": "Hours"})
    for currency in ("bhd", "jod", "kwd", "omr", "tnd"):
        invoice = _invoice(client, customer.id, currency)
        error = _refused(lambda invoice=invoice, c=currency: _item(client, invoice, 5125, c))
        assert error.param == "amount" and "must end in 0" in (error.user_message or "")
        assert _item(client, invoice, 5120, currency).amount == 5120
    error = _refused(
        lambda: client.v1.prices.create(
            params={"product": product.id, "unit_amount": 1001, "currency": "kwd"}
        )
    )
    assert error.param == "unit_amount"
    # quantity x unit_amount_decimal that does not end in 0 is refused too.
    invoice = _invoice(client, customer.id, "kwd")
    _refused(
        lambda: client.v1.invoice_items.create(
            params={
                "customer": customer.id,
                "invoice": invoice.id,
                "currency": "kwd",
                "quantity": 3,
                "unit_amount_decimal": "1001",
            }
        )
    )


def test_zero_decimal_amounts_are_whole_units(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice = _invoice(client, customer.id, "jpy")
    _item(client, invoice, 1505, "jpy")  # ¥1,505: no rounding rule for zero-decimal
    done = client.v1.invoices.finalize_invoice(invoice.id)
    assert (done.status, done.total, done.amount_due) == ("open", 1505, 1505)


def test_invoice_below_minimum_charge_is_paid_and_carried_to_balance(
    client: stripe.StripeClient,
) -> None:
    customer = _customer(client)
    small = _invoice(client, customer.id)
    _item(client, small, 30)  # $0.30 < $0.50
    done = client.v1.invoices.finalize_invoice(small.id)
    assert done.status == "paid"
    assert (done.total, done.amount_due, done.amount_paid) == (30, 0, 0)
    assert (done.starting_balance, done.ending_balance) == (0, 30)
    again = client.v1.customers.retrieve(customer.id)
    assert (again.balance, again.currency) == (30, "usd")
    txns = client.v1.customers.balance_transactions.list(customer.id).data
    assert [(t.type, t.amount, t.invoice) for t in txns] == [("invoice_too_small", 30, small.id)]
    # The next invoice collects it.
    later = _invoice(client, customer.id)
    _item(client, later, 1000)
    assert client.v1.invoices.retrieve(later.id).starting_balance == 30
    done = client.v1.invoices.finalize_invoice(later.id)
    assert (done.status, done.total, done.amount_due) == ("open", 1000, 1030)
    assert (done.starting_balance, done.ending_balance) == (30, 0)
    assert client.v1.customers.retrieve(customer.id).balance == 0


def test_minimum_charge_is_per_currency(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    at_minimum = _invoice(client, customer.id, "gbp")
    _item(client, at_minimum, 30, "gbp")  # GBP's minimum is £0.30
    assert client.v1.invoices.finalize_invoice(at_minimum.id).status == "open"
    below = _invoice(client, customer.id, "gbp")
    _item(client, below, 29, "gbp")
    assert client.v1.invoices.finalize_invoice(below.id).status == "paid"
    usd = _invoice(client, customer.id, "usd")
    _item(client, usd, 49, "usd")
    assert client.v1.invoices.finalize_invoice(usd.id).status == "paid"


def test_an_invoice_over_the_maximum_charge_is_refused(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    for currency, largest in (("usd", 99_999_999), ("isk", 99_999_900), ("kwd", 99_999_990)):
        at_max = _invoice(client, customer.id, currency)
        _item(client, at_max, largest, currency)
        assert client.v1.invoices.finalize_invoice(at_max.id).status == "open"
        over = _invoice(client, customer.id, currency)
        _item(client, over, 60_000_000, currency)
        _item(client, over, 40_000_000, currency)
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.invoices.finalize_invoice(over.id)
        assert refused.value.code == "amount_too_large"
        assert client.v1.invoices.retrieve(over.id).status == "draft"


def test_the_hosted_page_reads_amounts_in_stripes_units(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    isk = _invoice(client, customer.id, "isk")
    _item(client, isk, 2250000, "isk")  # 22,500 kr
    page = httpx.get(client.v1.invoices.finalize_invoice(isk.id).hosted_invoice_url or "")
    assert "ISK22,500" in page.text.replace("\xa0", "") and "2,250,000" not in page.text
    kwd = _invoice(client, customer.id, "kwd")
    _item(client, kwd, 10290, "kwd")
    page = httpx.get(client.v1.invoices.finalize_invoice(kwd.id).hosted_invoice_url or "")
    assert "KWD10.290" in page.text.replace("\xa0", "")
