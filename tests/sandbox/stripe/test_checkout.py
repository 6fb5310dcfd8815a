"""Checkout Sessions in subscription mode and the hosted checkout page (driven with httpx)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import stripe

DAY = 86400
SUCCESS = "https://msp.example/welcome?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://msp.example/pricing"


def _prices(client: stripe.StripeClient) -> tuple[str, str]:
    plan = client.v1.products.create(params={"name": "Regentra Platform"})
    seat = client.v1.products.create(params={"name": "Technician seat"})
    monthly: Any = {"interval": "month"}
    return (
        client.v1.prices.create(
            params={
                "product": plan.id,
                "unit_amount": 9900,
                "currency": "usd",
                "recurring": monthly,
            }
        ).id,
        client.v1.prices.create(
            params={"product": seat.id, "unit_amount": 500, "currency": "usd", "recurring": monthly}
        ).id,
    )


def _session(client: stripe.StripeClient, **extra: Any) -> stripe.checkout.Session:
    plan, seat = _prices(client)
    params: Any = {
        "mode": "subscription",
        "line_items": [{"price": plan, "quantity": 1}, {"price": seat, "quantity": 3}],
        "success_url": SUCCESS,
        "cancel_url": CANCEL,
        "metadata": {"org": "contoso"},
        "client_reference_id": "org_42",
        **extra,
    }
    if "customer" not in params and "customer_email" not in params:
        params["customer_email"] = "owner@contoso.example"
    return client.v1.checkout.sessions.create(params=params)


def _pay(url: str, card: str, **form: str) -> httpx.Response:
    data = {"card_number": card, "exp": "12 / 34", "cvc": "123", "name": "Dana Owner", **form}
    return httpx.post(url, data=data, follow_redirects=False, timeout=30)


def test_checkout_completes_with_a_test_card(
    client: stripe.StripeClient, stripe_sandbox: Any
) -> None:
    session = _session(client)
    assert session.id.startswith("cs_test_") and session.object == "checkout.session"
    assert session.mode == "subscription" and session.status == "open"
    assert session.payment_status == "unpaid" and session.amount_total == 9900 + 3 * 500
    assert session.url.startswith(stripe_sandbox.url + "/c/pay/")
    assert session.customer is None and session.subscription is None

    page = httpx.get(session.url, timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for text in ("Regentra Platform", "Technician seat", "$114.00", "card_number", "Qty 3"):
        assert text in page.text
    assert "<script" not in page.text and "http" not in page.text.split("<body>")[1].replace(
        CANCEL, ""
    )

    declined = _pay(session.url, "4000 0000 0000 0002")
    assert declined.status_code == 402 and "Your card was declined." in declined.text
    still = client.v1.checkout.sessions.retrieve(session.id)
    assert still.status == "open" and still.subscription is None
    assert client.v1.customers.list(params={"email": "owner@contoso.example"}).data == []

    done = _pay(session.url, "4242 4242 4242 4242")
    assert done.status_code == 303
    assert done.headers["location"] == SUCCESS.replace("{CHECKOUT_SESSION_ID}", session.id)

    complete = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["subscription", "customer"]}
    )
    assert complete.status == "complete" and complete.payment_status == "paid"
    assert complete.url is None and complete.client_reference_id == "org_42"
    assert complete.customer_details.email == "owner@contoso.example"
    assert complete.customer_details.name == "Dana Owner"
    sub = complete.subscription
    assert sub.status == "active" and sub.customer == complete.customer.id
    assert [(i.price.unit_amount, i.quantity) for i in sub["items"].data] == [(9900, 1), (500, 3)]
    customer = complete.customer
    assert customer.email == "owner@contoso.example"
    pm = customer.invoice_settings.default_payment_method
    assert pm and pm.startswith("pm_") and sub.default_payment_method == pm
    card = client.v1.customers.retrieve(
        customer.id, params={"expand": ["invoice_settings.default_payment_method"]}
    ).invoice_settings.default_payment_method.card
    assert card.last4 == "4242" and card.brand == "visa"
    invoice = client.v1.invoices.retrieve(complete.invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 11400
    assert invoice.billing_reason == "subscription_create"
    completed = client.v1.events.list(params={"type": "checkout.session.completed"}).data
    assert [e.data.object.id for e in completed] == [session.id]

    again = httpx.get(session.url, timeout=30)
    assert again.status_code == 200 and "complete" in again.text
    assert _pay(session.url, "4242424242424242").status_code == 200  # nothing more happens
    assert len(client.v1.subscriptions.list().data) == 1


def test_checkout_for_an_existing_customer(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"name": "Fabrikam", "email": "ap@fab.example"})
    session = _session(client, customer=customer.id)
    assert session.customer == customer.id and session.customer_email is None
    page = httpx.get(session.url, timeout=30)
    assert 'name="email"' not in page.text
    assert _pay(session.url, "5555 5555 5555 4444").status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert done.customer == customer.id
    subs = client.v1.subscriptions.list(params={"customer": customer.id}).data
    assert [s.id for s in subs] == [done.subscription]
    assert len(client.v1.customers.list().data) == 1


def test_the_page_asks_for_an_email_when_none_is_known(client: stripe.StripeClient) -> None:
    plan, _ = _prices(client)
    session = client.v1.checkout.sessions.create(
        params={"mode": "subscription", "line_items": [{"price": plan, "quantity": 1}]}
    )
    assert 'name="email"' in httpx.get(session.url, timeout=30).text
    missing = _pay(session.url, "4242424242424242")
    assert missing.status_code == 402 and "email" in missing.text
    bad = _pay(session.url, "4242424242424241", email="x@y.example")
    assert bad.status_code == 402 and "invalid" in bad.text
    expiry = _pay(session.url, "4242424242424242", email="x@y.example", exp="13/30")
    assert expiry.status_code == 400
    ok = _pay(session.url, "4242424242424242", email="new@owner.example")
    assert ok.status_code == 200 and "active" in ok.text  # no success_url: the sandbox's page
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert done.status == "complete"
    assert client.v1.customers.retrieve(done.customer).email == "new@owner.example"


def test_expire_and_unknown_pages(client: stripe.StripeClient, stripe_sandbox: Any) -> None:
    session = _session(client)
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)
    assert httpx.get(session.url, timeout=30).status_code == 410
    assert _pay(session.url, "4242424242424242").status_code == 410
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert "checkout.session.expired" in [e.type for e in client.v1.events.list().data]
    assert httpx.get(stripe_sandbox.url + "/c/pay/cs_test_nope", timeout=30).status_code == 404


def test_sessions_expire_with_the_clock(make_sandbox: Any) -> None:
    sandbox = make_sandbox("--rate-limit", "0")
    key = "sk_test_" + "c" * 24
    client = sandbox.client(key)
    session = _session(client, expires_at=client.v1.accounts.retrieve_current().created + DAY)
    with sandbox.control(key) as control:
        control.post("/_sandbox/clock/advance", data={"seconds": DAY + 60}).raise_for_status()
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"


def test_lists_line_items_and_filters(client: stripe.StripeClient) -> None:
    a = _session(client)
    b = _session(client)
    assert _pay(b.url, "4242424242424242").status_code == 303
    b = client.v1.checkout.sessions.retrieve(b.id)
    assert [s.id for s in client.v1.checkout.sessions.list().data] == [b.id, a.id]
    assert [s.id for s in client.v1.checkout.sessions.list(params={"status": "open"}).data] == [
        a.id
    ]
    by_customer = client.v1.checkout.sessions.list(params={"customer": b.customer})
    assert [s.id for s in by_customer.data] == [b.id]
    by_sub = client.v1.checkout.sessions.list(params={"subscription": b.subscription})
    assert [s.id for s in by_sub.data] == [b.id]
    by_email = client.v1.checkout.sessions.list(
        params={"customer_details": {"email": "owner@contoso.example"}}
    )
    assert {s.id for s in by_email.data} == {a.id, b.id}
    page = client.v1.checkout.sessions.list(params={"limit": 1})
    assert [s.id for s in page.data] == [b.id] and page.has_more

    items = client.v1.checkout.sessions.line_items.list(a.id)
    assert [(i.object, i.quantity, i.amount_total) for i in items.data] == [
        ("item", 1, 9900),
        ("item", 3, 1500),
    ]
    assert items.data[0].id.startswith("li_") and items.data[1].description == "Technician seat"
    assert "line_items" not in a.to_dict()
    expanded = client.v1.checkout.sessions.retrieve(a.id, params={"expand": ["line_items"]})
    assert [i.price.unit_amount for i in expanded.line_items.data] == [9900, 500]


def test_invalid_sessions_are_rejected(client: stripe.StripeClient) -> None:
    plan, _ = _prices(client)
    one_time = client.v1.prices.create(
        params={
            "product": client.v1.products.create(params={"name": "Setup fee"}).id,
            "unit_amount": 5000,
            "currency": "usd",
        }
    )
    customer = client.v1.customers.create(params={"email": "a@b.example"})
    line: Any = [{"price": plan, "quantity": 1}]
    cases: list[Any] = [
        {"mode": "payment", "line_items": line},
        {"line_items": line},
        {"mode": "subscription"},
        {"mode": "subscription", "line_items": [{"price": one_time.id, "quantity": 1}]},
        {
            "mode": "subscription",
            "line_items": line,
            "customer": customer.id,
            "customer_email": "a@b.example",
        },
        {"mode": "subscription", "line_items": line, "ui_mode": "embedded_page"},
    ]
    for params in cases:
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.checkout.sessions.create(params=params)
        assert info.value.http_status in (400, 404)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(
            params={"mode": "subscription", "line_items": line, "colour": "red"}  # type: ignore[typeddict-unknown-key]
        )
    assert info.value.code == "parameter_unknown" and info.value.param == "colour"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(
            params={"mode": "subscription", "line_items": [{"price": plan, "qty": 2}]}  # type: ignore[typeddict-unknown-key]
        )
    assert info.value.code == "parameter_unknown"


def test_session_has_the_sdk_fields(client: stripe.StripeClient) -> None:
    session = _session(client)
    declared = {k for k in stripe.checkout.Session.__annotations__ if k != "OBJECT_NAME"}
    # `line_items` is includable: Stripe returns it only with expand[]=line_items.
    assert set(session.to_dict()) == declared - {"line_items"}
    expanded = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})
    assert set(expanded.to_dict()) == declared
    item_declared = {k for k in stripe.LineItem.__annotations__ if k != "OBJECT_NAME"}
    assert set(expanded.line_items.data[0].to_dict()) == item_declared
    assert re.fullmatch(r"cs_test_[A-Za-z0-9]{58}", session.id)
    assert _pay(session.url, "4242424242424242").status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert set(done.to_dict()) == declared - {"line_items"}
    S = stripe.checkout.Session
    nested = {
        "automatic_tax": S.AutomaticTax,
        "collected_information": S.CollectedInformation,
        "custom_text": S.CustomText,
        "customer_details": S.CustomerDetails,
        "phone_number_collection": S.PhoneNumberCollection,
        "saved_payment_method_options": S.SavedPaymentMethodOptions,
        "tax_id_collection": S.TaxIdCollection,
        "total_details": S.TotalDetails,
    }
    for name, cls in nested.items():
        fields = {k for k in cls.__annotations__ if k != "OBJECT_NAME"}
        fields -= {"breakdown"}  # total_details.breakdown is includable
        assert set(done[name].to_dict()) == fields, name
