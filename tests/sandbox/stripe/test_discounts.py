"""Coupons, a customer's discount and credit balance, through the real SDK: an invoice
inherits the customer's coupon unless `discounts` is given, and the customer's balance is
applied when the invoice finalizes (`starting_balance`, `amount_due`, `ending_balance`)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from sandbox.stripe.shapes import assert_shape


def _customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create(params={"name": "Contoso", "email": "ap@contoso.example"})


def _invoice(client: stripe.StripeClient, customer: str, amount: int, **params: Any) -> Any:
    invoice = client.v1.invoices.create(
        params={
            "customer": customer,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            **params,
        }
    )
    client.v1.invoice_items.create(
        params={"customer": customer, "invoice": invoice.id, "amount": amount, "currency": "usd"}
    )
    return client.v1.invoices.retrieve(invoice.id)


def _apply_coupon(sandbox: Any, key: str, customer: str, coupon: str) -> dict[str, Any]:
    """The Dashboard's "apply coupon" (no API parameter does it in 2026-10-28)."""
    with sandbox.control(key) as control:
        response = control.post(f"/_sandbox/customers/{customer}/discount", data={"coupon": coupon})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_coupons_are_checked(client: stripe.StripeClient) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": 25, "duration": "forever"})
    assert_shape(coupon, stripe.Coupon)
    assert (coupon.percent_off, coupon.duration, coupon.valid) == (25, "forever", True)
    assert client.v1.coupons.retrieve(coupon.id).id == coupon.id
    bad: list[dict[str, Any]] = [
        {"percent_off": 10, "amount_off": 100, "currency": "usd"},
        {"amount_off": 100},  # no currency
        {"percent_off": 120},
        {"percent_off": 10, "duration": "repeating"},  # no duration_in_months
        {"amount_off": 105, "currency": "kwd"},  # three-decimal: must end in 0
    ]
    for params in bad:
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.coupons.create(params=params)


def test_customers_take_no_coupon_in_this_api_version(client: stripe.StripeClient) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": 25})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.create(params={"email": "a@b.example", "coupon": coupon.id})  # type: ignore[typeddict-unknown-key]
    assert caught.value.code == "parameter_unknown"


