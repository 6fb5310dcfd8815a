"""`POST /api/webhooks/stripe/{token}`, on SQLite and PostgreSQL: the Stripe sandbox as
another server delivering signed events over real HTTP, and deliveries replayed by the test
with signatures made as Stripe makes them.

In-process (the default: `stripe_app`, the app in the test's transaction): the tests that
stop the sandbox's deliveries and deliver events themselves, through the app in-process
(`deliver`); jobs the webhooks enqueue (the processing lookup) run when the test calls
`run_tasks`. e2e (`stripe_server`, a real `regentra serve` with its own consumer): the
sandbox's own deliveries (it cannot reach an in-process app), waited for in its deliveries
log, and the test that scans the server's log.

Covered: paid by card on the hosted page → webhook → paid with one audit entry; ACH
processing noted then settled → paid (and a failed bank payment clears the note); declined
card → audit entry, still sent; wrong secret, missing secret, stale timestamp, tampered body,
missing or malformed signature → 400, nothing stored, rejection recorded; every delivery
duplicated and reordered by the sandbox and replayed a third time → one transition and one
audit entry; events replayed in reverse order; org B's token carrying org A's invoice →
ignored; a live-mode delivery to a test-mode org → rejected; an endpoint on an old API version
→ handled; odd payloads → stored, 200; a body over 1 MiB → 413; reconciliation reusing the
same handler.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import OrgKit, Site
from sandbox.stripe.conftest import new_key
from sandbox.stripe.receiver import deliveries, register
from sqlalchemy import select, update

from integrations.conftest import Billing, StripeApp, assert_no_secret, connect_billing
from regentra import queue
from regentra.integrations.stripe import handlers
from regentra.models import AuditEvent, StripeEvent

OLD_API_VERSION = "2024-06-20"  # before 2025-03-31: invoices carry `charge`, `paid`, …


# ---- helpers (also used by test_webhook_concurrency.py) ----------------------------------------


def wait_for(check: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def sign(payload: bytes, secret: str, *, at: int | None = None) -> str:
    """`Stripe-Signature` as Stripe makes it (the SDK's scheme): t=…,v1=HMAC-SHA256."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _headers(signature: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return headers


def post(url: str, body: bytes, signature: str | None = None) -> httpx.Response:
    """A delivery over HTTP, to a real server."""
    return httpx.post(url, content=body, headers=_headers(signature), timeout=30)


def deliver(kit: OrgKit, url: str, body: bytes, signature: str | None = None) -> httpx.Response:
    """A delivery to `url` as the test makes it: through the app in-process when `kit`'s app
    is in-process, else over HTTP."""
    if isinstance(kit.server, Site):
        with kit.server.http() as http:
            return http.post(url, content=body, headers=_headers(signature))
    return post(url, body, signature)


def make_event(
    type_: str, obj: dict[str, Any], *, livemode: bool = False, api_version: str | None = None
) -> dict[str, Any]:
    return {
        "id": "evt_" + uuid.uuid4().hex[:24],
        "object": "event",
        "api_version": api_version or "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()  # pretty-printed, as Stripe sends it


def webhook_url(billing: Billing) -> str:
    with billing.kit.api() as api:
        return str(api.get("/integrations/stripe").json()["webhook_url"])


def connection(billing: Billing) -> dict[str, Any]:
    with billing.kit.api() as api:
        state: dict[str, Any] = api.get("/integrations/stripe").json()
        return state


def invoice_state(billing: Billing, invoice_id: str) -> dict[str, Any]:
    with billing.kit.api() as api:
        r = api.get(f"/invoices/{invoice_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def audits(billing: Billing, invoice_id: str, action: str) -> list[AuditEvent]:
    with billing.kit.db.session() as s:
        stmt = select(AuditEvent).where(
            AuditEvent.org_id == billing.kit.org.id,
            AuditEvent.subject_type == "invoice",
            AuditEvent.subject_id == str(invoice_id),
            AuditEvent.action == action,
        )
        return list(s.scalars(stmt))


def stored(billing: Billing, **where: Any) -> list[StripeEvent]:
    with billing.kit.db.session() as s:
        stmt = select(StripeEvent).where(StripeEvent.org_id == billing.kit.org.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(StripeEvent, name) == value)
        return list(s.scalars(stmt.order_by(StripeEvent.received_at)))


def sent_invoice(billing: Billing, **kw: Any) -> dict[str, Any]:
    """A sent invoice, through `POST /invoices/{id}/send` (the real send)."""
    invoice = billing.sent_invoice(**kw)
    assert invoice["stripe_invoice_id"] and invoice["hosted_invoice_url"], invoice
    return invoice


def raw_event(billing: Billing, event_id: str) -> dict[str, Any]:
    """An event as the Events API returns it (the JSON, not the SDK's object)."""
    with billing.control() as ctl:
        r = ctl.get(f"/v1/events/{event_id}")
    assert r.status_code == 200, r.text
    event: dict[str, Any] = r.json()
    return event


def events_of(billing: Billing, stripe_invoice_id: str, *types: str) -> list[dict[str, Any]]:
    """The account's events about one invoice (its invoice events), oldest first."""
    found = []
    for event in billing.stripe.v1.events.list(params={"limit": 100}).auto_paging_iter():
        if event.type in types and getattr(event.data.object, "id", None) == stripe_invoice_id:
            found.append(raw_event(billing, event.id))
    return sorted(found, key=lambda e: (e["created"], e["id"]))


def wait_delivered(billing: Billing, event_id: str, times: int = 1) -> list[dict[str, Any]]:
    """The sandbox's attempts of one event once `times` of them were answered 2xx."""

    def done() -> list[dict[str, Any]] | None:
        with billing.control() as ctl:
            attempts = deliveries(ctl, event=event_id)
        ok = [a for a in attempts if a["outcome"] == "delivered"]
        return attempts if len(ok) >= times else None

    found: list[dict[str, Any]] = wait_for(done, what=f"delivery of {event_id}")
    return found


def stripe_requests(billing: Billing) -> int:
    with billing.control() as ctl:
        r = ctl.get("/_sandbox/requests")
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


def pay(billing: Billing, stripe_invoice_id: str, method: str = "card") -> dict[str, Any]:
    with billing.control() as ctl:
        r = ctl.post(f"/_sandbox/invoices/{stripe_invoice_id}/pay", data={"method": method})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def settle(billing: Billing, stripe_invoice_id: str, outcome: str = "succeeded") -> None:
    with billing.control() as ctl:
        r = ctl.post(f"/_sandbox/invoices/{stripe_invoice_id}/settle", data={"outcome": outcome})
    assert r.status_code == 200, r.text


def wait_handled(billing: Billing, invoice: dict[str, Any], type_: str) -> None:
    """e2e: wait until the sandbox's deliveries log shows every `type_` event about `invoice`
    answered 2xx by the server (which handles invoice events on the request itself)."""
    events = events_of(billing, invoice["stripe_invoice_id"], type_)
    assert events, f"no {type_} event about {invoice['number']}"
    for event in events:
        wait_delivered(billing, event["id"])


def wait_paid(billing: Billing, invoice: dict[str, Any]) -> dict[str, Any]:
    """e2e: the invoice's state once its `invoice.paid` delivery was answered: paid."""
    wait_handled(billing, invoice, "invoice.paid")
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "paid", state
    return state


def save_signing_secret(billing: Billing, secret: str) -> None:
    """Settings → Integrations → Stripe: paste an endpoint's signing secret."""
    with billing.kit.api() as api:
        saved = api.put(
            "/integrations/stripe",
            json={
                "publishable_key": connection(billing)["publishable_key"],
                "webhook_signing_secret": secret,
            },
        )
    assert saved.status_code == 200, saved.text


def use_endpoint(billing: Billing, **params: str) -> Billing:
    """Replace the org's endpoint in the sandbox (e.g. with another `api_version`) and save
    the new endpoint's signing secret, as an admin would."""
    url = webhook_url(billing)
    with billing.control() as ctl:
        assert ctl.delete(f"/_sandbox/webhooks/{billing.endpoint_id}").status_code == 200
        endpoint = register(ctl, url, **params)
    save_signing_secret(billing, endpoint["secret"])
    billing.webhook_secret = endpoint["secret"]
    billing.endpoint_id = endpoint["id"]
    return billing


def stop_deliveries(billing: Billing) -> None:
    """Remove the org's endpoint from the sandbox: the test delivers events itself."""
    with billing.control() as ctl:
        assert ctl.delete(f"/_sandbox/webhooks/{billing.endpoint_id}").status_code == 200


@pytest.fixture
def billing(stripe_app: StripeApp) -> Billing:
    """An org connected to the app in-process (its sandbox deliveries cannot reach it)."""
    return connect_billing(stripe_app)


# ---- paying ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_card_payment_on_the_hosted_page_marks_the_invoice_paid(stripe_server: StripeApp) -> None:
    billing = connect_billing(stripe_server)
    invoice = sent_invoice(billing, minutes=90, rate=12000)
    assert invoice["total"] == 18000
    url = invoice["hosted_invoice_url"]
    page = httpx.get(url, timeout=30)
    assert page.status_code == 200, page.text
    paid = httpx.post(url + "/card", data={"card_number": "4242 4242 4242 4242"}, timeout=30)
    assert paid.status_code == 200, paid.text

    state = wait_paid(billing, invoice)
    assert state["amount_paid"] == 18000
    assert state["paid_at"] is not None
    assert state["payment_processing"] is False
    (audit,) = audits(billing, invoice["id"], "invoice.paid")
    assert audit.details["message"] == "payment received (Stripe webhook)"
    assert audit.details["amount_paid"] == 18000
    assert audit.actor_type == "stripe"
    wait_handled(billing, invoice, "invoice.payment_succeeded")
    (succeeded,) = audits(billing, invoice["id"], "invoice.payment_succeeded")
    assert succeeded.details["message"] == "payment succeeded in Stripe"

    (event,) = stored(billing, type="invoice.paid")
    assert event.object_id == invoice["stripe_invoice_id"]
    assert event.outcome == f"paid: invoice {invoice['number']}"
    assert event.processed_at is not None and event.source == "webhook"
    assert audit.details["stripe_event_id"] == event.event_id
    # Every event of the account reached the org and was answered 2xx, stored once.
    for attempt in wait_delivered(billing, event.event_id):
        assert attempt["status_code"] == 200, attempt
    with billing.control() as ctl:
        failed = [d for d in deliveries(ctl) if d["outcome"] != "delivered"]
    assert failed == []
    ids = [e.event_id for e in stored(billing)]
    assert len(ids) == len(set(ids)) and len(ids) >= 4
    assert connection(billing)["last_webhook_rejection"] is None


@pytest.mark.e2e
def test_ach_payment_is_noted_as_processing_then_settles_to_paid(stripe_server: StripeApp) -> None:
    billing = connect_billing(stripe_server)
    invoice = sent_invoice(billing)
    pay(billing, invoice["stripe_invoice_id"], "ach")

    # The PaymentIntent (this API version) does not name its invoice: a task looks it up (the
    # server's consumer: wait for its result).
    state = wait_for(
        lambda: (s := invoice_state(billing, invoice["id"]))["payment_processing"] and s,
        what="payment processing noted",
    )
    assert state["status"] == "sent"
    assert state["payment_processing_at"] is not None
    (noted,) = audits(billing, invoice["id"], "invoice.payment_processing")
    assert noted.details["message"] == "bank payment processing"
    (event,) = stored(billing, type="payment_intent.processing")
    assert event.outcome == f"processing noted: invoice {invoice['number']}"
    assert event.processed_at is not None

    settle(billing, invoice["stripe_invoice_id"])
    state = wait_paid(billing, invoice)
    assert state["payment_processing"] is False
    assert state["amount_paid"] == invoice["total"]
    assert len(audits(billing, invoice["id"], "invoice.paid")) == 1
    assert len(audits(billing, invoice["id"], "invoice.payment_processing")) == 1


@pytest.mark.e2e
def test_failed_bank_payment_is_audited_and_clears_the_processing_note(
    stripe_server: StripeApp,
) -> None:
    billing = connect_billing(stripe_server)
    invoice = sent_invoice(billing)
    pay(billing, invoice["stripe_invoice_id"], "ach")
    wait_for(
        lambda: invoice_state(billing, invoice["id"])["payment_processing"],
        what="payment processing noted",
    )
    # The failure is a later second than the processing (events are in seconds): the
    # sandbox's clock (sandbox-wide) moves on a second instead of the test sleeping.
    with billing.control() as ctl:
        ctl.post("/_sandbox/clock/advance", data={"seconds": "1"}).raise_for_status()
    settle(billing, invoice["stripe_invoice_id"], "failed")
    wait_handled(billing, invoice, "invoice.payment_failed")
    (failed,) = audits(billing, invoice["id"], "invoice.payment_failed")
    assert failed.details["message"].startswith("payment failed")
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "sent"
    assert state["payment_processing"] is False
    assert audits(billing, invoice["id"], "invoice.paid") == []


@pytest.mark.e2e
def test_declined_card_is_audited_and_the_invoice_stays_sent(stripe_server: StripeApp) -> None:
    billing = connect_billing(stripe_server)
    invoice = sent_invoice(billing)
    declined = httpx.post(
        invoice["hosted_invoice_url"] + "/card",
        data={"card_number": "4000 0000 0000 0002"},
        timeout=30,
    )
    assert declined.status_code == 402, declined.text
    wait_handled(billing, invoice, "invoice.payment_failed")
    (failed,) = audits(billing, invoice["id"], "invoice.payment_failed")
    assert failed.details["message"].startswith("payment failed")
    assert failed.details["stripe_invoice_id"] == invoice["stripe_invoice_id"]
    # The server's worker then reads the decline reason from the PaymentIntent.
    (event,) = wait_for(
        lambda: [e for e in stored(billing, type="invoice.payment_failed") if e.processed_at],
        what="the decline reason lookup",
    )
    assert event.outcome is not None
    assert event.outcome.startswith("payment failed: Your card was declined.")
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "sent" and state["paid_at"] is None
    assert state["payment_failure"] == "Your card was declined. (generic decline)"
    assert audits(billing, invoice["id"], "invoice.paid") == []

    # The client tries again with a good card: paid, once.
    paid = httpx.post(
        invoice["hosted_invoice_url"] + "/card",
        data={"card_number": "4242424242424242"},
        timeout=30,
    )
    assert paid.status_code == 200, paid.text
    assert wait_paid(billing, invoice)["payment_failure"] is None
    assert len(audits(billing, invoice["id"], "invoice.paid")) == 1
    assert len(audits(billing, invoice["id"], "invoice.payment_failed")) == 1


def test_failure_message_in_the_payload_is_audited(billing: Billing) -> None:
    """An older API version's payload carries the PaymentIntent, with its decline reason: it
    is audited and noted on the invoice without a Stripe call."""
    invoice = sent_invoice(billing)
    stop_deliveries(billing)
    event = make_event(
        "invoice.payment_failed",
        {
            "id": invoice["stripe_invoice_id"],
            "object": "invoice",
            "status": "open",
            "attempt_count": 2,
            "payment_intent": {
                "id": "pi_" + uuid.uuid4().hex[:24],
                "object": "payment_intent",
                "last_payment_error": {
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "message": "Your card has insufficient funds.",
                    "type": "card_error",
                },
            },
        },
        api_version=OLD_API_VERSION,
    )
    body = body_of(event)
    before = stripe_requests(billing)
    r = deliver(billing.kit, webhook_url(billing), body, sign(body, billing.webhook_secret))
    assert r.status_code == 200, r.text
    assert stripe_requests(billing) == before
    (failed,) = audits(billing, invoice["id"], "invoice.payment_failed")
    assert failed.details["message"] == "payment failed: Your card has insufficient funds."
    assert failed.details["attempt_count"] == 2
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "sent"
    assert state["payment_failure"] == "Your card has insufficient funds."


# ---- rejected deliveries -----------------------------------------------------------------------


@pytest.mark.e2e
def test_rejected_deliveries_store_nothing_and_change_nothing(stripe_server: StripeApp) -> None:
    """e2e: ends with a scan of the server's log."""
    billing = connect_billing(stripe_server)
    invoice = sent_invoice(billing)
    stop_deliveries(billing)
    url = webhook_url(billing)
    secret = billing.webhook_secret
    paid_obj = {
        "id": invoice["stripe_invoice_id"],
        "object": "invoice",
        "status": "paid",
        "amount_paid": invoice["total"],
    }
    event = make_event("invoice.paid", paid_obj)
    body = body_of(event)

    def rejected(response: httpx.Response, reason: str) -> None:
        assert response.status_code == 400, response.text
        got = connection(billing)["last_webhook_rejection"]
        assert got is not None and reason in got["reason"], got
        assert response.json()["error"]["message"] == "webhook rejected"  # details: the card
        assert stored(billing, type="invoice.paid") == []
        assert invoice_state(billing, invoice["id"])["status"] == "sent"
        assert audits(billing, invoice["id"], "invoice.paid") == []

    other = "whsec_" + uuid.uuid4().hex
    rejected(post(url, body, sign(body, other)), "signature does not match")  # wrong secret
    stale = int(time.time()) - 301
    rejected(post(url, body, sign(body, secret, at=stale)), "too old")
    tampered = body.replace(
        b'"amount_paid": ' + str(invoice["total"]).encode(), b'"amount_paid": 1'
    )
    assert tampered != body
    rejected(post(url, tampered, sign(body, secret)), "signature does not match")
    rejected(post(url, body), "Stripe-Signature header is missing")
    rejected(post(url, body, "t=1,v0=abc"), "signature")
    rejected(post(url, b"not json", sign(b"not json", secret)), "not a Stripe event")
    # An unknown token is not an org's URL at all.
    unknown = url.rsplit("/", 1)[0] + "/" + uuid.uuid4().hex
    assert post(unknown, body, sign(body, secret)).status_code == 404

    # The same event, signed right, is acted on (so the rejections above were the check),
    # without a Stripe call on the request path.
    before = stripe_requests(billing)
    ok = post(url, body, sign(body, secret))
    assert ok.status_code == 200 and ok.json() == {"received": True}, ok.text
    assert stripe_requests(billing) == before
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "paid" and state["amount_paid"] == invoice["total"]
    assert [e.event_id for e in stored(billing, type="invoice.paid")] == [event["id"]]
    assert_no_secret(stripe_server.server.log(), secret, other)


def test_org_without_a_signing_secret_rejects_and_records(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    key = new_key()
    with kit.api() as api:
        saved = api.put(
            "/integrations/stripe",
            json={"publishable_key": "pk_test_" + key[8:], "secret_key": key},
        )
        assert saved.status_code == 200, saved.text
        url = saved.json()["webhook_url"]
    body = body_of(make_event("invoice.paid", {"id": "in_" + uuid.uuid4().hex[:24]}))
    r = deliver(kit, url, body, sign(body, "whsec_" + uuid.uuid4().hex))
    assert r.status_code == 400, r.text
    with kit.api() as api:
        rejection = api.get("/integrations/stripe").json()["last_webhook_rejection"]
    assert "no webhook signing secret" in rejection["reason"]
    with kit.db.session() as s:
        rows = s.scalars(select(StripeEvent).where(StripeEvent.org_id == kit.org.id)).all()
    assert list(rows) == []


def test_body_over_one_mib_is_refused(billing: Billing) -> None:
    url = webhook_url(billing)
    event = make_event("invoice.paid", {"id": "in_x", "padding": "x" * (1024 * 1024)})
    body = body_of(event)
    r = deliver(billing.kit, url, body, sign(body, billing.webhook_secret))
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"
    assert stored(billing) == []
    # Just under the limit is read and verified.
    small = make_event("customer.updated", {"id": "cus_x", "padding": "x" * (1000 * 1000)})
    body = body_of(small)
    assert len(body) < 1024 * 1024
    assert deliver(billing.kit, url, body, sign(body, billing.webhook_secret)).status_code == 200


@pytest.mark.e2e
def test_live_mode_delivery_to_a_test_mode_org_is_rejected(stripe_server: StripeApp) -> None:
    """A live-mode Stripe account's endpoint pointed at an org connected with test keys (its
    signing secret saved there): the real delivery is verified, then refused."""
    billing = connect_billing(stripe_server)
    live_key = new_key("live")
    url = webhook_url(billing)
    with stripe_server.sandbox.control(live_key) as ctl:
        endpoint = register(ctl, url, enabled_events="product.created")
    save_signing_secret(billing, endpoint["secret"])
    product = stripe_server.sandbox.client(live_key).v1.products.create(params={"name": "Backup"})
    assert product.livemode is True

    def attempted() -> list[dict[str, Any]]:
        with stripe_server.sandbox.control(live_key) as ctl:
            return deliveries(ctl, type="product.created")

    first = wait_for(attempted, what="the live delivery")[0]
    assert first["status_code"] == 400, first
    rejection = connection(billing)["last_webhook_rejection"]
    assert "live-mode event reached an org connected with test keys" in rejection["reason"]
    assert stored(billing) == []

    # A hand-signed live event with the org's own secret: refused the same way.
    event = make_event("invoice.paid", {"id": "in_live"}, livemode=True)
    body = body_of(event)
    r = post(url, body, sign(body, endpoint["secret"]))
    assert r.status_code == 400 and r.json()["error"]["message"] == "webhook rejected"
    assert "live-mode" in connection(billing)["last_webhook_rejection"]["reason"]
    assert stored(billing) == []


# ---- duplicates, reordering, other orgs ----------------------------------------------------------


@pytest.mark.e2e
def test_duplicated_and_reordered_deliveries_transition_once(stripe_server: StripeApp) -> None:
    billing = connect_billing(stripe_server)
    first = sent_invoice(billing)
    second = sent_invoice(billing)
    with billing.control() as ctl:
        r = ctl.post("/_sandbox/faults", data={"duplicate": "1", "reorder": "1"})
        assert r.status_code == 200, r.text
    try:
        pay(billing, first["stripe_invoice_id"])
        pay(billing, second["stripe_invoice_id"])
        paid_events = [
            e
            for invoice in (first, second)
            for e in events_of(billing, invoice["stripe_invoice_id"], "invoice.paid")
        ]
        assert len(paid_events) == 2
        attempts = [a for e in paid_events for a in wait_delivered(billing, e["id"], times=2)]
        for invoice in (first, second):
            assert invoice_state(billing, invoice["id"])["status"] == "paid"
    finally:
        with billing.control() as ctl:
            assert ctl.post("/_sandbox/faults").status_code == 200  # clear them
    assert any(a["duplicate"] for a in attempts)
    with billing.control() as ctl:
        assert any(d["reordered"] for d in deliveries(ctl))

    # A third delivery of every invoice event, replayed with a fresh, valid signature.
    url = webhook_url(billing)
    for invoice in (first, second):
        replays = events_of(
            billing,
            invoice["stripe_invoice_id"],
            "invoice.paid",
            "invoice.payment_succeeded",
        )
        assert len(replays) == 2
        for event in replays:
            body = body_of(event)
            r = post(url, body, sign(body, billing.webhook_secret))
            assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    for invoice in (first, second):
        assert len(audits(billing, invoice["id"], "invoice.paid")) == 1
        assert len(audits(billing, invoice["id"], "invoice.payment_succeeded")) == 1
        assert invoice_state(billing, invoice["id"])["amount_paid"] == invoice["total"]
    ids = [e.event_id for e in stored(billing)]
    assert len(ids) == len(set(ids))


def test_events_replayed_in_reverse_order_three_times(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    """An ACH payment's events delivered newest first, each three times: paid once, and the
    late "processing" changes nothing (its payment has already succeeded)."""
    invoice = sent_invoice(billing)
    stop_deliveries(billing)
    sid = invoice["stripe_invoice_id"]
    pay(billing, sid, "ach")
    settle(billing, sid)
    invoice_events = events_of(billing, sid, "invoice.paid", "invoice.payment_succeeded")
    with billing.control() as ctl:
        r = ctl.get("/v1/events", params={"type": "payment_intent.processing", "limit": 10})
    assert r.status_code == 200, r.text
    (processing,) = r.json()["data"]
    by_type = {e["type"]: e for e in invoice_events}
    # Stripe sent them processing → payment_succeeded → paid; deliver them the other way.
    events = [by_type["invoice.paid"], by_type["invoice.payment_succeeded"], processing]
    url = webhook_url(billing)
    answers = []
    for event in events:
        body = body_of(event)
        for _ in range(3):
            answers.append(
                deliver(billing.kit, url, body, sign(body, billing.webhook_secret)).json()
            )
    assert sum(1 for a in answers if not a.get("duplicate")) == len(events)

    assert handlers.PAYMENT_PROCESSING_TASK in run_tasks()  # the consumer's lookup
    state = invoice_state(billing, invoice["id"])
    assert state["status"] == "paid"
    assert len(audits(billing, invoice["id"], "invoice.paid")) == 1
    assert len(audits(billing, invoice["id"], "invoice.payment_succeeded")) == 1
    (late,) = [e for e in stored(billing, type="payment_intent.processing") if e.processed_at]
    assert late.outcome is not None and late.outcome.startswith("no change"), late.outcome
    assert invoice_state(billing, invoice["id"])["payment_processing"] is False
    assert state["paid_at"] is not None
    assert audits(billing, invoice["id"], "invoice.payment_processing") == []


def test_another_orgs_token_cannot_pay_this_orgs_invoice(stripe_app: StripeApp) -> None:
    a = connect_billing(stripe_app)
    b = connect_billing(stripe_app)
    invoice = sent_invoice(a)
    stop_deliveries(a)
    event = make_event(
        "invoice.paid",
        {"id": invoice["stripe_invoice_id"], "object": "invoice", "status": "paid"},
    )
    body = body_of(event)
    # B's URL, B's secret, A's Stripe invoice id: verified, stored for B, ignored.
    r = deliver(b.kit, webhook_url(b), body, sign(body, b.webhook_secret))
    assert r.status_code == 200, r.text
    (seen,) = stored(b)
    assert (
        seen.outcome
        == f"ignored: no invoice of this org has Stripe id {invoice['stripe_invoice_id']}"
    )
    assert invoice_state(a, invoice["id"])["status"] == "sent"
    assert audits(a, invoice["id"], "invoice.paid") == []
    assert stored(a, event_id=event["id"]) == []
    # B's URL with A's secret is not even verified.
    assert deliver(b.kit, webhook_url(b), body, sign(body, a.webhook_secret)).status_code == 400
    # The very same event at A's URL, signed by A: it pays A's invoice.
    assert deliver(a.kit, webhook_url(a), body, sign(body, a.webhook_secret)).status_code == 200
    assert invoice_state(a, invoice["id"])["status"] == "paid"


# ---- API versions and payload shapes -------------------------------------------------------------


@pytest.mark.e2e
def test_endpoint_on_an_older_api_version_is_handled(stripe_server: StripeApp) -> None:
    billing = connect_billing(stripe_server)
    use_endpoint(billing, api_version=OLD_API_VERSION)
    invoice = sent_invoice(billing)
    pay(billing, invoice["stripe_invoice_id"])
    state = wait_paid(billing, invoice)
    assert state["amount_paid"] == invoice["total"]
    (event,) = stored(billing, type="invoice.paid")
    assert event.api_version == OLD_API_VERSION
    assert "charge" in event.payload["data"]["object"]  # the old shape
    assert "paid" in event.payload["data"]["object"]
    assert len(audits(billing, invoice["id"], "invoice.paid")) == 1

    # ACH on the old version: the delivered PaymentIntent names no invoice either.
    ach = sent_invoice(billing)
    pay(billing, ach["stripe_invoice_id"], "ach")
    wait_for(
        lambda: invoice_state(billing, ach["id"])["payment_processing"],
        what="payment processing noted",
    )
    settle(billing, ach["stripe_invoice_id"])
    wait_paid(billing, ach)
    assert len(audits(billing, ach["id"], "invoice.paid")) == 1


def test_processing_payment_intent_naming_its_invoice_is_marked_directly(
    billing: Billing,
) -> None:
    """Older API versions put `invoice` on the PaymentIntent: no Stripe call is needed."""
    invoice = sent_invoice(billing)
    stop_deliveries(billing)
    intent = {
        "id": "pi_" + uuid.uuid4().hex[:24],
        "object": "payment_intent",
        "status": "processing",
        "invoice": invoice["stripe_invoice_id"],
    }
    event = make_event("payment_intent.processing", intent, api_version=OLD_API_VERSION)
    body = body_of(event)
    before = stripe_requests(billing)
    r = deliver(billing.kit, webhook_url(billing), body, sign(body, billing.webhook_secret))
    assert r.status_code == 200, r.text
    state = invoice_state(billing, invoice["id"])
    assert state["payment_processing"] is True and state["status"] == "sent"
    (seen,) = stored(billing, event_id=event["id"])
    assert seen.outcome == f"processing noted: invoice {invoice['number']}"
    assert stripe_requests(billing) == before

    # Not an invoice's payment (an older version saying `invoice: null`): stored only.
    other = make_event(
        "payment_intent.processing",
        {**intent, "id": "pi_" + uuid.uuid4().hex[:24], "invoice": None},
        api_version=OLD_API_VERSION,
    )
    body = body_of(other)
    r = deliver(billing.kit, webhook_url(billing), body, sign(body, billing.webhook_secret))
    assert r.status_code == 200, r.text
    assert stored(billing, event_id=other["id"])[0].outcome == "ignored: not an invoice's payment"


def test_odd_payloads_are_stored_and_answered(billing: Billing) -> None:
    url = webhook_url(billing)
    events = [
        make_event("invoice.paid", {"object": "invoice"}),  # no id
        {**make_event("invoice.paid", {}), "data": "nonsense"},
        {k: v for k, v in make_event("invoice.payment_failed", {}).items() if k != "data"},
        make_event("invoice.paid", {"id": 12, "status_transitions": "x", "amount_paid": "9"}),
        make_event("invoice.paid", {"id": "in_" + uuid.uuid4().hex[:24], "amount_paid": True}),
        make_event("payment_intent.processing", {"status": "processing"}),
        make_event("customer.created", {"id": "cus_1", "object": "customer"}),
        {**make_event("invoice.created", {"id": "in_1"}), "created": "yesterday"},
    ]
    for event in events:
        body = body_of(event)
        r = deliver(billing.kit, url, body, sign(body, billing.webhook_secret))
        assert r.status_code == 200, (event, r.text)
    rows = {e.event_id: e for e in stored(billing)}
    assert set(rows) == {e["id"] for e in events}
    outcomes = [rows[e["id"]].outcome for e in events]
    assert outcomes[0] == "ignored: the event names no invoice (data.object.id)"
    assert outcomes[6] == "stored" and outcomes[7] == "stored"
    assert rows[events[7]["id"]].created is None
    assert all(rows[e["id"]].processed_at is not None for e in events)


def test_reconciliation_reuses_the_handler(billing: Billing) -> None:
    """What reconciliation does with an event read back from the Events API: the same
    store-then-handle, so a webhook arriving afterwards is a duplicate."""
    invoice = sent_invoice(billing)
    stop_deliveries(billing)
    pay(billing, invoice["stripe_invoice_id"])
    (event,) = events_of(billing, invoice["stripe_invoice_id"], "invoice.paid")
    with billing.kit.db.session() as session:
        outcome = handlers.ingest(
            session, org_id=billing.kit.org.id, event=event, source="reconciliation"
        )
        session.commit()
    assert outcome == f"paid: invoice {invoice['number']}"
    (audit,) = audits(billing, invoice["id"], "invoice.paid")
    assert audit.details["message"] == "payment found by reconciliation"
    body = body_of(event)
    r = deliver(billing.kit, webhook_url(billing), body, sign(body, billing.webhook_secret))
    assert r.status_code == 200 and r.json()["duplicate"] is True
    (row,) = stored(billing, event_id=event["id"])
    assert row.source == "reconciliation"
    assert len(audits(billing, invoice["id"], "invoice.paid")) == 1


def test_sweep_requeues_a_lookup_a_crash_dropped(
    billing: Billing, run_tasks: Callable[..., list[str]]
) -> None:
    """A server stored `payment_intent.processing` and died before its lookup task was sent:
    the periodic sweep enqueues it again, and the task notes the invoice (once). The test
    process's queue, with no consumer: tasks are inspected, then run here."""
    huey = queue.get_huey()
    run_tasks()  # what a worker would have done so far (the first Save's catalog sync)
    invoice = sent_invoice(billing)
    stop_deliveries(billing)
    pay(billing, invoice["stripe_invoice_id"], "ach")
    with billing.control() as ctl:
        r = ctl.get("/v1/events", params={"type": "payment_intent.processing", "limit": 1})
    (event,) = r.json()["data"]
    with billing.kit.db.session() as session:
        assert handlers.store(session, org_id=billing.kit.org.id, event=event, source="webhook")
        handlers.finish(
            session,
            org_id=billing.kit.org.id,
            event_id=event["id"],
            outcome=handlers.PENDING + "looking up the invoice",
            final=False,
        )
        session.execute(
            update(StripeEvent)
            .where(StripeEvent.event_id == event["id"])
            .values(received_at=datetime.now(UTC) - timedelta(minutes=20))
        )
        session.commit()
    assert handlers.requeue_pending(older_than_s=3600) == 0  # not old enough yet
    assert handlers.requeue_pending() == 1
    queued = [huey.deserialize_task(m) for m in huey.storage.enqueued_items()]
    assert [t.name for t in queued] == [handlers.PAYMENT_PROCESSING_TASK]
    (task,) = queued
    assert task.args == (
        str(billing.kit.org.id),
        event["data"]["object"]["id"],
        event["id"],
        event["created"],
    )
    queue.spec(task.name).fn(*task.args)
    queue.spec(task.name).fn(*task.args)  # a second run (a duplicate message) changes nothing
    state = invoice_state(billing, invoice["id"])
    assert state["payment_processing"] is True and state["status"] == "sent"
    assert len(audits(billing, invoice["id"], "invoice.payment_processing")) == 1
    (row,) = stored(billing, event_id=event["id"])
    assert row.processed_at is not None
    assert row.outcome == f"processing noted: invoice {invoice['number']}"  # the first run's
    huey.storage.flush_queue()
    assert handlers.requeue_pending() == 0  # finished: nothing left to sweep
