"""Webhook deliveries at the edges (in-process, SQLite and PostgreSQL): a body that is not
UTF-8 or nests too deep, a signature from the future, a `livemode` that is not a boolean →
400 with a generic message, the reason on the org's Stripe card, nothing stored; never 500."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import stripe
from conftest import Site
from structlog.testing import capture_logs

from integrations.conftest import Billing, StripeApp, connect_billing
from integrations.stripe.test_webhook_events import (
    body_of,
    connection,
    deliver,
    make_event,
    sign,
    stored,
    webhook_url,
)
from regentra.integrations.stripe import payload_checks


@pytest.fixture
def billing(stripe_app: StripeApp) -> Billing:
    return connect_billing(stripe_app)


def _refused(billing: Billing, response: httpx.Response, reason: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == {"error": {"code": "webhook_rejected", "message": "webhook rejected"}}
    got = connection(billing)["last_webhook_rejection"]
    assert got is not None and reason in got["reason"], got
    assert stored(billing) == []


def test_a_body_that_is_not_utf8_is_refused(billing: Billing) -> None:
    url = webhook_url(billing)
    text = json.dumps(make_event("customer.created", {"id": "cus_1", "name": "Caf\u00e9"}))
    body = text.replace("\\u00e9", "\u00e9").encode()
    latin1 = body.decode().encode("latin-1")
    assert latin1 != body
    r = deliver(billing.kit, url, latin1, sign(latin1, billing.webhook_secret))
    _refused(billing, r, "not UTF-8")
    utf16 = body.decode().encode("utf-16")
    r = deliver(billing.kit, url, utf16, sign(utf16, billing.webhook_secret))
    _refused(billing, r, "not UTF-8")


def test_json_nested_too_deep_is_refused(billing: Billing) -> None:
    url = webhook_url(billing)
    for depth in (65, 5000, 100_000):
        nested = "[" * depth + "]" * depth
        text = json.dumps(make_event("customer.created", {"id": "cus_1"}))
        body = text.replace('"cus_1"', nested).encode()
        r = deliver(billing.kit, url, body, sign(body, billing.webhook_secret))
        _refused(billing, r, "nests deeper than 64")
    # 64 levels in all, brackets in strings not counted: accepted.
    inner = "[" * 60 + "]" * 60  # event → data → object → x → 60 more
    event = make_event("customer.created", {"id": "cus_2", "name": "[[[[{{{{" * 20})
    body = json.dumps(event).replace('"cus_2"', '"cus_2", "x": ' + inner).encode()
    assert payload_checks.depth(body.decode()) == 63
    r = deliver(billing.kit, url, body, sign(body, billing.webhook_secret))
    assert r.status_code == 200, r.text


def test_a_signature_from_the_future_is_refused(billing: Billing) -> None:
    url = webhook_url(billing)
    body = body_of(make_event("customer.created", {"id": "cus_1"}))
    # 30 s past the tolerance: the time the delivery takes on a busy machine (CI once took
    # more than the 1 s a `+ 301` left) cannot bring it back within. The exact boundary is
    # checked on a fixed clock below.
    later = int(time.time()) + 330
    r = deliver(billing.kit, url, body, sign(body, billing.webhook_secret, at=later))
    _refused(billing, r, "in the future")
    at = 1_800_000_000
    assert payload_checks.timestamp_problem(f"t={at + 301},v1=x", 300, now=at) is not None
    assert payload_checks.timestamp_problem(f"t={at + 300},v1=x", 300, now=at) is None
    soon = int(time.time()) + 120  # clocks differ a little: within the tolerance
    r = deliver(billing.kit, url, body, sign(body, billing.webhook_secret, at=soon))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("livemode", ["false", "0", "null", '"false"', None])
def test_livemode_must_be_a_boolean(billing: Billing, livemode: str | None) -> None:
    url = webhook_url(billing)
    event = make_event("customer.created", {"id": "cus_1"})
    text = json.dumps(event)
    if livemode is None:
        body = json.dumps({k: v for k, v in event.items() if k != "livemode"}).encode()
    else:
        body = text.replace('"livemode": false', f'"livemode": {livemode}').encode()
    r = deliver(billing.kit, url, body, sign(body, billing.webhook_secret))
    if livemode == "false":
        assert r.status_code == 200, r.text
        return
    _refused(billing, r, "livemode is not true or false")


def test_the_caller_gets_a_generic_message(billing: Billing) -> None:
    """Signature problems too: the details are on the card only."""
    url = webhook_url(billing)
    body = body_of(make_event("customer.created", {"id": "cus_1"}))
    r = deliver(billing.kit, url, body, sign(body, "whsec_other"))
    _refused(billing, r, "signature does not match")
    r = deliver(billing.kit, url, body)
    _refused(billing, r, "Stripe-Signature header is missing")


def test_our_log_lines_never_hold_the_webhook_token(
    billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault on the webhook path (here the SDK failing) is logged by path: redacted."""
    url = webhook_url(billing)
    token = url.rsplit("/", 1)[1]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the SDK failed")

    monkeypatch.setattr(stripe.WebhookSignature, "verify_header", broken)
    body = body_of(make_event("customer.created", {"id": "cus_1"}))
    assert isinstance(billing.kit.server, Site)
    with capture_logs() as logs, billing.kit.server.http(raise_server_exceptions=False) as http:
        r = http.post(url, content=body, headers={"Stripe-Signature": "t=1,v1=x"})
    assert r.status_code == 500, r.text
    assert [e["path"] for e in logs if e["event"] == "unhandled error"] == [
        "/api/webhooks/stripe/…"
    ]
    assert token not in repr(logs)
