"""Events through the SDK: list with type / types[] / created filters, pagination both ways,
retrieve, shapes, and isolation between keys."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

from sandbox.stripe.shapes import assert_shape


def test_objects_emit_events(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Backup"})
    client.v1.products.update(product.id, params={"name": "Backup Pro"})
    customer = client.v1.customers.create(params={"name": "Contoso"})
    events = client.v1.events.list()
    assert [e.type for e in events.data] == [
        "customer.created",
        "product.updated",
        "product.created",
    ]
    assert events.has_more is False and events.url == "/v1/events"
    newest = events.data[0]
    assert newest.id.startswith("evt_") and newest.data.object.id == customer.id
    assert newest.api_version == stripe.api_version and newest.livemode is False
    updated = events.data[1]
    assert updated.data.previous_attributes.name == "Backup"
    assert updated.data.object.name == "Backup Pro"
    for event in events.data:
        assert_shape(event, stripe.Event)
    fetched = client.v1.events.retrieve(newest.id)
    assert fetched.to_dict() == newest.to_dict()


def test_event_data_is_a_snapshot(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Before"})
    client.v1.products.update(product.id, params={"name": "After"})
    created = client.v1.events.list(params={"type": "product.created"}).data[0]
    assert created.data.object.name == "Before"


def test_filter_by_type_and_types(client: stripe.StripeClient) -> None:
    client.v1.products.create(params={"name": "P"})
    product = client.v1.products.create(params={"name": "Q"})
    client.v1.prices.create(params={"product": product.id, "unit_amount": 100, "currency": "usd"})
    client.v1.customers.create(params={"name": "C"})
    only = client.v1.events.list(params={"type": "product.created"})
    assert [e.type for e in only.data] == ["product.created", "product.created"]
    assert only.data[0].data.object.id == product.id
    several = client.v1.events.list(params={"types": ["price.created", "customer.created"]})
    assert [e.type for e in several.data] == ["customer.created", "price.created"]
    wildcard = client.v1.events.list(params={"type": "pr*.created"})
    assert [e.type for e in wildcard.data] == [
        "price.created",
        "product.created",
        "product.created",
    ]
    group = client.v1.events.list(params={"type": "customer.*"})
    assert [e.type for e in group.data] == ["customer.created"]
    assert client.v1.events.list(params={"type": "invoice.paid"}).data == []
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.events.list(params={"type": "product.created", "types": ["price.created"]})
    assert info.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.events.list(params={"types": [f"t{i}.x" for i in range(21)]})
    assert info.value.param == "types"


def test_filter_by_created(client: stripe.StripeClient) -> None:
    client.v1.customers.create(params={"name": "Early"})
    early = client.v1.events.list().data[0]
    time.sleep(1.1)
    client.v1.customers.create(params={"name": "Late"})
    late = client.v1.events.list().data[0]
    assert late.created > early.created

    def ids(created: Any) -> list[str]:
        return [e.id for e in client.v1.events.list(params={"created": created}).data]

    assert ids({"gte": late.created}) == [late.id]
    assert ids({"gt": early.created}) == [late.id]
    assert ids({"lt": late.created}) == [early.id]
    assert ids({"lte": late.created, "gte": early.created}) == [late.id, early.id]
    assert ids(early.created) == [early.id]
    assert ids({"gt": late.created}) == []


def test_pagination_both_ways(client: stripe.StripeClient) -> None:
    for i in range(25):
        client.v1.customers.create(params={"name": f"Customer {i}"})
    every = list(client.v1.events.list(params={"limit": 7}).auto_paging_iter())
    assert len(every) == 25 and len({e.id for e in every}) == 25
    names = [e.data.object.name for e in every]
    assert names == [f"Customer {i}" for i in reversed(range(25))]  # newest first
    first = client.v1.events.list(params={"limit": 10})
    assert first.has_more is True and len(first.data) == 10
    second = client.v1.events.list(params={"limit": 10, "starting_after": first.data[-1].id})
    assert [e.id for e in second.data] == [e.id for e in every[10:20]]
    back = client.v1.events.list(params={"limit": 10, "ending_before": second.data[0].id})
    assert [e.id for e in back.data] == [e.id for e in first.data]
    tail = client.v1.events.list(params={"limit": 10, "starting_after": every[19].id})
    assert tail.has_more is False and len(tail.data) == 5
    for limit in (0, 101):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.events.list(params={"limit": limit})
        assert info.value.param == "limit"


def test_retrieve_unknown_and_unknown_parameters(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.events.retrieve("evt_doesnotexist")
    assert info.value.http_status == 404 and info.value.code == "resource_missing"
    assert "evt_doesnotexist" in str(info.value)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.events.list(params={"object": "customer"})  # type: ignore[typeddict-unknown-key]
    assert info.value.code == "parameter_unknown"


def test_events_are_per_account(stripe_sandbox: Any, client: stripe.StripeClient) -> None:
    client.v1.customers.create(params={"name": "Mine"})
    mine = client.v1.events.list().data[0]
    other = stripe_sandbox.client()
    assert other.v1.events.list().data == []
    with pytest.raises(stripe.InvalidRequestError) as info:
        other.v1.events.retrieve(mine.id)
    assert info.value.http_status == 404


def test_events_over_plain_http(stripe_sandbox: Any, sk: str) -> None:
    """The wire format: bracketed query parameters."""
    stripe_sandbox.client(sk).v1.customers.create(params={"name": "Wire"})
    r = httpx.get(
        stripe_sandbox.url + "/v1/events",
        params={"types[]": ["customer.created"], "created[gte]": "0", "limit": "1"},
        headers={"Authorization": f"Bearer {sk}"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["data"][0]["type"] == "customer.created"
    assert body["data"][0]["pending_webhooks"] == 0  # no endpoints
