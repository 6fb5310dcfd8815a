"""Subscriptions and subscription items, through the real SDK against the sandbox server.

Tests that move the clock use their own sandbox server (the clock is sandbox-wide)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
import stripe

from tests.sandbox.stripe.conftest import StripeSandbox, new_key, stop_sandbox

DAY = 86400
PLAN_FEE, SEAT = 9900, 500


class Account:
    """A fresh account on a sandbox: the SDK client plus the control API."""

    def __init__(self, sandbox: StripeSandbox) -> None:
        self.key = new_key()
        self.client = sandbox.client(self.key)
        self.control = sandbox.control(self.key)

    def advance(self, seconds: int) -> None:
        r = self.control.post("/_sandbox/clock/advance", data={"seconds": seconds})
        assert r.status_code == 200, r.text

    def now(self) -> int:
        return int(self.control.get("/_sandbox/clock").json()["now"])


@pytest.fixture
def acct(clock_sandbox: StripeSandbox) -> Iterator[Account]:
    account = Account(clock_sandbox)
    yield account
    account.control.close()


def _prices(client: stripe.StripeClient, interval: str = "month") -> tuple[str, str]:
    plan = client.v1.products.create(params={"name": "Regentra Platform"})
    seat = client.v1.products.create(params={"name": "Seat"})
    recurring: Any = {"interval": interval}
    plan_price = client.v1.prices.create(
        params={
            "product": plan.id,
            "unit_amount": PLAN_FEE,
            "currency": "usd",
            "recurring": recurring,
        }
    )
    seat_price = client.v1.prices.create(
        params={"product": seat.id, "unit_amount": SEAT, "currency": "usd", "recurring": recurring}
    )
    return plan_price.id, seat_price.id


def _subscribe(
    client: stripe.StripeClient, seats: int = 5, **extra: Any
) -> tuple[stripe.Subscription, str, str]:
    plan, seat = _prices(client)
    customer = client.v1.customers.create(params={"name": "Contoso MSP", "email": "ap@c.example"})
    params: Any = {
        "customer": customer.id,
        "items": [{"price": plan}, {"price": seat, "quantity": seats}],
        "default_payment_method": "pm_card_visa",
        "metadata": {"org": "contoso"},
        **extra,
    }
    return client.v1.subscriptions.create(params=params), plan, seat


def _fee(amount: int) -> int:
    return int((Decimal(amount) * Decimal("0.029")).quantize(Decimal(1), ROUND_HALF_UP)) + 30


def _item(sub: stripe.Subscription, price: str) -> Any:
    return next(i for i in sub["items"].data if i.price.id == price)


def _invoices(client: stripe.StripeClient, sub: str) -> list[stripe.Invoice]:
    """The subscription's invoices, oldest first."""
    found = client.v1.invoices.list(params={"subscription": sub, "limit": 100}).data
    return list(reversed(found))


def _event_types(client: stripe.StripeClient) -> list[str]:
    return [e.type for e in client.v1.events.list(params={"limit": 100}).data]


def test_create_bills_the_first_period_and_charges_the_card(client: stripe.StripeClient) -> None:
    sub, _plan, seat = _subscribe(client, seats=5)
    assert sub.id.startswith("sub_") and sub.object == "subscription"
    assert sub.status == "active" and sub.collection_method == "charge_automatically"
    assert sub.currency == "usd" and sub.metadata.to_dict() == {"org": "contoso"}
    assert sub.default_payment_method and sub.default_payment_method.startswith("pm_")
    items = sub["items"]
    assert items.total_count == 2 and [i.quantity for i in items.data] == [1, 5]
    item = _item(sub, seat)
    assert item.id.startswith("si_") and item.subscription == sub.id
    assert item.plan.id == seat and item.plan.interval == "month"
    start, end = item.current_period_start, item.current_period_end
    assert 28 * DAY <= end - start <= 31 * DAY and start == sub.start_date

    invoice = client.v1.invoices.retrieve(sub.latest_invoice, params={"expand": ["payments"]})
    total = PLAN_FEE + 5 * SEAT
    assert invoice.billing_reason == "subscription_create"
    assert invoice.collection_method == "charge_automatically"
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.status == "paid" and invoice.amount_paid == total == invoice.total
    lines = invoice.lines.data
    assert [(line.quantity, line.amount) for line in lines] == [(1, PLAN_FEE), (5, 5 * SEAT)]
    details = lines[1].parent.subscription_item_details
    assert details.subscription_item == item.id and details.proration is False
    assert (lines[1].period.start, lines[1].period.end) == (start, end)
    assert lines[1].pricing.price_details.price == seat

    (payment,) = invoice.payments.data
    assert payment.status == "paid" and payment.amount_paid == total
    intent = client.v1.payment_intents.retrieve(
        payment.payment.payment_intent, params={"expand": ["latest_charge.balance_transaction"]}
    )
    assert intent.latest_charge.balance_transaction.fee == _fee(total)
    types = _event_types(client)
    for expected in ("customer.subscription.created", "invoice.created", "invoice.paid"):
        assert expected in types


