"""Long invoices through the real SDK: Stripe's 250 invoice items per invoice however an item
gets there, and the bulk line endpoints (`add_lines`, `update_lines`, `remove_lines`)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe


def _customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create(params={"name": "Contoso", "email": "ap@contoso.example"})


def _draft(client: stripe.StripeClient, customer: str, **params: Any) -> stripe.Invoice:
    return client.v1.invoices.create(
        params={
            "customer": customer,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            **params,
        }
    )


def _fill(client: stripe.StripeClient, invoice: str, count: int, amount: int = 100) -> None:
    """`count` lines of `amount` through add_lines, 50 at a time."""
    for start in range(0, count, 50):
        n = min(50, count - start)
        client.v1.invoices.add_lines(
            invoice,
            {"lines": [{"amount": amount, "description": f"line {start + i}"} for i in range(n)]},
        )


def _refused(exc: pytest.ExceptionInfo[stripe.InvalidRequestError]) -> dict[str, Any]:
    assert exc.value.http_status == 400
    error: dict[str, Any] = exc.value.json_body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    return error


# ---- 250 invoice items per invoice -----------------------------------------------------------


def test_the_251st_invoice_item_is_refused_however_it_is_attached(
    client: stripe.StripeClient,
) -> None:
    customer = _customer(client).id
    invoice = _draft(client, customer).id
    _fill(client, invoice, 250)
    assert client.v1.invoices.retrieve(invoice).total == 25000

    # invoiceitems.create with `invoice`: refused, and no pending item is left behind.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.create(
            {"customer": customer, "invoice": invoice, "amount": 100, "currency": "usd"}
        )
    error = _refused(exc)
    assert "at most 250" in error["message"] and error["param"] == "invoice"
    assert client.v1.invoice_items.list({"customer": customer, "pending": True}).data == []

    # add_lines: the whole call is refused, nothing of it is added.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.add_lines(invoice, {"lines": [{"amount": 1}]})
    assert "at most 250" in _refused(exc)["message"]

    # An unassigned item assigned through add_lines counts too.
    pending = client.v1.invoice_items.create(
        {"customer": customer, "amount": 100, "currency": "usd"}
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.add_lines(invoice, {"lines": [{"invoice_item": pending.id}]})
    assert "at most 250" in _refused(exc)["message"]
    assert client.v1.invoice_items.retrieve(pending.id).invoice is None

    after = client.v1.invoices.retrieve(invoice)
    assert after.total == 25000
    assert (
        len(list(client.v1.invoices.line_items.list(invoice, {"limit": 100}).auto_paging_iter()))
        == 250
    )


def test_add_lines_refuses_a_call_that_would_pass_250(client: stripe.StripeClient) -> None:
    customer = _customer(client).id
    invoice = _draft(client, customer).id
    _fill(client, invoice, 240)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _fill(client, invoice, 11)
    assert "240 invoice items" in _refused(exc)["message"]
    assert client.v1.invoices.retrieve(invoice).total == 24000
    _fill(client, invoice, 10)  # exactly 250 is fine
    assert client.v1.invoices.retrieve(invoice).total == 25000


def test_pulling_more_than_250_pending_items_into_a_new_invoice_is_refused(
    client: stripe.StripeClient,
) -> None:
    customer = _customer(client).id
    for _ in range(251):
        client.v1.invoice_items.create({"customer": customer, "amount": 100, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _draft(client, customer, pending_invoice_items_behavior="include")
    assert "at most 250" in _refused(exc)["message"]
    # No invoice was kept and every item is still pending.
    assert client.v1.invoices.list({"customer": customer}).data == []
    pending = client.v1.invoice_items.list({"customer": customer, "pending": True, "limit": 100})
    assert len(list(pending.auto_paging_iter())) == 251


def test_an_invoice_item_takes_amount_or_quantity_not_both(client: stripe.StripeClient) -> None:
    customer = _customer(client).id
    invoice = _draft(client, customer).id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.create(
            {
                "customer": customer,
                "invoice": invoice,
                "amount": 300,
                "quantity": 3,
                "currency": "usd",
            }
        )
    error = _refused(exc)
    assert error["param"] == "quantity" and "amount, quantity" in error["message"]
    assert client.v1.invoice_items.list({"customer": customer}).data == []
    # A quantity with a unit amount is how it is done.
    item = client.v1.invoice_items.create(
        {
            "customer": customer,
            "invoice": invoice,
            "quantity": 3,
            "unit_amount_decimal": "100",
            "currency": "usd",
        }
    )
    assert item.amount == 300 and item.quantity == 3


# ---- add_lines --------------------------------------------------------------------------------


def test_add_lines_creates_invoice_items_on_the_draft(client: stripe.StripeClient) -> None:
    customer = _customer(client).id
    product = client.v1.products.create({"name": "Backup licence"})
    price = client.v1.prices.create({"product": product.id, "unit_amount": 2500, "currency": "usd"})
    pending = client.v1.invoice_items.create(
        {"customer": customer, "amount": 700, "currency": "usd", "description": "Earlier"}
    )
    invoice = _draft(client, customer).id

    answer = client.v1.invoices.add_lines(
        invoice,
        {
            "lines": [
                {"amount": 7500, "description": "Onsite visit", "metadata": {"k": "v"}},
                {"pricing": {"price": price.id}, "quantity": 3},
                {"invoice_item": pending.id},
            ],
            "invoice_metadata": {"batch": "1"},
        },
    )
    assert isinstance(answer, stripe.Invoice) and answer.id == invoice
    assert answer.total == 7500 + 7500 + 700
    assert answer.metadata.to_dict() == {"batch": "1"}
    lines = client.v1.invoices.line_items.list(invoice).data
    assert [line.amount for line in lines] == [7500, 7500, 700]
    assert lines[0].description == "Onsite visit" and lines[0].metadata.to_dict() == {"k": "v"}
    assert lines[1].description == "Backup licence" and lines[1].quantity == 3
    # Each new line is an invoice item on the invoice (metadata included).
    items = client.v1.invoice_items.list({"invoice": invoice}).data
    assert len(items) == 3
    assert {i.metadata.to_dict().get("k") for i in items} == {"v", None}
    assert client.v1.invoice_items.retrieve(pending.id).invoice == invoice


def test_add_lines_refusals(client: stripe.StripeClient) -> None:
    customer = _customer(client).id
    invoice = _draft(client, customer).id
    cases: list[tuple[dict[str, Any], str]] = [
        ({"lines": [{"amount": 100, "quantity": 2}]}, "lines[0][quantity]"),
        ({"lines": [{"description": "no price"}]}, "lines[0][amount]"),
        (
            {"lines": [{"amount": 1}, {"amount": 1, "pricing": {"price": "price_x"}}]},
            "lines[1][amount]",
        ),
        ({"lines": [{"amount": 1, "currency": "usd"}]}, "lines[0][currency]"),  # not in the SDK
        ({"lines": [{"amount": 1}] * 51}, "lines"),
        ({"lines": [{"invoice_item": "ii_missing"}]}, "lines[0][invoice_item]"),
        # Typed by the SDK, not emulated: refused rather than ignored.
        ({"lines": [{"amount": 1, "discounts": [{"coupon": "c"}]}]}, "lines[0][discounts]"),
        ({"lines": [{"amount": 1, "tax_rates": ["txr_1"]}]}, "lines[0][tax_rates]"),
    ]
    for params, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.invoices.add_lines(invoice, params)
        assert exc.value.json_body["error"]["param"] == param, (params, exc.value)  # type: ignore[index]
    # All or nothing: a bad line refuses the lines before it too.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.add_lines(
            invoice, {"lines": [{"amount": 5}, {"amount": 5, "quantity": 2}]}
        )
    assert client.v1.invoices.retrieve(invoice).total == 0
    assert client.v1.invoice_items.list({"customer": customer}).data == []

    # Only drafts.
    client.v1.invoices.add_lines(invoice, {"lines": [{"amount": 100}]})
    client.v1.invoices.finalize_invoice(invoice)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.add_lines(invoice, {"lines": [{"amount": 100}]})
    assert _refused(exc)["code"] == "invoice_not_editable"


def test_add_lines_is_idempotent(client: stripe.StripeClient) -> None:
    customer = _customer(client).id
    invoice = _draft(client, customer).id
    params = {"lines": [{"amount": 100}, {"amount": 200}]}
    first = client.v1.invoices.add_lines(invoice, params, {"idempotency_key": "batch-1"})
    again = client.v1.invoices.add_lines(invoice, params, {"idempotency_key": "batch-1"})
    assert first.total == again.total == 300
    assert len(client.v1.invoices.line_items.list(invoice).data) == 2


# ---- update_lines and remove_lines -----------------------------------------------------------


def test_update_lines_changes_the_lines_and_their_invoice_items(
    client: stripe.StripeClient,
) -> None:
    customer = _customer(client).id
    invoice = _draft(client, customer).id
    client.v1.invoices.add_lines(
        invoice, {"lines": [{"amount": 100, "metadata": {"a": "1"}}, {"amount": 200}]}
    )
    first, second = client.v1.invoices.line_items.list(invoice).data
    answer = client.v1.invoices.update_lines(
        invoice,
        {
            "lines": [
                {"id": first.id, "amount": 150, "description": "Changed", "metadata": {"b": "2"}},
                {"id": second.id, "metadata": {"c": "3"}},
            ]
        },
    )
    assert answer.total == 350
    lines = client.v1.invoices.line_items.list(invoice).data
    assert lines[0].amount == 150 and lines[0].description == "Changed"
    assert lines[0].metadata.to_dict() == {"a": "1", "b": "2"}  # merged
    item = client.v1.invoice_items.retrieve(lines[0].parent.invoice_item_details.invoice_item)
    assert item.amount == 150 and item.description == "Changed"

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.update_lines(invoice, {"lines": [{"id": "il_missing", "amount": 1}]})
    assert exc.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.update_lines(
            invoice, {"lines": [{"id": first.id, "amount": 1, "quantity": 2}]}
        )
    assert _refused(exc)["param"] == "lines[0][quantity]"
    client.v1.invoices.finalize_invoice(invoice)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.update_lines(invoice, {"lines": [{"id": first.id, "amount": 1}]})
    assert _refused(exc)["code"] == "invoice_not_editable"


def test_remove_lines_deletes_or_unassigns(client: stripe.StripeClient) -> None:
    customer = _customer(client).id
    invoice = _draft(client, customer).id
    client.v1.invoices.add_lines(
        invoice, {"lines": [{"amount": 100}, {"amount": 200}, {"amount": 400}]}
    )
    one, two, three = client.v1.invoices.line_items.list(invoice).data

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.remove_lines(invoice, {"lines": [{"id": one.id, "behavior": "drop"}]})
    assert _refused(exc)["param"] == "lines[0][behavior]"

    answer = client.v1.invoices.remove_lines(
        invoice,
        {"lines": [{"id": one.id, "behavior": "delete"}, {"id": two.id, "behavior": "unassign"}]},
    )
    assert answer.total == 400
    assert [line.id for line in client.v1.invoices.line_items.list(invoice).data] == [three.id]
    deleted_item = one.parent.invoice_item_details.invoice_item
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.retrieve(deleted_item)
    assert exc.value.http_status == 404
    unassigned = client.v1.invoice_items.retrieve(two.parent.invoice_item_details.invoice_item)
    assert unassigned.invoice is None and unassigned.amount == 200  # pending again


def test_an_invoice_embeds_its_first_ten_lines_and_lists_them_all(
    client: stripe.StripeClient,
) -> None:
    customer = _customer(client).id
    invoice = _draft(client, customer).id
    added = client.v1.invoices.add_lines(
        invoice, {"lines": [{"amount": 100 + i, "description": f"line {i}"} for i in range(12)]}
    )
    for answer in (added, client.v1.invoices.retrieve(invoice)):
        assert [line.amount for line in answer.lines.data] == [100 + i for i in range(10)]
        assert answer.lines.has_more is True and answer.lines["total_count"] == 12
        assert answer.total == sum(100 + i for i in range(12))  # the invoice is all of them
    listed = client.v1.invoices.list({"customer": customer}).data
    assert len(listed[0].lines.data) == 10 and listed[0].lines.has_more is True
    # The lines endpoint pages through every line.
    every = client.v1.invoices.line_items.list(invoice, {"limit": 100})
    assert [line.amount for line in every.data] == [100 + i for i in range(12)]
    assert every.has_more is False
    # Events carry the invoice as the API answers it.
    finalized = client.v1.invoices.finalize_invoice(invoice)
    assert len(finalized.lines.data) == 10
    (event,) = client.v1.events.list({"type": "invoice.finalized"}).data
    assert event.data.object["id"] == invoice
    assert len(event.data.object["lines"]["data"]) == 10
    assert event.data.object["lines"]["total_count"] == 12
