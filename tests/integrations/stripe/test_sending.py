"""Sending invoices through Stripe and voiding them, against the real Stripe sandbox.

The app runs in-process (`stripe_app`; `stripe_server`, a real `regentra serve`, where
sends race each other) talking to the sandbox, a separate server;
each test's org is connected to an account of its own, so the sandbox's objects can be
counted per org. The crash tests run the app's own `sending.send` in this process against the
same sandbox and database, stopping it right after its N-th Stripe call (the response was
received, nothing after it ran, and the session is thrown away as a dead process would), then
retry, and count what exists in Stripe.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from integrations.conftest import Billing, StripeApp, connect_billing
from regentra.config import get_settings
from regentra.integrations.stripe import sending
from regentra.integrations.stripe.client import OrgStripe
from regentra.invoices import transitions
from regentra.models import Client, Org, TimeEntry, User

# The Stripe calls of a first send, for a new client, of an invoice with two lines (both in
# one `add_lines`).
FIRST_SEND = [
    "customers.list",
    "customers.create",
    "invoices.list",
    "invoices.create",
    "invoices.add_lines",
    "invoices.finalize_invoice",
    "invoices.send_invoice",
]
BILLING_PATHS = ("/v1/customers", "/v1/invoices", "/v1/invoiceitems")


def billing_requests(billing: Billing) -> list[dict[str, Any]]:
    """The org's requests to Stripe's customer and invoice endpoints, oldest first (the
    catalog sync the connection starts in the background reads products only)."""
    with billing.control() as control:
        log = control.get("/_sandbox/requests").json()["data"]
    return [r for r in log if r["path"].startswith(BILLING_PATHS)]


def get_invoice(billing: Billing, invoice_id: str) -> dict[str, Any]:
    with billing.kit.api() as api:
        response = api.get(f"/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def post(billing: Billing, path: str, **kw: Any) -> Any:
    with billing.kit.api() as api:
        return api.post(path, **kw)


def stripe_objects(billing: Billing, client_id: str) -> dict[str, Any]:
    """What the org's Stripe account holds for one of our clients."""
    sdk = billing.stripe
    customers = [
        c
        for c in sdk.v1.customers.list({"limit": 100}).data
        if c.metadata.to_dict().get("regentra_client_id") == client_id
    ]
    invoices = [i for c in customers for i in sdk.v1.invoices.list({"customer": c.id}).data]
    items = [
        item
        for i in invoices
        for item in sdk.v1.invoice_items.list({"invoice": i.id, "limit": 100}).data
    ]
    return {"customers": customers, "invoices": invoices, "items": items}


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


# ---- send -------------------------------------------------------------------------------------