def test_invoice_inherits_the_customers_coupon(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    customer = _customer(client)
    coupon = client.v1.coupons.create(params={"percent_off": 25, "duration": "forever"})
    applied = _apply_coupon(stripe_sandbox, sk, customer.id, coupon.id)
    assert applied["discount"]["source"] == {"coupon": coupon.id, "type": "coupon"}
    assert_shape(client.v1.customers.retrieve(customer.id), stripe.Customer)

    inherited = _invoice(client, customer.id, 10000)
    assert inherited.discounts == [applied["discount"]["id"]]
    assert (inherited.subtotal, inherited.total) == (10000, 7500)
    assert [(d.amount, d.discount) for d in inherited.total_discount_amounts] == [
        (2500, applied["discount"]["id"])
    ]
    done = client.v1.invoices.finalize_invoice(inherited.id)
    assert (done.total, done.amount_due) == (7500, 7500)

    # `discounts=""` avoids inheriting it.
    plain = _invoice(client, customer.id, 10000, discounts="")
    assert plain.discounts == [] and plain.total_discount_amounts == []
    assert (plain.subtotal, plain.total, plain.amount_due) == (10000, 10000, 10000)


def test_amount_off_and_once_coupons(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    customer = _customer(client)
    once = client.v1.coupons.create(
        params={"amount_off": 1500, "currency": "usd", "duration": "once"}
    )
    _apply_coupon(stripe_sandbox, sk, customer.id, once.id)
    first = _invoice(client, customer.id, 10000)
    assert first.total == 8500
    client.v1.invoices.finalize_invoice(first.id)
    # A `once` coupon is used up by the first invoice.
    assert client.v1.customers.retrieve(customer.id).discount is None
    assert _invoice(client, customer.id, 10000).total == 10000
    # An amount off never takes an invoice below zero; a coupon can be given explicitly.
    big = client.v1.coupons.create(params={"amount_off": 50000, "currency": "usd"})
    small = _invoice(client, customer.id, 10000, discounts=[{"coupon": big.id}])
    assert (small.total, small.amount_due) == (0, 0)
    with pytest.raises(stripe.InvalidRequestError):  # a coupon in another currency
        eur = client.v1.coupons.create(params={"amount_off": 100, "currency": "eur"})
        _invoice(client, customer.id, 10000, discounts=[{"coupon": eur.id}])
    deleted = client.v1.customers.create(params={"email": "x@y.example"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.delete_discount(deleted.id)
    assert caught.value.http_status == 404


def test_credit_balance_is_applied_at_finalization(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    credit = client.v1.customers.balance_transactions.create(
        customer.id, params={"amount": -2500, "currency": "usd", "description": "goodwill"}
    )
    assert_shape(credit, stripe.CustomerBalanceTransaction)
    assert (credit.type, credit.ending_balance) == ("adjustment", -2500)
    assert client.v1.customers.retrieve(customer.id).balance == -2500

    invoice = _invoice(client, customer.id, 10000)
    # A draft shows the current balance, and applies it only when finalized.
    assert (invoice.starting_balance, invoice.ending_balance, invoice.amount_due) == (
        -2500,
        None,
        10000,
    )
    done = client.v1.invoices.finalize_invoice(invoice.id)
    assert (done.total, done.amount_due, done.amount_remaining) == (10000, 7500, 7500)
    assert (done.starting_balance, done.ending_balance) == (-2500, 0)
    assert client.v1.customers.retrieve(customer.id).balance == 0
    txns = client.v1.customers.balance_transactions.list(customer.id).data
    assert [(t.type, t.amount) for t in txns] == [
        ("applied_to_invoice", 2500),
        ("adjustment", -2500),
    ]
    paid = client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
    assert (paid.status, paid.amount_paid) == ("paid", 7500)


def test_credit_larger_than_the_invoice_pays_it(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    client.v1.customers.balance_transactions.create(
        customer.id, params={"amount": -15000, "currency": "usd"}
    )
    done = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, 10000).id)
    assert (done.status, done.amount_due, done.ending_balance) == ("paid", 0, -5000)
    assert client.v1.customers.retrieve(customer.id).balance == -5000


def test_balance_amounts_follow_the_currency_rules(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.balance_transactions.create(
            customer.id, params={"amount": -150, "currency": "isk"}
        )
    assert caught.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.balance_transactions.create(
            customer.id, params={"amount": -100, "currency": "irr"}
        )
    assert caught.value.param == "currency"


def test_a_drafts_discounts_can_be_replaced(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient
) -> None:
    customer = _customer(client)
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "forever"})
    _apply_coupon(stripe_sandbox, sk, customer.id, coupon.id)
    invoice = _invoice(client, customer.id, 10000)
    assert invoice.total == 9000
    cleared = client.v1.invoices.update(invoice.id, params={"discounts": ""})
    assert (cleared.discounts, cleared.total) == ([], 10000)
    other = client.v1.coupons.create(params={"amount_off": 700, "currency": "usd"})
    again = client.v1.invoices.update(invoice.id, params={"discounts": [{"coupon": other.id}]})
    assert again.total == 9300
    client.v1.invoices.finalize_invoice(invoice.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.update(invoice.id, params={"discounts": ""})
    assert caught.value.code == "invoice_not_editable"


def test_updating_a_customers_balance_records_an_adjustment(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    client.v1.customers.balance_transactions.create(
        customer.id, params={"amount": -1000, "currency": "usd"}
    )
    updated = client.v1.customers.update(customer.id, params={"balance": -3000})
    assert (updated.balance, updated.currency) == (-3000, "usd")
    txns = client.v1.customers.balance_transactions.list(customer.id).data
    assert [(t.type, t.amount, t.ending_balance) for t in txns] == [
        ("adjustment", -2000, -3000),
        ("adjustment", -1000, -1000),
    ]
    done = client.v1.invoices.finalize_invoice(_invoice(client, customer.id, 10000).id)
    assert (done.amount_due, done.starting_balance) == (7000, -3000)
