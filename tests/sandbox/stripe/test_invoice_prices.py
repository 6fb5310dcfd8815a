"""A Stripe price on an invoice item, through the real SDK: a one-time price carries a quantity
(`pricing[price]` + `quantity`, on `invoiceitems.create` and on `add_lines`), and a recurring
price is refused for either, with Stripe's wording, adding nothing."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

RECURRING_REFUSED = (
    "is set to `type=recurring` but this field only accepts prices with `type=one_time`"
)


def _setup(client: stripe.StripeClient) -> tuple[str, str, str, str]:
    """(customer, draft invoice, one-time price, monthly price), in USD."""
    customer = client.v1.customers.create({"name": "Contoso"}).id
    invoice = client.v1.invoices.create(
        {"customer": customer, "collection_method": "send_invoice", "days_until_due": 30}
    ).id
    product = client.v1.products.create({"name": "Managed endpoint"}).id
    once = client.v1.prices.create({"product": product, "unit_amount": 1200, "currency": "usd"})
    monthly = client.v1.prices.create(
        {
            "product": product,
            "unit_amount": 1000,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    return customer, invoice, once.id, monthly.id


def _refused(exc: pytest.ExceptionInfo[stripe.InvalidRequestError]) -> dict[str, Any]:
    assert exc.value.http_status == 400
    error: dict[str, Any] = exc.value.json_body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    return error


def test_a_one_time_price_carries_a_quantity(client: stripe.StripeClient) -> None:
    customer, invoice, once, _ = _setup(client)
    item = client.v1.invoice_items.create(
        {"customer": customer, "invoice": invoice, "pricing": {"price": once}, "quantity": 25}
    )
    assert (item.amount, item.quantity) == (30000, 25)
    assert item.pricing is not None and item.pricing.price_details is not None
    assert item.pricing.price_details.price == once
    client.v1.invoices.add_lines(
        invoice, {"lines": [{"pricing": {"price": once}, "quantity": 4, "description": "More"}]}
    )
    lines = client.v1.invoices.line_items.list(invoice).data
    assert sorted((line.quantity, line.amount) for line in lines) == [(4, 4800), (25, 30000)]
    assert all(line.pricing.price_details.price == once for line in lines)
    assert client.v1.invoices.retrieve(invoice).total == 34800


def test_a_recurring_price_cannot_back_an_invoice_item(client: stripe.StripeClient) -> None:
    customer, invoice, _, monthly = _setup(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.create(
            {"customer": customer, "invoice": invoice, "pricing": {"price": monthly}}
        )
    error = _refused(exc)
    assert error["param"] == "pricing[price]" and RECURRING_REFUSED in error["message"]

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.add_lines(
            invoice,
            {"lines": [{"amount": 500}, {"pricing": {"price": monthly}, "quantity": 2}]},
        )
    error = _refused(exc)
    assert error["param"] == "lines[1][pricing][price]" and RECURRING_REFUSED in error["message"]
    # Nothing was added, by either call.
    assert client.v1.invoice_items.list({"customer": customer}).data == []
    assert client.v1.invoices.retrieve(invoice).total == 0
