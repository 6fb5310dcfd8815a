"""The /_sandbox control API: API faults seen through the SDK, the request log, reset, the
clock, endpoint registration, and parameter checks. Faults and the clock are sandbox-wide,
so this module runs its own sandbox server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import stripe
from stripe import _http_client as stripe_http

from sandbox.stripe.conftest import StripeSandbox


@pytest.fixture
def control(box: StripeSandbox, key: str) -> Iterator[httpx.Client]:
    with box.control(key) as http:
        yield http
        http.post("/_sandbox/faults").raise_for_status()


@pytest.fixture
def sdk(box: StripeSandbox, key: str) -> stripe.StripeClient:
    return box.client(key)


def test_control_needs_a_secret_key(box: StripeSandbox) -> None:
    assert httpx.get(box.url + "/_sandbox/faults").status_code == 401
    r = httpx.get(
        box.url + "/_sandbox/faults", headers={"Authorization": "Bearer pk_test_abcdefghijkl"}
    )
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"


def test_api_faults_through_the_sdk(
    box: StripeSandbox, control: httpx.Client, sdk: stripe.StripeClient
) -> None:
    r = control.post("/_sandbox/faults", data={"rate_500": "1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["faults"] == {"rate_500": 1.0} and body["scope"] == "sandbox"
    assert "every account" in body["message"]
    with pytest.raises(stripe.APIError) as info:
        sdk.v1.customers.list()
    assert info.value.http_status == 500
    with pytest.raises(stripe.APIError):  # sandbox-wide: another key is hit too
        box.client().v1.customers.list()
    assert control.get("/_sandbox/faults").json()["faults"] == {"rate_500": 1.0}

    control.post("/_sandbox/faults", data={"rate_429": "1"}).raise_for_status()
    with pytest.raises(stripe.RateLimitError) as limited:
        sdk.v1.products.create(params={"name": "Never"})
    assert limited.value.http_status == 429
    assert limited.value.json_body["error"]["code"] == "rate_limit"

    control.post("/_sandbox/faults", data={"latency_ms": "400"}).raise_for_status()
    started = time.monotonic()
    sdk.v1.customers.list()
    assert time.monotonic() - started >= 0.38
    assert control.get("/_sandbox/faults").json()["faults"] == {"latency_ms": 400.0}

    cleared = control.post("/_sandbox/faults").json()
    assert cleared["faults"] == {}
    started = time.monotonic()
    assert sdk.v1.customers.list().data == []
    assert time.monotonic() - started < 0.38


def test_sdk_retries_injected_500s(
    box: StripeSandbox, control: httpx.Client, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK's own back-off (0.5 s doubling to 5 s, with jitter) is not under test here: at a
    # 50% failure rate it made this test take up to 20 s.
    monkeypatch.setattr(stripe_http.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe_http.HTTPClient, "MAX_DELAY", 0.05)
    control.post("/_sandbox/faults", data={"rate_500": "0.5"}).raise_for_status()
    retrying = stripe.StripeClient(key, base_addresses={"api": box.url}, max_network_retries=8)
    for i in range(3):
        retrying.v1.customers.create(params={"name": f"Eventually {i}"})
    control.post("/_sandbox/faults").raise_for_status()
    statuses = [r["status"] for r in control.get("/_sandbox/requests").json()["data"]]
    assert statuses.count(200) == 3 and set(statuses) <= {200, 500}
    assert len(retrying.v1.customers.list().data) == 3


def test_fault_parameters_are_checked(control: httpx.Client) -> None:
    for data, param in (
        ({"rate_500": "2"}, "rate_500"),
        ({"drop": "-0.1"}, "drop"),
        ({"duplicate": "often"}, "duplicate"),
        ({"latency_ms": "999999"}, "latency_ms"),
        ({"chaos": "1"}, "chaos"),
    ):
        r = control.post("/_sandbox/faults", data=data)
        assert r.status_code == 400, data
        error = r.json()["error"]
        assert error["param"] == param and error["type"] == "invalid_request_error"
        assert error["message"]
    assert control.get("/_sandbox/faults").json()["faults"] == {}
    full = control.post(
        "/_sandbox/faults",
        data={"drop": "0.1", "duplicate": "0.2", "reorder": "0.3", "delay_ms": "5"},
    )
    assert full.json()["faults"] == {"drop": 0.1, "duplicate": 0.2, "reorder": 0.3, "delay_ms": 5}
    # Posting replaces the whole set.
    assert control.post("/_sandbox/faults", data={"drop": "0.5"}).json()["faults"] == {"drop": 0.5}


def test_request_log_records_idempotency_keys(
    control: httpx.Client, sdk: stripe.StripeClient
) -> None:
    first = sdk.v1.customers.create(
        params={"name": "Once"}, options={"idempotency_key": "regentra-inv-42"}
    )
    again = sdk.v1.customers.create(
        params={"name": "Once"}, options={"idempotency_key": "regentra-inv-42"}
    )
    assert again.id == first.id
    sdk.v1.customers.retrieve(first.id)
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.customers.retrieve("cus_missing")
    control.get("/_sandbox/faults")  # control calls are not logged
    log = control.get("/_sandbox/requests").json()
    assert log["object"] == "list"
    rows = [(r["method"], r["path"], r["status"], r["idempotency_key"]) for r in log["data"]]
    assert rows == [
        ("POST", "/v1/customers", 200, "regentra-inv-42"),
        ("POST", "/v1/customers", 200, "regentra-inv-42"),
        ("GET", f"/v1/customers/{first.id}", 200, None),
        ("GET", "/v1/customers/cus_missing", 404, None),
    ]
    assert all(r["request_id"].startswith("req_") for r in log["data"])
    sdk.v1.customers.create(params={"name": "Auto key"})
    last = control.get("/_sandbox/requests", params={"limit": "1"}).json()
    assert len(last["data"]) == 1 and last["has_more"] is True
    assert last["data"][0]["idempotency_key"]  # the SDK adds one to every POST
    assert control.get("/_sandbox/requests", params={"limit": "0"}).status_code == 400


def test_reset_wipes_only_this_account(
    box: StripeSandbox, control: httpx.Client, sdk: stripe.StripeClient
) -> None:
    other = box.client()
    kept = other.v1.customers.create(params={"name": "Other account"})
    product = sdk.v1.products.create(params={"name": "Gone"})
    sdk.v1.customers.create(params={"name": "Gone"}, options={"idempotency_key": "k-1"})
    control.post("/_sandbox/webhooks", data={"url": "http://127.0.0.1:9/hook"})
    account = sdk.v1.accounts.retrieve_current().id

    r = control.post("/_sandbox/reset")
    assert r.status_code == 200 and r.json()["account"] == account
    assert control.get("/_sandbox/requests").json()["data"] == []
    assert sdk.v1.products.list().data == [] and sdk.v1.customers.list().data == []
    assert sdk.v1.events.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.products.retrieve(product.id)
    assert control.get("/_sandbox/webhooks").json()["data"] == []
    # Idempotency keys are forgotten too: the same key creates a new customer.
    fresh = sdk.v1.customers.create(params={"name": "Gone"}, options={"idempotency_key": "k-1"})
    assert [c.id for c in sdk.v1.customers.list().data] == [fresh.id]
    assert sdk.v1.accounts.retrieve_current().id == account  # same account, emptied
    assert other.v1.customers.retrieve(kept.id).name == "Other account"

    control.post("/_sandbox/webhooks", data={"url": "http://127.0.0.1:9/hook"})
    kept_hooks = control.post("/_sandbox/reset", data={"keep_webhooks": "true"}).json()
    assert kept_hooks["webhook_endpoints_kept"] == 1
    assert len(control.get("/_sandbox/webhooks").json()["data"]) == 1
    assert sdk.v1.customers.list().data == []


def test_clock_advance(control: httpx.Client, sdk: stripe.StripeClient) -> None:
    before = control.get("/_sandbox/clock").json()
    assert before["scope"] == "sandbox" and abs(before["now"] - time.time()) < 10 + abs(
        before["offset_seconds"]
    )
    moved = control.post("/_sandbox/clock/advance", data={"seconds": "86400"})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["now"] >= before["now"] + 86400 and body["advanced_seconds"] == 86400
    assert body["offset_seconds"] == before["offset_seconds"] + 86400
    assert body["previous"] >= before["now"]
    product = sdk.v1.products.create(params={"name": "From tomorrow"})
    assert product.created >= before["now"] + 86400
    assert control.get("/_sandbox/clock").json()["now"] >= body["now"]
    for data in ({}, {"seconds": "-5"}, {"seconds": "soon"}, {"seconds": "1", "days": "2"}):
        r = control.post("/_sandbox/clock/advance", data=data)
        assert r.status_code == 400, data
        assert r.json()["error"]["param"] in ("seconds", "days")


def test_webhook_registration(control: httpx.Client, sdk: stripe.StripeClient) -> None:
    r = control.post(
        "/_sandbox/webhooks",
        data={
            "url": "https://psa.example/stripe/webhook",
            "api_version": "2024-06-20",
            "enabled_events[]": ["invoice.paid", "invoice.payment_failed"],
        },
    )
    assert r.status_code == 200, r.text
    hook = r.json()
    assert hook["id"].startswith("we_") and hook["secret"].startswith("whsec_")
    assert len(hook["secret"]) > 30
    assert hook["enabled_events"] == ["invoice.paid", "invoice.payment_failed"]
    assert hook["api_version"] == "2024-06-20" and hook["source"] == "dashboard"
    plain = control.post("/_sandbox/webhooks", data={"url": "http://127.0.0.1:1/h"}).json()
    assert plain["enabled_events"] == ["*"] and plain["api_version"] is None
    assert plain["secret"] != hook["secret"]
    listed = control.get("/_sandbox/webhooks").json()["data"]
    assert [(h["id"], h["secret"]) for h in listed] == [
        (hook["id"], hook["secret"]),
        (plain["id"], plain["secret"]),
    ]
    # A Dashboard endpoint is visible through the API too, without its secret.
    endpoint = sdk.v1.webhook_endpoints.retrieve(hook["id"])
    assert endpoint.url == "https://psa.example/stripe/webhook"
    assert "secret" not in endpoint.to_dict()
    assert control.delete(f"/_sandbox/webhooks/{plain['id']}").json()["deleted"] is True
    assert [h["id"] for h in control.get("/_sandbox/webhooks").json()["data"]] == [hook["id"]]


def test_webhook_registration_is_checked(control: httpx.Client) -> None:
    for data, param, code in (
        ({}, "url", "parameter_missing"),
        ({"url": "not a url"}, "url", "url_invalid"),
        ({"url": "http://h/x", "api_version": "2099-01-01"}, "api_version", None),
        ({"url": "http://h/x", "enabled_events[]": "invoice.pied"}, "enabled_events[0]", None),
        ({"url": "http://h/x", "secret": "whsec_mine"}, "secret", "parameter_unknown"),
    ):
        r = control.post("/_sandbox/webhooks", data=data)
        assert r.status_code == 400, data
        error = r.json()["error"]
        assert error["param"] == param, error
        if code:
            assert error["code"] == code
    assert control.delete("/_sandbox/webhooks/we_nope").status_code == 404
    for data in ({"max_attempts": "0"}, {"retry_base_ms": "fast"}, {"backoff": "2"}):
        assert control.post("/_sandbox/webhooks/settings", data=data).status_code == 400
    assert control.get("/_sandbox/webhooks/settings").json()["max_attempts"] >= 1
    for _ in range(16 - len(control.get("/_sandbox/webhooks").json()["data"])):
        control.post("/_sandbox/webhooks", data={"url": "http://h/x"}).raise_for_status()
    too_many = control.post("/_sandbox/webhooks", data={"url": "http://h/x"})
    assert too_many.status_code == 400 and "maximum" in too_many.json()["error"]["message"]


def test_unknown_control_route(control: httpx.Client) -> None:
    r = control.post("/_sandbox/nope")
    assert r.status_code == 404 and "Unrecognized request URL" in r.json()["error"]["message"]