def test_send_bills_the_client_through_stripe(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    draft = billing.invoice(minutes=90, rate=12000, entries=2)
    assert draft["total"] == 36000

    response = post(billing, f"/invoices/{draft['id']}/send")
    assert response.status_code == 200, response.text
    sent = response.json()
    assert sent["status"] == "sent"
    assert sent["sent_at"] is not None
    sid = sent["stripe_invoice_id"]
    assert sid and sid.startswith("in_")
    assert sent["hosted_invoice_url"].startswith(stripe_app.sandbox.url + "/i/")
    assert [e["action"] for e in sent["timeline"]].count("invoice.sent") == 1

    si = billing.stripe.v1.invoices.retrieve(sid)
    assert si.status == "open"
    assert si.amount_due == 36000 and si.total == 36000
    assert si.currency == "usd"
    assert si.collection_method == "send_invoice"
    assert si.auto_advance is False
    assert si.payment_settings.payment_method_types == ["card", "us_bank_account"]
    assert si.metadata.to_dict() == {
        "regentra_org_id": str(billing.kit.org.id),
        "regentra_invoice_id": draft["id"],
        "regentra_invoice_number": draft["number"],
    }
    assert si.hosted_invoice_url == sent["hosted_invoice_url"]
    assert draft["number"] in (si.description or "")
    # The due date is Stripe's, `days_until_due` after finalizing.
    finalized = datetime.fromtimestamp(si.status_transitions.finalized_at, UTC).date()
    assert date.fromisoformat(sent["due_date"]) == finalized + timedelta(days=30)

    lines = billing.stripe.v1.invoices.line_items.list(sid).data
    assert [line.amount for line in lines] == [18000, 18000]
    ours = {line["id"]: line for line in sent["lines"]}
    for line in lines:
        assert line.metadata.to_dict()["regentra_line_id"] in ours
        text = line.description
        mine = ours[line.metadata.to_dict()["regentra_line_id"]]
        assert mine["work_date"] in text and "Printer on fire" in text
        assert mine["technician_name"] in text
        assert "1.5 h @ $120.00/h" in text

    # The client's Customer was made once and stored on the client.
    found = stripe_objects(billing, sent["client_id"])
    assert len(found["customers"]) == 1 and len(found["invoices"]) == 1
    customer = found["customers"][0]
    assert customer.email == "ap@client.example.com"
    assert customer.name == sent["client_name"]
    assert customer.metadata.to_dict()["regentra_org_id"] == str(billing.kit.org.id)
    with billing.kit.db.session() as s:
        client = s.get(Client, uuid.UUID(sent["client_id"]))
        assert client is not None and client.stripe_customer_id == customer.id

    # Every write carried one of our deterministic idempotency keys.
    requests = billing_requests(billing)
    writes = [r for r in requests if r["method"] == "POST"]
    assert len(writes) == 5
    assert all(r["idempotency_key"].startswith("regentra:") for r in writes)
    assert len({r["idempotency_key"] for r in writes}) == 5

    # Sending it again: refused before anything reaches Stripe.
    again = post(billing, f"/invoices/{draft['id']}/send")
    assert again.status_code == 409, again.text
    assert error(again)["code"] == "not_draft"
    assert "already sent" in error(again)["message"]
    assert len(billing_requests(billing)) == len(requests)


def test_send_in_euros_with_a_quantity_line_offers_card_only(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    kit = billing.kit
    client = kit.client(currency="EUR", hourly_rate=10000, billing_email="ap@eu.example.com")
    tech = kit.add_user("technician")
    kit.entry(tech, ticket=kit.ticket(client, title="VPN down"), minutes=50, status="approved")
    with kit.api() as api:
        draft = api.post("/invoices", json={"client_id": str(client.id), "memo": "Danke!"})
        assert draft.status_code == 201, draft.text
        invoice_id = draft.json()["id"]
        added = api.post(
            f"/invoices/{invoice_id}/lines",
            json={"description": "Backup licence", "unit_amount": 2500, "quantity": 3},
        )
        assert added.status_code == 201, added.text
        total = added.json()["total"]
        assert total == 8333 + 7500  # 50 min at 100.00/h, rounded half up; 3 x 25.00
        response = api.post(f"/invoices/{invoice_id}/send")
    assert response.status_code == 200, response.text
    si = billing.stripe.v1.invoices.retrieve(response.json()["stripe_invoice_id"])
    assert si.currency == "eur" and si.total == total
    assert si.payment_settings.payment_method_types == ["card"]
    assert si.description.endswith("Danke!")
    lines = {
        line.description: line for line in billing.stripe.v1.invoices.line_items.list(si.id).data
    }
    assert lines["Backup licence"].quantity == 3 and lines["Backup licence"].amount == 7500
    [time_line] = [text for text in lines if "VPN down" in text]
    assert "0.83 h @ €100.00/h" in time_line


def test_send_refusals_leave_the_draft_and_stripe_untouched(stripe_app: StripeApp) -> None:
    # Stripe not connected: 409 pointing to Settings → Integrations.
    alone = Billing(stripe_app.make_org(), stripe_app.sandbox, "", "", "")
    draft = alone.invoice()
    response = post(alone, f"/invoices/{draft['id']}/send")
    assert response.status_code == 409, response.text
    assert error(response)["code"] == "stripe_not_connected"
    assert "Settings → Integrations" in error(response)["message"]
    assert get_invoice(alone, draft["id"])["status"] == "draft"

    billing = connect_billing(stripe_app)
    # No lines.
    empty = billing.invoice()
    removed = billing.kit.api().delete(f"/invoices/{empty['id']}/lines/{empty['lines'][0]['id']}")
    assert removed.status_code == 200, removed.text
    response = post(billing, f"/invoices/{empty['id']}/send")
    assert response.status_code == 409, response.text
    assert error(response)["code"] == "invoice_empty"
    assert "no lines" in error(response)["message"]
    # A zero total.
    free = billing.invoice(rate=0)
    response = post(billing, f"/invoices/{free['id']}/send")
    assert response.status_code == 409, response.text
    assert error(response)["code"] == "invoice_zero_total"
    assert "nothing to charge" in error(response)["message"]
    # Void.
    voided = post(billing, f"/invoices/{free['id']}/void", json={"release_entries": True})
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "void"
    response = post(billing, f"/invoices/{free['id']}/send")
    assert response.status_code == 409, response.text
    assert error(response)["code"] == "not_draft"
    assert "void" in error(response)["message"]
    again = post(billing, f"/invoices/{free['id']}/void", json={"release_entries": True})
    assert again.status_code == 409, again.text
    assert error(again)["code"] == "invoice_void"
    assert billing_requests(billing) == []

    # Stripe failing: a clear error, the invoice stays a draft; once Stripe is back, it sends.
    draft = billing.invoice()
    with billing.control() as control:
        assert control.post("/_sandbox/faults", data={"rate_500": "1"}).status_code == 200
        try:
            response = post(billing, f"/invoices/{draft['id']}/send")
        finally:
            assert control.post("/_sandbox/faults").status_code == 200
    assert response.status_code in (502, 503), response.text
    assert "Stripe" in error(response)["message"]
    assert get_invoice(billing, draft["id"])["status"] == "draft"
    response = post(billing, f"/invoices/{draft['id']}/send")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "sent"


@pytest.mark.e2e
def test_two_sends_at_once_make_one_of_everything(stripe_server: StripeApp) -> None:
    billing = connect_billing(stripe_server)
    draft = billing.invoice(entries=2)
    with ThreadPoolExecutor(3) as pool:
        responses = list(
            pool.map(lambda _: post(billing, f"/invoices/{draft['id']}/send"), range(3))
        )
    # Each answers "sent", or at worst asks to try again; none sends anything twice.
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    assert any(r.status_code == 200 for r in responses)
    assert_sent_once(billing, draft["id"])
    timeline = get_invoice(billing, draft["id"])["timeline"]
    assert [e["action"] for e in timeline].count("invoice.sent") == 1


# ---- crash and retry ----------------------------------------------------------------------------


class Crash(Exception):
    """The process died right after Stripe answered."""


@pytest.fixture
def in_process(
    stripe_app: StripeApp, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., list[str]]]:
    """`run(billing, invoice_id, crash_after=N)`: the app's `sending.send` in this process,
    against the sandbox and the backend's database, dying right after its N-th Stripe call.
    Returns the operations it called."""
    monkeypatch.setenv("REGENTRA_STRIPE_API_BASE", stripe_app.sandbox.url)
    get_settings.cache_clear()
    original = OrgStripe.call

    def run(billing: Billing, invoice_id: str, *, crash_after: int | None = None) -> list[str]:
        ops: list[str] = []

        def call(self: OrgStripe, fn: Any, *, op: str) -> Any:
            result = original(self, fn, op=op)
            ops.append(op)
            if len(ops) == crash_after:
                raise Crash(op)
            return result

        monkeypatch.setattr(OrgStripe, "call", call)
        try:
            with billing.kit.db.session() as s:
                org, user = s.get(Org, billing.kit.org.id), s.get(User, billing.kit.admin.id)
                assert org is not None and user is not None
                sending.send(s, org=org, user=user, invoice_id=uuid.UUID(invoice_id))
                s.commit()
        finally:
            monkeypatch.setattr(OrgStripe, "call", original)
        return ops

    yield run
    monkeypatch.undo()
    get_settings.cache_clear()


def assert_sent_once(billing: Billing, invoice_id: str) -> None:
    """Sent, with exactly one customer, one Stripe invoice and one item per line."""
    invoice = get_invoice(billing, invoice_id)
    assert invoice["status"] == "sent", invoice
    found = stripe_objects(billing, invoice["client_id"])
    assert len(found["customers"]) == 1
    assert [i.id for i in found["invoices"]] == [invoice["stripe_invoice_id"]]
    assert found["invoices"][0].status == "open"
    assert found["invoices"][0].total == invoice["total"]
    lines = sorted(i.metadata.to_dict()["regentra_line_id"] for i in found["items"])
    assert lines == sorted(line["id"] for line in invoice["lines"])


def test_a_send_that_died_after_any_stripe_call_is_finished_by_a_retry(
    stripe_app: StripeApp, in_process: Callable[..., list[str]]
) -> None:
    billing = connect_billing(stripe_app)
    # The whole flow, in this process: the calls it makes, in order.
    draft = billing.invoice(entries=2)
    assert in_process(billing, draft["id"]) == FIRST_SEND
    assert_sent_once(billing, draft["id"])

    for step in range(1, len(FIRST_SEND) + 1):
        draft = billing.invoice(entries=2)
        with pytest.raises(Crash):
            in_process(billing, draft["id"], crash_after=step)
        after_crash = get_invoice(billing, draft["id"])
        assert after_crash["status"] == "draft", (step, after_crash)
        # Frozen once the Stripe invoice exists: editing it now could not reach Stripe.
        frozen = billing.kit.api().patch(f"/invoices/{draft['id']}", json={"memo": "x"})
        if after_crash["stripe_invoice_id"]:
            assert frozen.status_code == 409 and error(frozen)["code"] == "send_in_progress"
        else:
            assert frozen.status_code == 200, frozen.text
        # The retry goes through the server, which uses the same idempotency keys.
        response = post(billing, f"/invoices/{draft['id']}/send")
        assert response.status_code == 200, (step, response.text)
        assert_sent_once(billing, draft["id"])


def test_a_retry_days_later_when_stripe_forgot_the_keys_creates_nothing_twice(
    stripe_app: StripeApp, in_process: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stripe keeps idempotency keys about 24 hours: the retry must find what the first
    attempt made by itself. Here every key of the retry differs from the first attempt's."""
    billing = connect_billing(stripe_app)
    for step in range(1, len(FIRST_SEND) + 1):
        draft = billing.invoice(entries=2)
        with pytest.raises(Crash):
            in_process(billing, draft["id"], crash_after=step)
        with monkeypatch.context() as patch:
            patch.setattr(
                sending, "idempotency_key", lambda op, our_id: f"regentra:{op}:{our_id}:later"
            )
            in_process(billing, draft["id"])
        assert_sent_once(billing, draft["id"])


# ---- void -------------------------------------------------------------------------------------


def entries_of(billing: Billing, invoice: dict[str, Any]) -> list[TimeEntry]:
    ids = [uuid.UUID(line["time_entry_id"]) for line in invoice["lines"]]
    with billing.kit.db.session() as s:
        return list(s.scalars(select(TimeEntry).where(TimeEntry.id.in_(ids))))


def test_void_a_sent_invoice_voids_it_in_stripe_and_releases_the_time(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    sent = billing.sent_invoice(entries=2)
    response = post(billing, f"/invoices/{sent['id']}/void", json={"release_entries": True})
    assert response.status_code == 200, response.text
    voided = response.json()
    assert voided["status"] == "void" and voided["voided_at"]
    assert billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"]).status == "void"
    void_call = [r for r in billing_requests(billing) if r["path"].endswith("/void")]
    assert [r["idempotency_key"] for r in void_call] == [
        f"regentra:invoice-void:{sent['id']}:{sent['stripe_invoice_id']}"
    ]
    assert all(entry.invoice_id is None for entry in entries_of(billing, sent))
    # The time can be billed again.
    again = post(billing, "/invoices", json={"client_id": sent["client_id"]})
    assert again.status_code == 201, again.text
    assert sorted(line["time_entry_id"] for line in again.json()["lines"]) == sorted(
        line["time_entry_id"] for line in sent["lines"]
    )

    # Kept with the voided invoice when not released.
    kept = billing.sent_invoice()
    response = post(billing, f"/invoices/{kept['id']}/void", json={"release_entries": False})
    assert response.status_code == 200, response.text
    assert [entry.invoice_id for entry in entries_of(billing, kept)] == [uuid.UUID(kept["id"])]


def test_a_paid_invoice_cannot_be_voided(stripe_app: StripeApp) -> None:
    billing = connect_billing(stripe_app)
    # Paid here.
    paid = billing.sent_invoice()
    with billing.kit.db.session() as s:
        moved = transitions.mark_paid(
            s,
            org_id=billing.kit.org.id,
            stripe_invoice_id=paid["stripe_invoice_id"],
            paid_at=datetime.now(UTC),
            amount_paid=paid["total"],
            source="reconciliation",
        )
        assert moved is not None
        s.commit()
    response = post(billing, f"/invoices/{paid['id']}/void", json={"release_entries": True})
    assert response.status_code == 409, response.text
    assert error(response)["code"] == "invoice_paid"
    assert billing.stripe.v1.invoices.retrieve(paid["stripe_invoice_id"]).status == "open"

    # Paid in Stripe, and we have not heard yet (no webhook endpoint any more).
    with billing.control() as control:
        gone = control.delete(f"/_sandbox/webhooks/{billing.endpoint_id}")
        assert gone.status_code == 200, gone.text
    sent = billing.sent_invoice()
    billing.stripe.v1.invoices.pay(sent["stripe_invoice_id"], {"paid_out_of_band": True})
    response = post(billing, f"/invoices/{sent['id']}/void", json={"release_entries": True})
    assert response.status_code == 409, response.text
    assert error(response)["code"] == "invoice_paid_in_stripe"
    assert "paid in Stripe" in error(response)["message"]
    assert get_invoice(billing, sent["id"])["status"] == "sent"
    assert billing.stripe.v1.invoices.retrieve(sent["stripe_invoice_id"]).status == "paid"
    assert all(entry.invoice_id is not None for entry in entries_of(billing, sent))


def test_void_after_a_send_stopped_half_way_cleans_up_stripe(
    stripe_app: StripeApp, in_process: Callable[..., list[str]]
) -> None:
    billing = connect_billing(stripe_app)
    # Stopped after the first item: the Stripe draft is deleted.
    draft = billing.invoice(entries=2)
    with pytest.raises(Crash):
        in_process(billing, draft["id"], crash_after=FIRST_SEND.index("invoices.add_lines") + 1)
    sid = get_invoice(billing, draft["id"])["stripe_invoice_id"]
    assert billing.stripe.v1.invoices.retrieve(sid).status == "draft"
    response = post(billing, f"/invoices/{draft['id']}/void", json={"release_entries": True})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "void"
    assert stripe_objects(billing, draft["client_id"])["invoices"] == []
    assert stripe_objects(billing, draft["client_id"])["items"] == []

    # Stopped after finalizing: the open Stripe invoice is voided.
    draft = billing.invoice(entries=2)
    with pytest.raises(Crash):
        in_process(
            billing, draft["id"], crash_after=FIRST_SEND.index("invoices.finalize_invoice") + 1
        )
    sid = get_invoice(billing, draft["id"])["stripe_invoice_id"]
    response = post(billing, f"/invoices/{draft['id']}/void", json={"release_entries": True})
    assert response.status_code == 200, response.text
    assert billing.stripe.v1.invoices.retrieve(sid).status == "void"
    assert all(entry.invoice_id is None for entry in entries_of(billing, draft))


def test_a_send_that_finds_the_draft_another_send_finalized_meanwhile_goes_on_from_there(
    stripe_app: StripeApp, in_process: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sends at once (CI caught it): one lists the Stripe draft the other made, and the
    other finalizes it before the first one's update reaches Stripe, which refuses to update
    anything but a draft. The first send finds the invoice open and answers sent."""
    billing = connect_billing(stripe_app)
    draft = billing.invoice(entries=2)
    with pytest.raises(Crash):  # a draft in Stripe that our invoice has not noted
        in_process(billing, draft["id"], crash_after=FIRST_SEND.index("invoices.create") + 1)
    original = sending._call
    raced: list[int] = []

    def call(stripe: OrgStripe, fn: Any, *, op: str) -> dict[str, Any]:
        if op == "invoices.update" and not raced:  # the other send, all the way through
            raced.append(0)
            with monkeypatch.context() as other:  # its own keys, as a request of its own
                other.setattr(sending, "idempotency_key", lambda op, our_id: f"{op}:{our_id}:b")
                raced[0] = post(billing, f"/invoices/{draft['id']}/send").status_code
        return original(stripe, fn, op=op)

    monkeypatch.setattr(sending, "_call", call)
    in_process(billing, draft["id"])  # Stripe refused its update; it answers sent all the same
    assert raced == [200]
    assert_sent_once(billing, draft["id"])
    timeline = get_invoice(billing, draft["id"])["timeline"]
    assert [e["action"] for e in timeline].count("invoice.sent") == 1