def test_retrieve_and_expand(client: stripe.StripeClient) -> None:
    sub, _, seat = _subscribe(client)
    got = client.v1.subscriptions.retrieve(
        sub.id, params={"expand": ["latest_invoice", "customer", "items.data.price.product"]}
    )
    assert got.latest_invoice.id == sub.latest_invoice and got.customer.id == sub.customer
    assert _item(got, seat).price.product.name == "Seat"


def test_payment_failures_leave_the_subscription_incomplete(client: stripe.StripeClient) -> None:
    declined, _, _ = _subscribe(client, default_payment_method="pm_card_chargeDeclined")
    assert declined.status == "incomplete"
    invoice = client.v1.invoices.retrieve(declined.latest_invoice)
    assert invoice.status == "open" and invoice.amount_paid == 0
    assert "invoice.payment_failed" in _event_types(client)
    # Paying the open invoice later activates the subscription.
    paid = client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "paid"
    assert client.v1.subscriptions.retrieve(declined.id).status == "active"

    with pytest.raises(stripe.CardError) as info:
        _subscribe(
            client,
            default_payment_method="pm_card_chargeDeclined",
            payment_behavior="error_if_incomplete",
        )
    assert info.value.http_status == 402 and info.value.code == "card_declined"

    plan, _ = _prices(client)
    bare = client.v1.customers.create(params={"name": "No card"})
    sub = client.v1.subscriptions.create(
        params={
            "customer": bare.id,
            "items": [{"price": plan}],
            "payment_behavior": "default_incomplete",
        }
    )
    assert sub.status == "incomplete" and sub.default_payment_method is None
    assert client.v1.invoices.retrieve(sub.latest_invoice).status == "open"
    # default_incomplete does not charge even with a card: the client pays the invoice.
    waiting, _, _ = _subscribe(client, payment_behavior="default_incomplete")
    assert waiting.status == "incomplete"
    invoice = client.v1.invoices.retrieve(waiting.latest_invoice)
    assert invoice.status == "open" and invoice.attempt_count == 0


def test_send_invoice_collection(client: stripe.StripeClient) -> None:
    plan, _ = _prices(client)
    customer = client.v1.customers.create(params={"name": "Invoiced MSP"})
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": plan}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    assert sub.status == "active" and sub.days_until_due == 30
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.status == "open" and invoice.collection_method == "send_invoice"
    assert invoice.due_date is not None and invoice.hosted_invoice_url


def test_quantity_update_without_prorations(acct: Account) -> None:
    client = acct.client
    sub, _, seat = _subscribe(client, seats=5)
    item = _item(sub, seat)
    updated = client.v1.subscriptions.update(
        sub.id,
        params={"items": [{"id": item.id, "quantity": 8}], "proration_behavior": "none"},
    )
    assert _item(updated, seat).quantity == 8 and updated.latest_invoice == sub.latest_invoice
    pending = client.v1.invoice_items.list(params={"customer": sub.customer, "pending": True})
    assert pending.data == []
    events = client.v1.events.list(params={"type": "customer.subscription.updated"}).data
    assert events and events[0].data.object.id == sub.id
    assert "items" in events[0].data.previous_attributes
    acct.advance(32 * DAY)
    renewal = _invoices(client, sub.id)[-1]
    assert renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    assert renewal.amount_paid == PLAN_FEE + 8 * SEAT


