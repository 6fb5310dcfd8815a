"""Invoice items and invoices through the real SDK: lifecycle, lines, lists and filters,
illegal transitions, paying out of band, and the events they emit."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

DAY = 86400


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


def _item(client: stripe.StripeClient, customer: str, invoice: str | None, amount: int) -> Any:
    params: dict[str, Any] = {"customer": customer, "amount": amount, "currency": "usd"}
    if invoice:
        params["invoice"] = invoice
    return client.v1.invoice_items.create(params=params)


def _event_types(client: stripe.StripeClient, prefix: str = "") -> list[str]:
    """Event types of the account, oldest first (retried: events are another module)."""
    events = client.v1.events.list(params={"limit": 100})
    return [e.type for e in reversed(events.data) if e.type.startswith(prefix)]


def test_invoice_lifecycle(stripe_sandbox: Any, client: stripe.StripeClient) -> None:
    customer = _customer(client)
    product = client.v1.products.create(params={"name": "Managed endpoint"})
    price = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 1250, "currency": "usd"}
    )
    invoice = _draft(
        client,
        customer.id,
        description="March services",
        metadata={"org": "42"},
        payment_settings={"payment_method_types": ["card", "us_bank_account"]},
    )
    assert invoice.id.startswith("in_") and invoice.status == "draft"
    assert invoice.number is None and invoice.hosted_invoice_url is None
    assert invoice.auto_advance is False and invoice.total == 0
    assert invoice.payment_settings.payment_method_types == ["card", "us_bank_account"]

    labour = _item(client, customer.id, invoice.id, 10000)
    assert labour.id.startswith("ii_") and labour.invoice == invoice.id
    seats = client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "invoice": invoice.id,
            "pricing": {"price": price.id},
            "quantity": 3,
        }
    )
    assert seats.amount == 3750 and seats.description == "Managed endpoint"
    assert seats.pricing.price_details.price == price.id
    assert seats.pricing.unit_amount_decimal == 1250
    inline = client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "invoice": invoice.id,
            "price_data": {"currency": "usd", "product": product.id, "unit_amount": 999},
            "quantity": 2,
            "description": "Backup storage",
        }
    )
    assert inline.amount == 1998

    draft = client.v1.invoices.retrieve(invoice.id)
    assert draft.subtotal == draft.total == draft.amount_due == 15748
    assert draft.amount_remaining == 15748 and draft.amount_paid == 0
    assert [line.amount for line in draft.lines.data] == [10000, 3750, 1998]
    line = draft.lines.data[1]
    assert line.id.startswith("il_") and line.quantity == 3
    assert line.parent.invoice_item_details.invoice_item == seats.id
    assert line.pricing.price_details.price == price.id

    updated = client.v1.invoices.update(invoice.id, params={"description": "April services"})
    assert updated.description == "April services"

    before = int(time.time())
    final = client.v1.invoices.finalize_invoice(invoice.id)
    assert final.status == "open"
    assert final.number == f"{customer.invoice_prefix}-0001"
    assert final.hosted_invoice_url.startswith(stripe_sandbox.url + "/i/")
    assert final.invoice_pdf == final.hosted_invoice_url + "/pdf"
    finalized_at = final.status_transitions.finalized_at
    assert before - 2 <= finalized_at <= int(time.time()) + 2
    assert final.due_date == finalized_at + 30 * DAY
    assert final.effective_at == finalized_at

    sent = client.v1.invoices.send_invoice(invoice.id)
    assert sent.status == "open"
    second = _draft(client, customer.id)
    _item(client, customer.id, second.id, 500)
    assert client.v1.invoices.finalize_invoice(second.id).number.endswith("-0002")

    types = _event_types(client, "invoice")
    for expected in ("invoice.created", "invoice.finalized", "invoice.sent"):
        assert expected in types
    assert types.index("invoice.created") < types.index("invoice.finalized")
    assert types.index("invoice.finalized") < types.index("invoice.sent")
    assert types.count("invoiceitem.created") == 4


def test_invoice_items_pending_and_delete(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    other = client.v1.customers.create(params={"name": "Other"})
    pending = _item(client, customer.id, None, 700)
    eur = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 300, "currency": "eur"}
    )
    _item(client, other.id, None, 900)
    assert pending.invoice is None
    assert client.v1.invoice_items.retrieve(pending.id).amount == 700
    listed = client.v1.invoice_items.list(params={"customer": customer.id, "pending": True})
    assert [i.id for i in listed.data] == [eur.id, pending.id]

    excluded = client.v1.invoices.create(params={"customer": customer.id})
    assert excluded.lines.data == [] and excluded.total == 0  # default: exclude
    included = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    assert [line.amount for line in included.lines.data] == [700]  # same currency only
    assert client.v1.invoice_items.retrieve(pending.id).invoice == included.id
    on_invoice = client.v1.invoice_items.list(params={"invoice": included.id})
    assert [i.id for i in on_invoice.data] == [pending.id]
    still_pending = client.v1.invoice_items.list(params={"customer": customer.id, "pending": True})
    assert [i.id for i in still_pending.data] == [eur.id]

    extra = _item(client, customer.id, included.id, 50)
    assert client.v1.invoices.retrieve(included.id).total == 750
    deleted = client.v1.invoice_items.delete(extra.id)
    assert deleted.deleted is True and deleted.id == extra.id
    after = client.v1.invoices.retrieve(included.id)
    assert after.total == 700 and len(after.lines.data) == 1
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoice_items.retrieve(extra.id)
    assert info.value.http_status == 404

    client.v1.invoices.finalize_invoice(included.id)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoice_items.delete(pending.id)
    assert info.value.code == "invoice_not_editable"
    with pytest.raises(stripe.InvalidRequestError) as info:
        _item(client, customer.id, included.id, 100)  # a finalized invoice takes no items
    assert info.value.code == "invoice_not_editable"
    assert client.v1.invoice_items.delete(eur.id).deleted is True  # pending: deletable


def test_invoice_item_errors(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    product = client.v1.products.create(params={"name": "Plan"})
    monthly = client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 100,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": "usd"})
    cases: list[dict[str, Any]] = [
        {"amount": 100, "currency": "usd"},  # no customer
        {"customer": customer.id, "amount": 100},  # no currency
        {"customer": customer.id},  # no amount
        {"customer": customer.id, "pricing": {"price": monthly.id}},  # recurring price
        {"customer": customer.id, "invoice": invoice.id, "amount": 5, "currency": "eur"},
        {"customer": "cus_missing", "amount": 100, "currency": "usd"},
        {"customer": customer.id, "amount": 1, "currency": "usd", "price": monthly.id},
    ]
    for params in cases:
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.invoice_items.create(params=params)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoice_items.create(
            params={"customer": customer.id, "amount": 1, "currency": "usd", "price": "x"}
        )
    assert info.value.code == "parameter_unknown"


def test_lines_pagination(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice = _draft(client, customer.id)
    for amount in range(1, 13):
        _item(client, customer.id, invoice.id, amount * 100)
    first = client.v1.invoices.line_items.list(invoice.id, params={"limit": 5})
    assert [line.amount for line in first.data] == [100, 200, 300, 400, 500]
    assert first.has_more is True
    everything = list(client.v1.invoices.line_items.list(invoice.id).auto_paging_iter())
    assert [line.amount for line in everything] == [a * 100 for a in range(1, 13)]
    assert len({line.id for line in everything}) == 12
    back = client.v1.invoices.line_items.list(
        invoice.id, params={"ending_before": everything[5].id, "limit": 2}
    )
    assert [line.amount for line in back.data] == [400, 500]


def test_list_filters(client: stripe.StripeClient) -> None:
    a = _customer(client)
    b = client.v1.customers.create(params={"name": "Fabrikam"})
    a1 = _draft(client, a.id)
    _item(client, a.id, a1.id, 1000)
    client.v1.invoices.finalize_invoice(a1.id)
    a2 = client.v1.invoices.create(params={"customer": a.id})
    b1 = client.v1.invoices.create(params={"customer": b.id})
    everything = client.v1.invoices.list()
    assert [i.id for i in everything.data] == [b1.id, a2.id, a1.id]  # newest first
    assert [i.id for i in client.v1.invoices.list(params={"customer": a.id}).data] == [
        a2.id,
        a1.id,
    ]
    assert [i.id for i in client.v1.invoices.list(params={"status": "open"}).data] == [a1.id]
    drafts = client.v1.invoices.list(params={"status": "draft", "customer": b.id})
    assert [i.id for i in drafts.data] == [b1.id]
    sent = client.v1.invoices.list(params={"collection_method": "send_invoice"})
    assert [i.id for i in sent.data] == [a1.id]
    assert client.v1.invoices.list(params={"subscription": "sub_none"}).data == []
    created = a1.created
    assert len(client.v1.invoices.list(params={"created": {"gte": created}}).data) == 3
    assert client.v1.invoices.list(params={"created": {"lt": created}}).data == []
    assert len(client.v1.invoices.list(params={"created": {"lte": created + 60}}).data) == 3
    page = client.v1.invoices.list(params={"limit": 1, "starting_after": b1.id})
    assert [i.id for i in page.data] == [a2.id] and page.has_more is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.list(params={"limit": 101})


def test_illegal_transitions(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    draft = _draft(client, customer.id)
    _item(client, customer.id, draft.id, 2500)

    def refused(call: Any, *args: Any, **kwargs: Any) -> stripe.InvalidRequestError:
        with pytest.raises(stripe.InvalidRequestError) as info:
            call(*args, **kwargs)
        assert info.value.http_status == 400
        return info.value

    refused(client.v1.invoices.void_invoice, draft.id)
    refused(client.v1.invoices.mark_uncollectible, draft.id)
    refused(  # days_until_due needs send_invoice
        client.v1.invoices.create, params={"customer": customer.id, "days_until_due": 3}
    )
    refused(  # send_invoice needs days_until_due or due_date
        client.v1.invoices.create,
        params={"customer": customer.id, "collection_method": "send_invoice"},
    )
    refused(client.v1.invoices.create, params={"customer": customer.id, "colour": "red"})
    refused(client.v1.invoices.create, params={})

    client.v1.invoices.finalize_invoice(draft.id)
    error = refused(client.v1.invoices.finalize_invoice, draft.id)
    assert "already finalized" in error.user_message
    refused(client.v1.invoices.update, draft.id, params={"days_until_due": 5})
    refused(client.v1.invoices.delete, draft.id)
    kept = client.v1.invoices.update(draft.id, params={"metadata": {"po": "PO-7"}})
    assert kept.metadata.to_dict() == {"po": "PO-7"}

    auto = client.v1.invoices.create(params={"customer": customer.id})
    refused(client.v1.invoices.send_invoice, auto.id)  # charge_automatically

    voided = client.v1.invoices.void_invoice(draft.id)
    assert voided.status == "void" and voided.status_transitions.voided_at is not None
    refused(client.v1.invoices.void_invoice, draft.id)
    refused(client.v1.invoices.pay, draft.id, params={"paid_out_of_band": True})
    refused(client.v1.invoices.mark_uncollectible, draft.id)
    refused(client.v1.invoices.send_invoice, draft.id)

    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoices.retrieve("in_missing")
    assert info.value.http_status == 404 and info.value.code == "resource_missing"


def test_delete_draft_invoice(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    draft = _draft(client, customer.id)
    item = _item(client, customer.id, draft.id, 100)
    assert client.v1.invoices.delete(draft.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.retrieve(draft.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoice_items.retrieve(item.id)


def test_uncollectible_then_paid_out_of_band(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice = _draft(client, customer.id)
    _item(client, customer.id, invoice.id, 4200)
    client.v1.invoices.finalize_invoice(invoice.id)
    bad = client.v1.invoices.mark_uncollectible(invoice.id)
    assert bad.status == "uncollectible"
    assert bad.status_transitions.marked_uncollectible_at is not None
    paid = client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
    assert paid.status == "paid"
    assert paid.amount_paid == 4200 and paid.amount_remaining == 0
    assert paid.status_transitions.paid_at is not None
    expanded = client.v1.invoices.retrieve(invoice.id, params={"expand": ["payments"]})
    assert expanded.payments.data == []  # no charge was made
    assert client.v1.invoice_payments.list(params={"invoice": invoice.id}).data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
    types = _event_types(client, "invoice.")
    assert types[-2:] == ["invoice.marked_uncollectible", "invoice.paid"]
    assert "invoice.payment_succeeded" not in types


def test_pay_through_the_api(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice = _draft(client, customer.id)
    _item(client, customer.id, invoice.id, 5000)
    client.v1.invoices.finalize_invoice(invoice.id)
    with pytest.raises(stripe.CardError) as info:
        client.v1.invoices.pay(invoice.id)  # no payment method on file
    assert info.value.http_status == 402
    with pytest.raises(stripe.CardError) as info:
        client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_chargeDeclined"})
    assert info.value.code == "card_declined"
    declined = client.v1.invoices.retrieve(invoice.id)
    assert declined.status == "open" and declined.attempt_count == 1 and declined.attempted
    paid = client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "paid" and paid.amount_paid == 5000 and paid.attempt_count == 2
    payments = client.v1.invoice_payments.list(params={"invoice": invoice.id})
    assert [p.status for p in payments.data] == ["paid"]  # the declined attempt's, reused


def test_draft_is_finalized_when_paid_and_zero_invoices_are_paid(
    client: stripe.StripeClient,
) -> None:
    customer = _customer(client)
    invoice = client.v1.invoices.create(params={"customer": customer.id})
    _item(client, customer.id, invoice.id, 800)
    paid = client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "paid" and paid.number is not None
    assert paid.due_date is None  # charge_automatically
    empty = client.v1.invoices.create(params={"customer": customer.id})
    done = client.v1.invoices.finalize_invoice(empty.id)
    assert done.status == "paid" and done.amount_due == 0


def test_unauthenticated_and_isolated(stripe_sandbox: Any, client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice = client.v1.invoices.create(params={"customer": customer.id})
    other = stripe_sandbox.client()
    with pytest.raises(stripe.InvalidRequestError) as info:
        other.v1.invoices.retrieve(invoice.id)
    assert info.value.http_status == 404
    assert other.v1.invoices.list().data == []
    assert httpx.get(stripe_sandbox.url + f"/v1/invoices/{invoice.id}").status_code == 401


def test_update_draft(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice = client.v1.invoices.create(params={"customer": customer.id})
    assert invoice.collection_method == "charge_automatically" and invoice.due_date is None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.update(invoice.id, params={"days_until_due": 10})
    with pytest.raises(stripe.InvalidRequestError):  # send_invoice needs a due date
        client.v1.invoices.update(invoice.id, params={"collection_method": "send_invoice"})
    assert client.v1.invoices.retrieve(invoice.id).collection_method == "charge_automatically"
    sent = client.v1.invoices.update(
        invoice.id,
        params={
            "collection_method": "send_invoice",
            "days_until_due": 10,
            "payment_settings": {"payment_method_types": ["us_bank_account"]},
            "footer": "Thanks",
        },
    )
    assert sent.collection_method == "send_invoice" and sent.footer == "Thanks"
    assert sent.due_date is not None
    assert sent.payment_settings.payment_method_types == ["us_bank_account"]
    final = client.v1.invoices.finalize_invoice(invoice.id)
    assert final.due_date == final.status_transitions.finalized_at + 10 * DAY
    assert "invoice.updated" in _event_types(client, "invoice.updated")
    back = client.v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice", "due_date": 2**31}
    )
    auto = client.v1.invoices.update(back.id, params={"collection_method": "charge_automatically"})
    assert auto.due_date is None
    fixed = client.v1.invoices.finalize_invoice(back.id)
    assert fixed.due_date is None and fixed.status == "paid"  # nothing due
