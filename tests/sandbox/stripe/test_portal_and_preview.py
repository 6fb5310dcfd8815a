"""The customer portal (configurations, sessions, the hosted page) and invoice previews,
through the real SDK against the sandbox server, with Stripe's rules (README, rules table)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from tests.sandbox.stripe.conftest import StripeSandbox, new_key
from tests.sandbox.stripe.test_subscriptions import PLAN_FEE, SEAT, _subscribe

FEATURES: Any = {"payment_method_update": {"enabled": True}, "invoice_history": {"enabled": True}}


def test_a_portal_session_needs_a_configuration_and_a_return_url(
    stripe_sandbox: StripeSandbox,
) -> None:
    """A new test-mode account has no default configuration (saving the portal settings in
    the Dashboard makes it): a session without `configuration` is refused in Stripe's words;
    one made through the API is not the default, and a session naming it works. Without a
    `return_url` and no `default_return_url`, refused too."""
    key = new_key()
    client = stripe_sandbox.client(key)
    customer = client.v1.customers.create(params={"email": "owner@msp.example"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.billing_portal.sessions.create(
            params={"customer": customer.id, "return_url": "https://app.example/billing"}
        )
    assert refused.value.http_status == 400
    assert "your test mode default configuration has not been created" in str(
        refused.value.user_message
    )
    configuration = client.v1.billing_portal.configurations.create(
        params={"features": FEATURES, "metadata": {"regentra": "platform"}}
    )
    assert configuration.id.startswith("bpc_") and configuration.is_default is False
    assert configuration.active is True
    assert configuration.features.payment_method_update.enabled is True
    assert configuration.features.subscription_cancel.enabled is False
    with pytest.raises(stripe.InvalidRequestError) as no_return:
        client.v1.billing_portal.sessions.create(
            params={"customer": customer.id, "configuration": configuration.id}
        )
    assert "does not have a default_return_url" in str(no_return.value.user_message)
    session = client.v1.billing_portal.sessions.create(
        params={
            "customer": customer.id,
            "configuration": configuration.id,
            "return_url": "https://app.example/billing",
        }
    )
    assert session.id.startswith("bps_") and session.object == "billing_portal.session"
    assert session.customer == customer.id and session.configuration == configuration.id
    assert session.url == f"{stripe_sandbox.url}/p/session/{session.id}"
    listed = client.v1.billing_portal.configurations.list(params={"is_default": False})
    assert [c.id for c in listed.data] == [configuration.id]
    # Saving the portal settings in the Dashboard (control route): then the default serves.
    with stripe_sandbox.control(key) as control:
        saved = control.post("/_sandbox/portal/default_configuration")
        assert saved.status_code == 200, saved.text
    default = client.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "https://app.example/billing"}
    )
    assert default.configuration == saved.json()["id"] != configuration.id


def test_the_portal_page_makes_a_new_card_the_customers_default_only(
    stripe_sandbox: StripeSandbox,
) -> None:
    """On the hosted page a declined card is refused and a good one becomes the customer's
    `invoice_settings.default_payment_method` (`payment_method.attached`, `customer.updated`);
    the subscription's own `default_payment_method` is left as it was (it takes precedence)."""
    client = stripe_sandbox.client()
    sub, _, _ = _subscribe(client, seats=2)
    configuration = client.v1.billing_portal.configurations.create(params={"features": FEATURES})
    session = client.v1.billing_portal.sessions.create(
        params={
            "customer": str(sub.customer),
            "configuration": configuration.id,
            "return_url": "https://app.example/billing",
        }
    )
    page = httpx.get(session.url, timeout=30)
    assert page.status_code == 200 and "https://app.example/billing" in page.text
    assert "Invoice history" in page.text
    card = {"exp": "12 / 34", "cvc": "123"}
    declined = httpx.post(session.url, data={**card, "card_number": "4000 0000 0000 0002"})
    assert declined.status_code == 402 and "Your card was declined." in declined.text
    added = httpx.post(session.url, data={**card, "card_number": "5555 5555 5555 4444"})
    assert added.status_code == 303 and added.headers["location"].endswith("?updated=1")
    customer = client.v1.customers.retrieve(
        str(sub.customer), params={"expand": ["invoice_settings.default_payment_method"]}
    )
    method: Any = customer.invoice_settings.default_payment_method
    assert method.card.brand == "mastercard" and method.card.last4 == "4444"
    assert (
        client.v1.subscriptions.retrieve(sub.id).default_payment_method
        == sub.default_payment_method
    )
    shown = httpx.get(session.url + "?updated=1", timeout=30).text
    assert "Mastercard •••• 4444" in shown and "Payment method updated." in shown
    types = [e.type for e in client.v1.events.list(params={"limit": 10}).data]
    assert "payment_method.attached" in types and "customer.updated" in types
    assert httpx.get(f"{stripe_sandbox.url}/p/session/bps_nope", timeout=30).status_code == 404


def test_a_preview_is_the_next_renewal_and_is_kept_nowhere(stripe_sandbox: StripeSandbox) -> None:
    """`invoices.create_preview` names the subscription (basil: `customer` alone is refused),
    answers the next period's lines with pending prorations, an id starting `upcoming_in`, and
    stores nothing; a subscription ending at the period's end has none
    (`invoice_upcoming_none`)."""
    client = stripe_sandbox.client()
    sub, _, seat = _subscribe(client, seats=3)
    customer = str(sub.customer)
    with pytest.raises(stripe.InvalidRequestError) as unnamed:
        client.v1.invoices.create_preview(params={"customer": customer})
    assert "You must provide at least one of: `subscription`" in str(unnamed.value.user_message)
    preview = client.v1.invoices.create_preview(
        params={"customer": customer, "subscription": sub.id}
    )
    assert preview.id.startswith("upcoming_in")
    assert preview.total == preview.amount_due == PLAN_FEE + 3 * SEAT
    assert [line.amount for line in preview.lines.data] == [PLAN_FEE, 3 * SEAT]
    item = sub["items"].data[0]
    assert preview.period_end == item.current_period_end == preview.next_payment_attempt
    assert preview.lines.data[0].period.start == item.current_period_end
    listed = client.v1.invoices.list(params={"customer": customer}).data
    assert preview.id not in [i.id for i in listed] and len(listed) == 1
    # A seat more, prorated: the preview carries the proration lines too.
    seat_item = next(i for i in sub["items"].data if i.price.id == seat)
    client.v1.subscription_items.update(
        seat_item.id, params={"quantity": 4, "proration_behavior": "create_prorations"}
    )
    again = client.v1.invoices.create_preview(params={"subscription": sub.id})
    amounts = [line.amount for line in again.lines.data]
    assert amounts[:2] == [PLAN_FEE, 4 * SEAT] and len(amounts) > 2
    assert again.total == sum(amounts)
    client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    with pytest.raises(stripe.InvalidRequestError) as none:
        client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert none.value.code == "invoice_upcoming_none"
