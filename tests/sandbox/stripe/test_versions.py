"""Event payloads shaped for an endpoint's API version: before 2025-03-31 an invoice carries
`charge`, `payment_intent` and `paid`; at the pinned version it has none of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from regentra.sandbox.stripe import versions
from regentra.sandbox.stripe.resources import billing, invoice_items, payments
from regentra.sandbox.stripe.state import API_VERSION, Sandbox
from sandbox.stripe.receiver import Receiver

OLD = "2024-06-20"


def _paid_invoice(sandbox: Sandbox, method: str = "card") -> tuple[Any, dict[str, Any]]:
    account = sandbox.account("sk_test_" + "v" * 24)
    customer = sandbox.add(account, {"object": "customer", "created": 0})
    invoice = billing.new_invoice(sandbox, account, {"customer": customer["id"]})
    invoice_items.add_line(sandbox, account, invoice, amount=9900, description="Plan")
    payments.pay_invoice(sandbox, account, invoice, method=method)  # type: ignore[arg-type]
    return account, invoice


def _event(sandbox: Sandbox, account: Any, event_type: str) -> dict[str, Any]:
    return next(e for e in sandbox.all(account, "event") if e["type"] == event_type)


def test_old_versions_get_charge_payment_intent_and_paid() -> None:
    sandbox = Sandbox()
    account, invoice = _paid_invoice(sandbox)
    event = _event(sandbox, account, "invoice.paid")
    for version in (OLD, "2025-02-24.acacia", "2020-08-27"):
        shaped = versions.shape_event(sandbox, account, event, version)
        obj = shaped["data"]["object"]
        intent = account.objects[obj["payment_intent"]]
        assert obj["paid"] is True
        assert obj["charge"] == intent["latest_charge"] and obj["charge"].startswith("ch_")
        assert intent["status"] == "succeeded"
        assert obj["subscription"] is None
        assert "payments" not in obj
        assert obj["id"] == invoice["id"] and obj["amount_paid"] == 9900
    assert "charge" not in event["data"]["object"]  # the stored event is untouched
    created = _event(sandbox, account, "invoice.created")
    early = versions.shape_event(sandbox, account, created, OLD)["data"]["object"]
    assert early["paid"] is False and early["charge"] is None and early["payment_intent"] is None


def test_pinned_and_newer_versions_are_unchanged() -> None:
    sandbox = Sandbox()
    account, _ = _paid_invoice(sandbox)
    event = _event(sandbox, account, "invoice.paid")
    for version in (None, API_VERSION, "2025-03-31.basil", "2025-09-30.clover"):
        assert versions.shape_event(sandbox, account, event, version) is event
    charge_event = _event(sandbox, account, "charge.succeeded")
    assert versions.shape_event(sandbox, account, charge_event, OLD) is charge_event


def test_old_shape_of_a_declined_invoice() -> None:
    sandbox = Sandbox()
    account, _ = _paid_invoice(sandbox, method="card_declined")
    event = _event(sandbox, account, "invoice.payment_failed")
    obj = versions.shape_event(sandbox, account, event, OLD)["data"]["object"]
    assert obj["paid"] is False and obj["status"] == "open"
    assert obj["charge"].startswith("ch_") and obj["payment_intent"].startswith("pi_")
    assert account.objects[obj["charge"]]["status"] == "failed"


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


def test_webhook_payloads_follow_the_endpoints_version(
    stripe_sandbox: Any, sk: str, client: stripe.StripeClient, receivers: list[Receiver]
) -> None:
    old, pinned = Receiver(), Receiver()
    receivers += [old, pinned]
    with stripe_sandbox.control(sk) as http:
        old_secret = http.post(
            "/_sandbox/webhooks",
            data={"url": old.url, "api_version": OLD, "enabled_events[]": "invoice.paid"},
        ).json()["secret"]
        pinned_secret = http.post(
            "/_sandbox/webhooks", data={"url": pinned.url, "enabled_events[]": "invoice.paid"}
        ).json()["secret"]
        customer = client.v1.customers.create(params={"name": "Versions"})
        invoice = client.v1.invoices.create(params={"customer": customer.id})
        client.v1.invoice_items.create(
            params={
                "customer": customer.id,
                "invoice": invoice.id,
                "amount": 777,
                "currency": "usd",
            }
        )
        paid = http.post(f"/_sandbox/invoices/{invoice.id}/pay", data={"method": "card"})
        assert paid.status_code == 200, paid.text
    body, signature = old.wait_for("invoice.paid")
    event = stripe.Webhook.construct_event(body, signature, old_secret)
    obj = event.data.object
    assert event.api_version == OLD
    assert (
        obj.paid is True and obj.charge.startswith("ch_") and obj.payment_intent.startswith("pi_")
    )
    assert "payments" not in obj
    body, signature = pinned.wait_for("invoice.paid")
    event = stripe.Webhook.construct_event(body, signature, pinned_secret)
    current = json.loads(body)["data"]["object"]
    assert current["status"] == "paid"
    assert not {"charge", "payment_intent", "paid"} & set(current)
