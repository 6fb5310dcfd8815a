"""`--state FILE`: objects, events, webhook endpoints and the clock survive a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import stripe

from sandbox.stripe.conftest import StripeSandbox, new_key, stop_sandbox
from sandbox.stripe.receiver import Receiver


@pytest.mark.e2e
def test_state_survives_a_restart(
    make_sandbox: Callable[..., StripeSandbox], tmp_path: Path
) -> None:
    state = tmp_path / "stripe.json"
    key = new_key()
    first = make_sandbox("--rate-limit", "0", state=state)
    sdk = first.client(key)
    product = sdk.v1.products.create(params={"name": "Managed backup"})
    price = sdk.v1.prices.create(
        params={"product": product.id, "unit_amount": 2500, "currency": "usd"}
    )
    customer = sdk.v1.customers.create(
        params={"name": "Contoso", "email": "ap@contoso.example"},
        options={"idempotency_key": "create-contoso"},
    )
    endpoint = sdk.v1.webhook_endpoints.create(
        params={"url": "http://127.0.0.1:9/api", "enabled_events": ["customer.created"]}
    )
    invoice_id = None
    try:
        invoice_id = sdk.v1.invoices.create(params={"customer": customer.id}).id
    except stripe.InvalidRequestError as exc:
        if "Unrecognized request URL" not in str(exc):
            raise
    receiver = Receiver()
    try:
        with first.control(key) as control:
            target = control.post(
                "/_sandbox/webhooks", data={"url": receiver.url, "api_version": "2024-06-20"}
            ).json()
            moved = control.post("/_sandbox/clock/advance", data={"seconds": "3600"}).json()
        assert json.loads(state.read_text())["clock_offset"] == 3600  # control saves too
        events = [e.id for e in sdk.v1.events.list().data]
        stop_sandbox(first)

        second = make_sandbox("--rate-limit", "0", state=state)
        sdk = second.client(key)
        assert sdk.v1.products.retrieve(product.id).name == "Managed backup"
        assert sdk.v1.prices.retrieve(price.id).unit_amount == 2500
        assert [c.id for c in sdk.v1.customers.list().data] == [customer.id]
        assert [e.id for e in sdk.v1.events.list().data] == events
        if invoice_id is not None:
            assert sdk.v1.invoices.retrieve(invoice_id).customer == customer.id
        # Idempotency keys are kept: the replay is the saved customer.
        again = sdk.v1.customers.create(
            params={"name": "Contoso", "email": "ap@contoso.example"},
            options={"idempotency_key": "create-contoso"},
        )
        assert again.id == customer.id
        assert [e.id for e in sdk.v1.webhook_endpoints.list().data] == [target["id"], endpoint.id]
        with second.control(key) as control:
            hooks = control.get("/_sandbox/webhooks").json()["data"]
            assert [(h["id"], h["secret"], h["api_version"]) for h in hooks] == [
                (endpoint.id, endpoint.secret, None),
                (target["id"], target["secret"], "2024-06-20"),
            ]
            assert control.get("/_sandbox/clock").json()["now"] >= moved["now"]
            # The restored endpoint still gets signed deliveries with its secret.
            created = sdk.v1.customers.create(params={"name": "After the restart"})
            hit = receiver.wait(1)[0]
            event = stripe.Webhook.construct_event(
                hit["body"], hit["headers"]["Stripe-Signature"], target["secret"]
            )
            assert event.data.object.id == created.id and event.api_version == "2024-06-20"
            # A reset is saved as well.
            control.post("/_sandbox/reset").raise_for_status()
        stop_sandbox(second)

        third = make_sandbox("--rate-limit", "0", state=state)
        sdk = third.client(key)
        assert sdk.v1.customers.list().data == []
        with pytest.raises(stripe.InvalidRequestError):
            sdk.v1.products.retrieve(product.id)
        with third.control(key) as control:
            assert control.get("/_sandbox/webhooks").json()["data"] == []
    finally:
        receiver.close()
