"""Webhook delivery: signed like Stripe's (checked by the SDK), asynchronous, retried with
backoff, filtered by enabled_events, shaped for older API versions, and each delivery fault.

A real HTTP receiver on 127.0.0.1 records what arrives. Faults and delivery settings are
sandbox-wide, so this module runs its own sandbox server.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from sandbox.stripe.conftest import StripeSandbox, new_key
from sandbox.stripe.receiver import Receiver, deliveries, register, settled, wait_until


@pytest.fixture
def control(box: StripeSandbox, key: str) -> Iterator[httpx.Client]:
    with box.control(key) as http:
        http.post("/_sandbox/webhooks/settings", data={"retry_base_ms": "200"}).raise_for_status()
        yield http
        http.post("/_sandbox/faults").raise_for_status()  # faults are sandbox-wide: clear
        http.post(
            "/_sandbox/webhooks/settings",
            data={"retry_base_ms": "500", "max_attempts": "6", "timeout_ms": "10000"},
        ).raise_for_status()


@pytest.fixture
def sdk(box: StripeSandbox, key: str) -> stripe.StripeClient:
    return box.client(key)


def test_registered_endpoint_gets_events_the_sdk_verifies(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    endpoint = register(control, receiver.url)
    assert endpoint["id"].startswith("we_") and endpoint["secret"].startswith("whsec_")
    product = sdk.v1.products.create(params={"name": "Backup"})
    customer = sdk.v1.customers.create(params={"name": "Contoso"})
    hits = receiver.wait(2)
    assert [json.loads(h["body"])["type"] for h in hits] == ["product.created", "customer.created"]
    for hit in hits:
        assert hit["path"] == "/stripe/webhook"
        headers = {k.lower(): v for k, v in hit["headers"].items()}
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert headers["user-agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
        event = stripe.Webhook.construct_event(
            hit["body"], headers["stripe-signature"], endpoint["secret"]
        )
        assert event.id.startswith("evt_")
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(
                hit["body"], headers["stripe-signature"], "whsec_" + "x" * 32
            )
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(
                hit["body"] + " ", headers["stripe-signature"], endpoint["secret"]
            )
    first, second = (json.loads(h["body"]) for h in hits)
    # Snapshot events (what a webhook endpoint sends), not thin ones (v2.core.event).
    assert first["object"] == second["object"] == "event" and "related_object" not in first
    assert first["data"]["object"]["id"] == product.id
    assert second["data"]["object"]["id"] == customer.id
    assert second["api_version"] == stripe.api_version
    # The events are the API's events; once delivered, nothing is pending.
    assert sdk.v1.events.retrieve(second["id"]).type == "customer.created"
    wait_until(lambda: sdk.v1.events.retrieve(second["id"]).pending_webhooks == 0)
    attempts = deliveries(control)
    assert {(a["event"], a["outcome"], a["status_code"], a["attempt"]) for a in attempts} == {
        (first["id"], "delivered", 200, 1),
        (second["id"], "delivered", 200, 1),
    }
    for attempt in attempts:
        assert attempt["target"] == endpoint["id"] and attempt["url"] == receiver.url
        assert attempt["duplicate"] is False and isinstance(attempt["created"], int)
    assert [a["type"] for a in deliveries(control, event=first["id"])] == ["product.created"]


def test_delivery_does_not_block_the_api(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    receiver.sleep = 1.5
    register(control, receiver.url)
    started = time.monotonic()
    sdk.v1.customers.create(params={"name": "Fast"})
    sdk.v1.customers.create(params={"name": "Still fast"})
    assert time.monotonic() - started < 1.0
    receiver.wait(2, timeout=10)


def test_enabled_events_filter_and_api_endpoints(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    endpoint = sdk.v1.webhook_endpoints.create(
        params={
            "url": receiver.url,
            "enabled_events": ["customer.created"],
            "description": "Regentra",
            "metadata": {"org": "7"},
        }
    )
    assert endpoint.id.startswith("we_") and endpoint.secret.startswith("whsec_")
    assert endpoint.status == "enabled" and endpoint.enabled_events == ["customer.created"]
    sdk.v1.products.create(params={"name": "Not delivered"})
    customer = sdk.v1.customers.create(params={"name": "Delivered"})
    hit = receiver.wait(1)[0]
    event = stripe.Webhook.construct_event(
        hit["body"], hit["headers"]["Stripe-Signature"], endpoint.secret
    )
    assert event.type == "customer.created" and event.data.object.id == customer.id
    settled(control)  # everything queued went out: product.created was never queued
    assert receiver.types() == ["customer.created"]
    # Only product.updated now; product.created is not sent.
    sdk.v1.webhook_endpoints.update(endpoint.id, params={"enabled_events": ["product.updated"]})
    product = sdk.v1.products.create(params={"name": "Created"})
    sdk.v1.products.update(product.id, params={"name": "Renamed"})
    receiver.wait(2)
    assert receiver.types() == ["customer.created", "product.updated"]


def test_enabled_events_must_be_event_types(sdk: stripe.StripeClient, receiver: Receiver) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        sdk.v1.webhook_endpoints.create(
            params={"url": receiver.url, "enabled_events": ["product.*"]}  # type: ignore[list-item]
        )
    assert info.value.http_status == 400 and info.value.param == "enabled_events[0]"


def test_webhook_endpoint_crud(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    from sandbox.stripe.shapes import assert_shape

    created = sdk.v1.webhook_endpoints.create(
        params={"url": receiver.url, "enabled_events": ["*"], "api_version": "2024-06-20"}
    )
    assert_shape(created, stripe.WebhookEndpoint)
    assert created.api_version == "2024-06-20" and created.livemode is False
    fetched = sdk.v1.webhook_endpoints.retrieve(created.id)
    assert_shape(fetched, stripe.WebhookEndpoint)
    assert "secret" not in fetched.to_dict()  # only in the create response
    dashboard = register(control, receiver.url + "/2")
    listed = sdk.v1.webhook_endpoints.list()
    assert [e.id for e in listed.data] == [dashboard["id"], created.id]  # newest first
    assert [e.id for e in sdk.v1.webhook_endpoints.list(params={"limit": 1}).data] == [
        dashboard["id"]
    ]
    updated = sdk.v1.webhook_endpoints.update(
        created.id,
        params={"url": receiver.url + "/new", "description": "PSA", "disabled": True},
    )
    assert updated.url.endswith("/new") and updated.status == "disabled"
    assert updated.description == "PSA"
    sdk.v1.customers.create(params={"name": "To the dashboard endpoint only"})
    receiver.wait(1)
    settled(control)
    assert [h["path"] for h in receiver.hits] == ["/stripe/webhook/2"]  # disabled: nothing
    deleted = sdk.v1.webhook_endpoints.delete(created.id)
    assert deleted.deleted is True and deleted.id == created.id
    with pytest.raises(stripe.InvalidRequestError) as info:
        sdk.v1.webhook_endpoints.retrieve(created.id)
    assert info.value.http_status == 404 and info.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as info:
        sdk.v1.webhook_endpoints.create(params={"url": "ftp://x", "enabled_events": ["*"]})
    assert info.value.param == "url"
    assert [w["id"] for w in control.get("/_sandbox/webhooks").json()["data"]] == [dashboard["id"]]


def test_retries_with_exponential_backoff_on_500(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    endpoint = register(control, receiver.url)
    sdk.v1.customers.create(params={"name": "Retry me"})
    hits = receiver.wait(3)
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(hits)]
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38, gaps  # base 200 ms: 0.2 s, then 0.4 s
    assert len({h["body"] for h in hits}) == 1  # the same event each time
    for hit in hits:  # each attempt is signed afresh
        stripe.Webhook.construct_event(
            hit["body"], hit["headers"]["Stripe-Signature"], endpoint["secret"]
        )
    attempts = wait_until(lambda: len(deliveries(control)) >= 3 and deliveries(control))
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in attempts] == [
        (1, 500, "failed"),
        (2, 500, "failed"),
        (3, 200, "delivered"),
    ]
    assert [a["next_attempt_in_ms"] for a in attempts] == [200, 400, None]


def test_gives_up_after_max_attempts_and_times_out(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    control.post(
        "/_sandbox/webhooks/settings", data={"max_attempts": "2", "timeout_ms": "300"}
    ).raise_for_status()
    receiver.sleep = 1.0  # longer than the timeout
    register(control, receiver.url)
    customer = sdk.v1.customers.create(params={"name": "Slow receiver"})
    assert control.get("/_sandbox/deliveries").json()["outstanding"] == 1  # queued or sending
    attempts = wait_until(lambda: len(deliveries(control)) >= 2 and deliveries(control))
    assert [a["outcome"] for a in attempts] == ["failed", "failed"]
    assert all("timed out" in a["error"] and a["status_code"] is None for a in attempts)
    assert attempts[-1]["next_attempt_in_ms"] is None
    # Given up: nothing is queued or in flight any more, and no third attempt was made.
    settled(control)
    assert len(deliveries(control)) == 2
    event = sdk.v1.events.list(params={"type": "customer.created"}).data[0]
    assert event.data.object.id == customer.id and event.pending_webhooks == 1
    failed = sdk.v1.events.list(params={"delivery_success": False})
    assert [e.id for e in failed.data] == [event.id]


def test_drop_and_duplicate_faults_show_in_deliveries(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    endpoint = register(control, receiver.url)
    r = control.post("/_sandbox/faults", data={"drop": "1", "duplicate": "1"})
    assert r.json()["faults"] == {"drop": 1.0, "duplicate": 1.0}
    customer = sdk.v1.customers.create(params={"name": "Twice, eventually"})
    dropped = wait_until(lambda: len(deliveries(control)) >= 2 and deliveries(control))
    assert {(a["outcome"], a["duplicate"], a["status_code"]) for a in dropped} == {
        ("dropped", False, None),
        ("dropped", True, None),
    }
    assert "dropped" in dropped[0]["error"]
    assert receiver.hits == []  # dropped attempts are not sent
    control.post("/_sandbox/faults").raise_for_status()  # no fields: clear all
    hits = receiver.wait(2)
    bodies = [json.loads(h["body"]) for h in hits]
    assert {b["id"] for b in bodies} == {bodies[0]["id"]}  # the same event, twice
    assert bodies[0]["data"]["object"]["id"] == customer.id
    for hit in hits:
        stripe.Webhook.construct_event(
            hit["body"], hit["headers"]["Stripe-Signature"], endpoint["secret"]
        )
    attempts = wait_until(
        lambda: (
            sum(a["outcome"] == "delivered" for a in deliveries(control)) >= 2
            and deliveries(control)
        )
    )
    delivered = [a for a in attempts if a["outcome"] == "delivered"]
    assert sorted(a["duplicate"] for a in delivered) == [False, True]
    assert all(a["attempt"] >= 2 for a in delivered)  # retried after the drop


def test_reorder_fault_changes_the_order(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    register(control, receiver.url)
    a = sdk.v1.customers.create(params={"name": "A"})
    b = sdk.v1.customers.create(params={"name": "B"})
    receiver.wait(2)
    control.post("/_sandbox/faults", data={"reorder": "1"}).raise_for_status()
    c = sdk.v1.customers.create(params={"name": "C"})  # held back…
    d = sdk.v1.customers.create(params={"name": "D"})  # …and sent after this one
    control.post("/_sandbox/faults").raise_for_status()
    receiver.wait(4)
    order = [e["data"]["object"]["id"] for e in receiver.events()]
    assert order == [a.id, b.id, d.id, c.id]
    held = receiver.events()[3]["id"]
    attempts = wait_until(lambda: deliveries(control, event=held))
    assert attempts[0]["reordered"] is True


def test_a_held_back_event_is_sent_without_a_next_one(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    control.post("/_sandbox/webhooks/settings", data={"reorder_hold_ms": "300"})
    register(control, receiver.url)
    control.post("/_sandbox/faults", data={"reorder": "1"}).raise_for_status()
    sdk.v1.customers.create(params={"name": "Alone"})
    started = time.monotonic()
    receiver.wait(1)
    assert time.monotonic() - started >= 0.25
    control.post("/_sandbox/webhooks/settings", data={"reorder_hold_ms": "2000"})


def test_delay_fault(control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver) -> None:
    register(control, receiver.url)
    r = control.post("/_sandbox/faults", data={"delay_ms": "700"})
    assert r.json()["scope"] == "sandbox"
    started = time.monotonic()
    sdk.v1.customers.create(params={"name": "Late"})
    hit = receiver.wait(1)[0]
    assert hit["at"] - started >= 0.65


def test_older_api_version_endpoints(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    old = register(control, receiver.url + "/old", api_version="2024-06-20")
    assert old["api_version"] == "2024-06-20"
    register(control, receiver.url + "/new")
    sdk.v1.customers.create(params={"name": "Versions"})
    receiver.wait(2)
    by_path = {h["path"]: h for h in receiver.hits}
    old_event = stripe.Webhook.construct_event(
        by_path["/stripe/webhook/old"]["body"],
        by_path["/stripe/webhook/old"]["headers"]["Stripe-Signature"],
        old["secret"],
    )
    assert old_event.api_version == "2024-06-20"
    assert json.loads(by_path["/stripe/webhook/new"]["body"])["api_version"] == stripe.api_version


def test_shape_event_gets_the_endpoints_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """In process: each delivery for a versioned endpoint goes through versions.shape_event."""
    from regentra.sandbox.stripe import versions, webhooks
    from regentra.sandbox.stripe.state import Sandbox

    calls: list[str | None] = []

    def shape(sandbox: Any, account: Any, event: dict[str, Any], version: str | None) -> Any:
        calls.append(version)
        return {**event, "shaped_for": version}

    monkeypatch.setattr(versions, "shape_event", shape)
    receiver = Receiver()
    sandbox = Sandbox(rate_limit=0)
    webhooks.start(sandbox)
    try:
        with sandbox.lock:
            account = sandbox.account(new_key())
            for version in ("2024-06-20", None):
                webhooks.add_endpoint(
                    sandbox,
                    account,
                    url=receiver.url,
                    enabled_events=["*"],
                    api_version=version,
                    source="dashboard",
                )
            sandbox.emit(account, "customer.created", {"object": "customer", "id": "cus_1"})
        hits = receiver.wait(2)
    finally:
        webhooks.stop(sandbox)
        receiver.close()
    assert calls == ["2024-06-20"]
    bodies = sorted((json.loads(h["body"]) for h in hits), key=lambda b: b["api_version"])
    assert bodies[0]["shaped_for"] == "2024-06-20" and bodies[0]["api_version"] == "2024-06-20"
    assert "shaped_for" not in bodies[1]


def test_deleted_endpoints_and_reset_stop_deliveries(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    endpoint = register(control, receiver.url)
    r = control.delete(f"/_sandbox/webhooks/{endpoint['id']}")
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert control.delete(f"/_sandbox/webhooks/{endpoint['id']}").status_code == 404
    sdk.v1.customers.create(params={"name": "Nobody listens"})
    receiver.fail_first = 100  # keeps retrying…
    register(control, receiver.url)
    sdk.v1.customers.create(params={"name": "Retried until reset"})
    receiver.wait(1)
    control.post("/_sandbox/reset").raise_for_status()  # …until the account is wiped
    time.sleep(0.8)
    assert len(receiver.hits) <= 2
    assert deliveries(control) == []
    assert control.get("/_sandbox/webhooks").json()["data"] == []


def test_invoice_paid_reaches_the_endpoint(
    control: httpx.Client, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    """Acceptance 4: invoice.paid, verified by the SDK; older endpoints get the old shape."""
    endpoint = register(control, receiver.url, **{"enabled_events[]": "invoice.paid"})
    old = register(
        control,
        receiver.url + "/old",
        api_version="2024-06-20",
        **{"enabled_events[]": "invoice.paid"},
    )
    customer = sdk.v1.customers.create(params={"name": "Contoso", "email": "ap@contoso.example"})
    invoice = sdk.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    sdk.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "invoice": invoice.id,
            "amount": 12500,
            "currency": "usd",
        }
    )
    sdk.v1.invoices.finalize_invoice(invoice.id)
    r = control.post(f"/_sandbox/invoices/{invoice.id}/pay", data={"method": "card"})
    assert r.status_code == 200, r.text
    hits = receiver.wait(2)
    by_path = {h["path"]: h for h in hits}
    event = stripe.Webhook.construct_event(
        by_path["/stripe/webhook"]["body"],
        by_path["/stripe/webhook"]["headers"]["Stripe-Signature"],
        endpoint["secret"],
    )
    assert event.type == "invoice.paid"
    paid = event.data.object
    assert paid.id == invoice.id and paid.status == "paid" and paid.amount_paid == 12500
    assert "charge" not in paid.to_dict() and "paid" not in paid.to_dict()
    old_event = stripe.Webhook.construct_event(
        by_path["/stripe/webhook/old"]["body"],
        by_path["/stripe/webhook/old"]["headers"]["Stripe-Signature"],
        old["secret"],
    )
    legacy = old_event.data.object
    assert old_event.api_version == "2024-06-20"
    assert legacy.paid is True and legacy.charge.startswith("ch_")
    assert legacy.payment_intent.startswith("pi_")