def test_quantity_update_with_prorations(acct: Account) -> None:
    client = acct.client
    sub, _, seat = _subscribe(client, seats=5)
    item = _item(sub, seat)
    acct.advance(10 * DAY)
    updated = client.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": item.id, "quantity": 8}],
            "proration_behavior": "create_prorations",
        },
    )
    assert _item(updated, seat).quantity == 8
    pending = client.v1.invoice_items.list(params={"customer": sub.customer, "pending": True}).data
    assert len(pending) == 2 and all(p.proration for p in pending)
    start, end = item.current_period_start, item.current_period_end
    at = pending[0].period.start
    assert pending[0].period.end == end and start + 10 * DAY <= at < end
    left = Decimal(end - at) / Decimal(end - start)
    expected = {
        -int((5 * SEAT * left).quantize(Decimal(1), ROUND_HALF_UP)),
        int((8 * SEAT * left).quantize(Decimal(1), ROUND_HALF_UP)),
    }
    assert {p.amount for p in pending} == expected
    assert all(p.parent.subscription_details.subscription == sub.id for p in pending)
    assert {p.quantity for p in pending} == {5, 8}

    acct.advance(22 * DAY)  # past the period end: the renewal bills the prorations too
    renewal = _invoices(client, sub.id)[-1]
    assert renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    assert renewal.amount_paid == PLAN_FEE + 8 * SEAT + sum(expected)
    prorations = [
        line for line in renewal.lines.data if line.parent.subscription_item_details.proration
    ]
    assert len(prorations) == 2
    assert (
        client.v1.invoice_items.list(params={"customer": sub.customer, "pending": True}).data == []
    )


