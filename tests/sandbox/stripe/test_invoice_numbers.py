"""The invoice `number` parameter through the real SDK: a given number is kept at
finalization and shown on the hosted page and PDF; numbers are unique across the account."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe


def _customer(client: stripe.StripeClient, name: str = "Contoso") -> stripe.Customer:
    return client.v1.customers.create(params={"name": name, "email": "ap@contoso.example"})


def _draft(client: stripe.StripeClient, customer: str, **params: Any) -> stripe.Invoice:
    return client.v1.invoices.create(
        params={
            "customer": customer,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            **params,
        }
    )


def _item(client: stripe.StripeClient, customer: str, invoice: str, amount: int = 5000) -> None:
    client.v1.invoice_items.create(
        params={"customer": customer, "invoice": invoice, "amount": amount, "currency": "usd"}
    )


def test_a_given_number_is_kept_at_finalization_and_shown(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    draft = _draft(client, customer.id, number="INV-000042")
    assert draft.number == "INV-000042" and draft.status == "draft"
    _item(client, customer.id, draft.id)
    sent = client.v1.invoices.send_invoice(draft.id)
    assert sent.status == "open" and sent.number == "INV-000042"
    page = httpx.get(sent.hosted_invoice_url)
    assert page.status_code == 200 and "Invoice INV-000042" in page.text
    pdf = httpx.get(sent.hosted_invoice_url + "/pdf")
    assert pdf.status_code == 200 and b"INV-000042" in pdf.content
    # Without a number, finalizing assigns one.
    other = _draft(client, customer.id)
    _item(client, customer.id, other.id)
    assigned = client.v1.invoices.finalize_invoice(other.id)
    assert assigned.number and assigned.number != "INV-000042"


def test_a_number_in_use_is_refused_on_create_and_update(client: stripe.StripeClient) -> None:
    first, second = _customer(client, "A"), _customer(client, "B")
    taken = _draft(client, first.id, number="INV-000007")
    # Another customer's invoice cannot carry it either: unique across the account.
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _draft(client, second.id, number="INV-000007")
    assert refused.value.http_status == 400 and refused.value.param == "number"
    assert "INV-000007" in str(refused.value.user_message) and taken.id in str(
        refused.value.user_message
    )
    other = _draft(client, second.id)
    with pytest.raises(stripe.InvalidRequestError) as updated:
        client.v1.invoices.update(other.id, {"number": "INV-000007"})
    assert updated.value.param == "number"
    assert client.v1.invoices.retrieve(other.id).number is None
    # Its own number again is no conflict; a free one is taken; "" clears it.
    assert client.v1.invoices.update(taken.id, {"number": "INV-000007"}).number == "INV-000007"
    assert client.v1.invoices.update(other.id, {"number": "INV-000008"}).number == "INV-000008"
    assert client.v1.invoices.update(other.id, {"number": ""}).number is None
    # A deleted draft frees its number.
    client.v1.invoices.delete(taken.id)
    assert _draft(client, second.id, number="INV-000007").number == "INV-000007"


def test_the_number_cannot_change_once_finalized(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    draft = _draft(client, customer.id, number="INV-000100")
    _item(client, customer.id, draft.id)
    client.v1.invoices.finalize_invoice(draft.id)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoices.update(draft.id, {"number": "INV-000101"})
    assert refused.value.code == "invoice_not_editable"
    assert client.v1.invoices.retrieve(draft.id).number == "INV-000100"