def test_always_invoice_bills_the_change_now(acct: Account) -> None:
    client = acct.client
    sub, _plan, _seat = _subscribe(client, seats=2)
    acct.advance(DAY)
    extra = client.v1.prices.create(
        params={
            "product": client.v1.products.create(params={"name": "Backup add-on"}).id,
            "unit_amount": 1500,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    updated = client.v1.subscriptions.update(
        sub.id,
        params={"items": [{"price": extra.id}], "proration_behavior": "always_invoice"},
    )
    assert len(updated["items"].data) == 3
    assert updated.latest_invoice != sub.latest_invoice
    invoice = client.v1.invoices.retrieve(updated.latest_invoice)
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"
    assert 0 < invoice.amount_paid < 1500 and len(invoice.lines.data) == 1


def test_renewals_bill_each_period_passed(acct: Account) -> None:
    client = acct.client
    sub, _, seat = _subscribe(client, seats=3)
    first_end = _item(sub, seat).current_period_end
    acct.advance(63 * DAY)  # two month boundaries, never three
    invoices = _invoices(client, sub.id)
    assert [i.billing_reason for i in invoices] == [
        "subscription_create",
        "subscription_cycle",
        "subscription_cycle",
    ]
    assert all(i.status == "paid" and i.amount_paid == PLAN_FEE + 3 * SEAT for i in invoices)
    renewed = client.v1.subscriptions.retrieve(sub.id)
    item = _item(renewed, seat)
    assert item.current_period_start > first_end and item.current_period_end > acct.now()
    assert invoices[1].lines.data[0].period.start == first_end
    assert invoices[2].lines.data[0].period.start == invoices[1].lines.data[0].period.end
    assert renewed.latest_invoice == invoices[2].id and renewed.status == "active"
    updates = client.v1.events.list(params={"type": "customer.subscription.updated"}).data
    assert len(updates) == 2


def _intent(client: stripe.StripeClient, invoice_id: str) -> Any:
    """The invoice's (only) PaymentIntent, with its latest charge expanded."""
    invoice = client.v1.invoices.retrieve(invoice_id, params={"expand": ["payments"]})
    (payment,) = invoice.payments.data
    return client.v1.payment_intents.retrieve(
        payment.payment.payment_intent, params={"expand": ["latest_charge"]}
    )


def test_creation_and_renewals_charge_the_default_payment_method(acct: Account) -> None:
    client = acct.client
    sub, _, _ = _subscribe(client, seats=2)
    pm = sub.default_payment_method
    expanded = client.v1.subscriptions.retrieve(
        sub.id, params={"expand": ["default_payment_method"]}
    )
    assert pm and expanded.default_payment_method.customer == sub.customer
    first = _intent(client, sub.latest_invoice)
    assert first.payment_method == pm and first.latest_charge.payment_method == pm
    acct.advance(32 * DAY)
    renewal = _invoices(client, sub.id)[-1]
    assert renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    intent = _intent(client, renewal.id)
    assert intent.status == "succeeded" and intent.customer == sub.customer
    assert intent.payment_method == pm and intent.latest_charge.payment_method == pm
    assert intent.latest_charge.payment_method_details.card.last4 == "4242"

    declined, _, _ = _subscribe(client, default_payment_method="pm_card_chargeDeclined")
    failed = _intent(client, declined.latest_invoice)
    assert failed.status == "requires_payment_method"
    assert failed.latest_charge.payment_method == declined.default_payment_method
    assert failed.last_payment_error.payment_method.id == declined.default_payment_method


def test_invoice_created_event_carries_the_subscription_lines(
    client: stripe.StripeClient,
) -> None:
    sub, plan, seat = _subscribe(client, seats=4)
    events = client.v1.events.list(params={"type": "invoice.created"}).data
    (created,) = [e for e in events if e.data.object.id == sub.latest_invoice]
    invoice = created.data.object
    lines = invoice.lines.data
    assert [(line.pricing.price_details.price, line.amount) for line in lines] == [
        (plan, PLAN_FEE),
        (seat, 4 * SEAT),
    ]
    assert invoice.status == "draft" and invoice.total == PLAN_FEE + 4 * SEAT
    types = list(reversed(_event_types(client)))
    assert types.index("invoice.created") < types.index("invoice.finalized")
    # An invoice created through the API starts empty, as on Stripe.
    manual = client.v1.invoices.create(params={"customer": sub.customer})
    events = client.v1.events.list(params={"type": "invoice.created"}).data
    (created,) = [e for e in events if e.data.object.id == manual.id]
    assert created.data.object.lines.data == []


def test_cancel_now(client: stripe.StripeClient) -> None:
    sub, _, _ = _subscribe(client)
    canceled = client.v1.subscriptions.cancel(
        sub.id, params={"cancellation_details": {"comment": "moving to another PSA"}}
    )
    assert canceled.status == "canceled" and canceled.ended_at and canceled.canceled_at
    assert canceled.cancellation_details.reason == "cancellation_requested"
    assert canceled.cancellation_details.comment == "moving to another PSA"
    assert "customer.subscription.deleted" in _event_types(client)
    assert client.v1.subscriptions.list().data == []
    assert [s.id for s in client.v1.subscriptions.list(params={"status": "canceled"}).data] == [
        sub.id
    ]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(sub.id, params={"description": "too late"})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.cancel(sub.id)  # as on Stripe: "No such subscription"
    assert info.value.http_status == 404 and info.value.code == "resource_missing"
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"


def test_cancel_at_period_end(acct: Account) -> None:
    client = acct.client
    sub, _, seat = _subscribe(client)
    end = _item(sub, seat).current_period_end
    scheduled = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert scheduled.status == "active" and scheduled.cancel_at_period_end is True
    assert scheduled.cancel_at == end and scheduled.canceled_at is not None
    undone = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert undone.cancel_at is None and undone.cancel_at_period_end is False
    client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    acct.advance(10 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    acct.advance(25 * DAY)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled" and ended.ended_at == end
    assert [i.billing_reason for i in _invoices(client, sub.id)] == ["subscription_create"]
    deleted = client.v1.events.list(params={"type": "customer.subscription.deleted"}).data
    assert [e.data.object.id for e in deleted] == [sub.id]


def test_subscription_items(client: stripe.StripeClient) -> None:
    sub, plan, seat = _subscribe(client, seats=4)
    listed = client.v1.subscription_items.list(params={"subscription": sub.id})
    assert [i.price.id for i in listed.data] == [plan, seat]
    seat_item = client.v1.subscription_items.retrieve(_item(sub, seat).id)
    assert seat_item.quantity == 4 and seat_item.object == "subscription_item"
    changed = client.v1.subscription_items.update(
        seat_item.id, params={"quantity": 6, "proration_behavior": "none"}
    )
    assert changed.quantity == 6
    assert _item(client.v1.subscriptions.retrieve(sub.id), seat).quantity == 6
    addon = client.v1.prices.create(
        params={
            "product": client.v1.products.create(params={"name": "Add-on"}).id,
            "unit_amount": 700,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    added = client.v1.subscription_items.create(
        params={"subscription": sub.id, "price": addon.id, "quantity": 2}
    )
    assert added.subscription == sub.id and added.quantity == 2
    assert client.v1.subscription_items.delete(added.id).deleted is True
    assert len(client.v1.subscription_items.list(params={"subscription": sub.id}).data) == 2
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_items.retrieve(added.id)
    assert info.value.http_status == 404


def test_invalid_changes_are_rejected(client: stripe.StripeClient) -> None:
    sub, plan, _seat = _subscribe(client)
    one_time = client.v1.prices.create(
        params={
            "product": client.v1.products.create(params={"name": "Setup"}).id,
            "unit_amount": 100,
            "currency": "usd",
        }
    )
    yearly, _ = _prices(client, "year")
    customer = sub.customer
    cases: list[Any] = [
        {"customer": customer, "items": [{"price": one_time.id}]},
        {"customer": customer, "items": [{"price": plan}, {"price": yearly}]},
        {"customer": customer, "items": [{"price": plan}, {"price": plan}]},
        {"customer": customer},
        {"items": [{"price": plan}]},
        {"customer": customer, "items": [{"price": plan}], "trial_period_days": 14},
    ]
    for params in cases:
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.subscriptions.create(params=params)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(
            sub.id, params={"items": [{"id": i.id, "deleted": True} for i in sub["items"].data]}
        )
    seat_item = sub["items"].data[1]
    bad_updates: list[Any] = [
        {"collection_method": "send_invoice", "items": [{"id": seat_item.id, "quantity": 9}]},
        {"default_payment_method": "pm_nope", "items": [{"id": seat_item.id, "quantity": 9}]},
        {"cancel_at": 1, "items": [{"id": seat_item.id, "quantity": 9}]},
    ]
    for params in bad_updates:
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.subscriptions.update(sub.id, params=params)
    unchanged = client.v1.subscriptions.retrieve(sub.id)
    assert unchanged["items"].data[1].quantity == seat_item.quantity
    assert unchanged.collection_method == "charge_automatically"
    assert unchanged.to_dict() == client.v1.subscriptions.retrieve(sub.id).to_dict()


def test_lists_and_filters(client: stripe.StripeClient) -> None:
    a, plan_a, _ = _subscribe(client)
    b, _, seat_b = _subscribe(client)
    c, _, _ = _subscribe(client, default_payment_method="pm_card_chargeDeclined")
    assert [s.id for s in client.v1.subscriptions.list().data] == [c.id, b.id, a.id]
    assert [s.id for s in client.v1.subscriptions.list(params={"customer": a.customer}).data] == [
        a.id
    ]
    assert [s.id for s in client.v1.subscriptions.list(params={"price": seat_b}).data] == [b.id]
    assert [s.id for s in client.v1.subscriptions.list(params={"plan": plan_a}).data] == [a.id]
    assert [s.id for s in client.v1.subscriptions.list(params={"status": "incomplete"}).data] == [
        c.id
    ]
    active = client.v1.subscriptions.list(params={"status": "active", "limit": 1})
    assert [s.id for s in active.data] == [b.id] and active.has_more
    after = client.v1.subscriptions.list(params={"status": "active", "starting_after": b.id})
    assert [s.id for s in after.data] == [a.id]
    assert len(client.v1.subscriptions.list(params={"status": "all"}).data) == 3


def test_unknown_parameters_are_rejected(
    client: stripe.StripeClient, stripe_sandbox: Any, sk: str
) -> None:
    sub, plan, _ = _subscribe(client)
    for call in (
        lambda: client.v1.subscriptions.create(
            params={"customer": sub.customer, "items": [{"price": plan}], "bogus": 1}  # type: ignore[typeddict-unknown-key]
        ),
        lambda: client.v1.subscriptions.update(
            sub.id,
            params={"items": [{"price": plan, "colour": "red"}]},  # type: ignore[typeddict-unknown-key]
        ),
        lambda: client.v1.subscription_items.list(params={"subscription": sub.id, "x": 1}),  # type: ignore[typeddict-unknown-key]
    ):
        with pytest.raises(stripe.InvalidRequestError) as info:
            call()
        assert info.value.http_status == 400 and info.value.code == "parameter_unknown"
    r = httpx.get(
        stripe_sandbox.url + "/v1/subscription_items",
        headers={"Authorization": f"Bearer {sk}"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "parameter_missing"


def _declared(cls: Any) -> set[str]:
    return {k for k in cls.__annotations__ if k != "OBJECT_NAME"}


# Fields the SDK declares that the sandbox leaves out, and why.
SUBSCRIPTION_ITEM_ABSENT = {"deleted"}  # only on deleted objects, as on Stripe


def test_objects_have_the_sdk_fields(client: stripe.StripeClient) -> None:
    sub, _, _ = _subscribe(client)
    declared = {k for k in stripe.Subscription.__annotations__ if k != "OBJECT_NAME"}
    assert set(sub.to_dict()) == declared
    item = client.v1.subscription_items.retrieve(sub["items"].data[0].id)
    item_declared = {k for k in stripe.SubscriptionItem.__annotations__ if k != "OBJECT_NAME"}
    assert set(item.to_dict()) == item_declared - SUBSCRIPTION_ITEM_ABSENT
    assert set(sub["items"].data[0].to_dict()) == item_declared - SUBSCRIPTION_ITEM_ABSENT
    # `deleted` is only on deleted objects; `tiers` is includable (tiered prices only).
    assert set(item.plan.to_dict()) == _declared(stripe.Plan) - {"deleted", "tiers"}
    nested = {
        "automatic_tax": stripe.Subscription.AutomaticTax,
        "billing_mode": stripe.Subscription.BillingMode,
        "cancellation_details": stripe.Subscription.CancellationDetails,
        "invoice_settings": stripe.Subscription.InvoiceSettings,
        "payment_settings": stripe.Subscription.PaymentSettings,
        "trial_settings": stripe.Subscription.TrialSettings,
    }
    for name, cls in nested.items():
        declared_here = _declared(cls) - {"account"}  # issuer.account: Connect only
        assert set(sub[name].to_dict()) == declared_here, name
    pm = client.v1.subscriptions.retrieve(
        sub.id, params={"expand": ["default_payment_method"]}
    ).default_payment_method
    assert pm.object == "payment_method" and pm.type == "card" and pm.card.last4 == "4242"
    common = {"billing_details", "card", "created", "customer", "id", "livemode", "metadata"}
    assert common <= set(pm.to_dict()) <= _declared(stripe.PaymentMethod)
    assert set(pm.card.to_dict()) == _declared(stripe.PaymentMethod.Card) - {
        "description",  # only for some card networks
        "iin",  # only with the `card_issuing` capability
        "issuer",
    }


@pytest.mark.e2e
def test_subscriptions_survive_a_restart_with_a_state_file(
    make_sandbox: Any, tmp_path: Any
) -> None:
    state = tmp_path / "stripe.json"
    key = new_key()
    first = make_sandbox("--rate-limit", "0", state=state)
    sub, _, seat = _subscribe(first.client(key), seats=2)
    stop_sandbox(first)
    second = make_sandbox("--rate-limit", "0", state=state)
    client = second.client(key)
    assert _item(client.v1.subscriptions.retrieve(sub.id), seat).quantity == 2
    with second.control(key) as control:
        control.post("/_sandbox/clock/advance", data={"seconds": 32 * DAY}).raise_for_status()
    invoices = _invoices(client, sub.id)
    assert [i.billing_reason for i in invoices] == ["subscription_create", "subscription_cycle"]
    assert invoices[-1].status == "paid"


def test_at_most_200_quantity_updates_per_subscription_an_hour(make_sandbox: Any) -> None:
    """With rate limits on (per-second limits raised out of the way): the 201st quantity
    change of one subscription within the hour is refused (429 `rate_limit`, nothing
    changes); another subscription is unaffected, and an hour later it works again."""
    acct = Account(make_sandbox("--rate-limit", "10000", "--endpoint-rate-limit", "10000"))
    client = acct.client
    sub, _, seat = _subscribe(client, seats=1)
    other, _, other_seat = _subscribe(client, seats=1)
    item = _item(sub, seat)
    for n in range(200):
        client.v1.subscription_items.update(
            item.id, params={"quantity": 2 + n, "proration_behavior": "none"}
        )
    with pytest.raises(stripe.RateLimitError) as refused:
        client.v1.subscriptions.update(
            sub.id,
            params={"items": [{"id": item.id, "quantity": 999}], "proration_behavior": "none"},
        )
    body = refused.value.json_body or {}
    assert body["error"]["code"] == "rate_limit" and "200 an hour" in body["error"]["message"]
    assert client.v1.subscription_items.retrieve(item.id).quantity == 201
    # A change that is not a quantity change (metadata only) is not counted nor refused.
    client.v1.subscriptions.update(sub.id, params={"metadata": {"note": "still fine"}})
    client.v1.subscription_items.update(
        _item(other, other_seat).id, params={"quantity": 5, "proration_behavior": "none"}
    )
    acct.advance(3600)
    client.v1.subscription_items.update(
        item.id, params={"quantity": 7, "proration_behavior": "none"}
    )
    assert client.v1.subscription_items.retrieve(item.id).quantity == 7
