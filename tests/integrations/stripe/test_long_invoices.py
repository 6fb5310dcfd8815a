"""Long invoices through Stripe: more lines than a Stripe invoice holds (250) are grouped on
the Stripe side, never in Regentra; lines go through `add_lines`, 50 a call; a send that
stopped between two calls is finished by sending again, without a line twice.

The app runs in-process (`stripe_app`) against the session's Stripe sandbox; each test's org
has a Stripe account of its own. Entries are made through the services in one session (the
factories' way, in bulk)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from integrations.conftest import Billing, StripeApp, connect_billing
from regentra.audit.service import Actor
from regentra.config import get_settings
from regentra.errors import RegentraError
from regentra.integrations.stripe import sending
from regentra.integrations.stripe.client import OrgStripe
from regentra.integrations.stripe.errors import StripeFailed
from regentra.invoices import service as invoices_service
from regentra.invoices.schemas import LineCreate
from regentra.models import Client, Org, User
from regentra.tickets import service as tickets_service
from regentra.tickets.schemas import TicketCreate
from regentra.time_entries import service as entries_service
from regentra.time_entries.schemas import TimeEntryCreate


def approved_time(
    billing: Billing, client: Client, *, tickets: int, per_ticket: int, rates: tuple[int, ...]
) -> None:
    """`tickets` tickets of `client` with `per_ticket` approved entries each; entry i of a
    ticket is billed at `rates[i % len(rates)]` and lasts 15 + i minutes."""
    kit = billing.kit
    tech = kit.add_user("technician")
    with kit.db.session() as s:
        org, admin = s.get(Org, kit.org.id), s.get(User, kit.admin.id)
        worker = s.get(User, tech.id)
        assert org is not None and admin is not None and worker is not None
        for t in range(tickets):
            ticket = tickets_service.create(
                s,
                org_id=org.id,
                data=TicketCreate(client_id=client.id, title=f"Ticket {t:03d}"),
                actor=Actor.of(admin),
            )
            for i in range(per_ticket):
                data = TimeEntryCreate(
                    ticket_id=ticket.id,
                    work_date=date.today(),
                    minutes=15 + i,
                    description="work",
                    hourly_rate=rates[i % len(rates)],
                    technician_id=worker.id,
                )
                entry = entries_service.create(s, org=org, user=admin, data=data)
                entries_service.submit(s, user=worker, entry_id=entry.id)
                entries_service.approve(s, org=org, user=admin, entry_id=entry.id)
        s.commit()


def draft_of(billing: Billing, client: Client, *, manual: int = 0) -> dict[str, Any]:
    """A draft of the client's approved time (POST /invoices) plus `manual` manual lines."""
    with billing.kit.api() as api:
        response = api.post("/invoices", json={"client_id": str(client.id)})
    assert response.status_code == 201, response.text
    invoice_id = uuid.UUID(response.json()["id"])
    if manual:
        with billing.kit.db.session() as s:
            org, admin = s.get(Org, billing.kit.org.id), s.get(User, billing.kit.admin.id)
            assert org is not None and admin is not None
            for n in range(manual):
                invoices_service.add_line(
                    s,
                    org=org,
                    user=admin,
                    invoice_id=invoice_id,
                    data=LineCreate(description=f"Licence {n}", unit_amount=1000 + n),
                )
            s.commit()
    return get_invoice(billing, str(invoice_id))


def get_invoice(billing: Billing, invoice_id: str) -> dict[str, Any]:
    with billing.kit.api() as api:
        response = api.get(f"/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def send(billing: Billing, invoice_id: str) -> Any:
    with billing.kit.api() as api:
        return api.post(f"/invoices/{invoice_id}/send")


def stripe_lines(billing: Billing, sid: str) -> list[Any]:
    found = billing.stripe.v1.invoices.line_items.list(sid, {"limit": 100})
    return list(found.auto_paging_iter())


def calls(billing: Billing, path_part: str) -> list[dict[str, Any]]:
    with billing.control() as control:
        log = control.get("/_sandbox/requests", params={"limit": 1000}).json()["data"]
    return [r for r in log if path_part in r["path"]]


def assert_matches(billing: Billing, invoice: dict[str, Any]) -> list[Any]:
    """Sent; Stripe's total is ours, within 250 lines, each line once (by its key)."""
    assert invoice["status"] == "sent", invoice
    sid = invoice["stripe_invoice_id"]
    si = billing.stripe.v1.invoices.retrieve(sid)
    assert si.status == "open"
    assert si.total == invoice["total"]
    lines = stripe_lines(billing, sid)
    assert len(lines) <= 250
    assert sum(line.amount for line in lines) == invoice["total"]
    keys = Counter(
        line.metadata.to_dict().get("regentra_group")
        or line.metadata.to_dict().get("regentra_line_id")
        for line in lines
    )
    assert None not in keys and all(n == 1 for n in keys.values()), keys
    return lines


def test_a_260_entry_invoice_is_grouped_by_ticket_and_rate_on_stripe(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    client = billing.kit.client(hourly_rate=12000)
    # 26 tickets x 10 entries, at two rates: 52 (ticket, rate) groups of 5.
    approved_time(billing, client, tickets=26, per_ticket=10, rates=(12000, 9000))
    draft = draft_of(billing, client, manual=2)
    assert len(draft["lines"]) == 262

    response = send(billing, draft["id"])
    assert response.status_code == 200, response.text
    sent = get_invoice(billing, draft["id"])
    assert len(sent["lines"]) == 262  # Regentra keeps every line
    lines = assert_matches(billing, sent)
    assert len(lines) == 52 + 2

    groups = [line for line in lines if "regentra_group" in line.metadata.to_dict()]
    assert len(groups) == 52
    ours = {line["id"]: line for line in sent["lines"]}
    for line in groups:
        meta = line.metadata.to_dict()
        assert meta["regentra_group"].startswith("ticket:")
        assert meta["regentra_entries"] == "5"
        assert meta["regentra_invoice_id"] == draft["id"]
        ticket_id, rate = (
            meta["regentra_group"].split(":")[1],
            int(meta["regentra_group"].split(":")[3]),
        )
        members = [
            m for m in sent["lines"] if m["ticket_id"] == ticket_id and m["unit_amount"] == rate
        ]
        assert len(members) == 5 and line.amount == sum(m["amount"] for m in members)
        assert "5 entries" in line.description and "/h" in line.description
        hours = sum(m["minutes"] for m in members) / 60
        assert f"{hours:.2f}".rstrip("0").rstrip(".") + " h @ " in line.description
    # Manual lines are never grouped: each is its own Stripe line.
    singles = [line for line in lines if "regentra_line_id" in line.metadata.to_dict()]
    assert sorted(line.description for line in singles) == ["Licence 0", "Licence 1"]
    assert all(
        ours[line.metadata.to_dict()["regentra_line_id"]]["kind"] == "manual" for line in singles
    )
    # 54 lines: two add_lines calls, not one call per line.
    assert len(calls(billing, "/add_lines")) == 2
    assert calls(billing, "/v1/invoiceitems") == []


def test_a_400_line_invoice_is_grouped_by_rate_when_tickets_do_not_fit(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    client = billing.kit.client(hourly_rate=12000)
    # 260 tickets: more (ticket, rate) groups than 250, so time is grouped by rate alone.
    approved_time(billing, client, tickets=140, per_ticket=2, rates=(12000, 9000))
    approved_time(billing, client, tickets=120, per_ticket=1, rates=(15000,))
    draft = draft_of(billing, client, manual=0)
    assert len(draft["lines"]) == 400

    response = send(billing, draft["id"])
    assert response.status_code == 200, response.text
    sent = get_invoice(billing, draft["id"])
    assert len(sent["lines"]) == 400
    lines = assert_matches(billing, sent)
    by_key = {line.metadata.to_dict()["regentra_group"]: line for line in lines}
    assert set(by_key) == {"rate:12000", "rate:9000", "rate:15000"}
    assert by_key["rate:15000"].metadata.to_dict()["regentra_entries"] == "120"
    assert "140 entries on 140 tickets" in by_key["rate:9000"].description
    assert by_key["rate:12000"].amount == sum(
        m["amount"] for m in sent["lines"] if m["unit_amount"] == 12000
    )


def test_an_invoice_too_long_even_grouped_is_refused_before_stripe(
    stripe_app: StripeApp,
) -> None:
    billing = connect_billing(stripe_app)
    client = billing.kit.client(hourly_rate=12000)
    approved_time(billing, client, tickets=1, per_ticket=1, rates=(12000,))
    draft = draft_of(billing, client, manual=250)  # 250 manual lines are never grouped
    before = calls(billing, "/v1/")

    response = send(billing, draft["id"])
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "invoice_too_long_for_stripe"
    assert "at most 250" in error["message"] and draft["number"] in error["message"]
    assert calls(billing, "/v1/") == before  # no Stripe call at all
    after = get_invoice(billing, draft["id"])
    assert after["status"] == "draft" and after["stripe_invoice_id"] is None


# ---- a send that stopped between two add_lines calls -------------------------------------------


class Crash(Exception):
    """The process died."""


@pytest.fixture
def in_process(
    stripe_app: StripeApp, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., None]]:
    """`run(billing, invoice_id, fail_batch=N, after=...)`: the app's `sending.send` in this
    process, dying at its N-th `add_lines` call, either before Stripe got it (`after=False`:
    Stripe failed) or right after Stripe answered (`after=True`: the answer was lost)."""
    monkeypatch.setenv("REGENTRA_STRIPE_API_BASE", stripe_app.sandbox.url)
    get_settings.cache_clear()
    original = OrgStripe.call

    def run(billing: Billing, invoice_id: str, *, fail_batch: int, after: bool) -> None:
        seen = 0

        def call(self: OrgStripe, fn: Any, *, op: str) -> Any:
            nonlocal seen
            if op == "invoices.add_lines":
                seen += 1
                if seen == fail_batch and not after:
                    raise StripeFailed("Stripe failed (injected)")
            result = original(self, fn, op=op)
            if op == "invoices.add_lines" and seen == fail_batch and after:
                raise Crash(op)
            return result

        monkeypatch.setattr(OrgStripe, "call", call)
        try:
            with billing.kit.db.session() as s:
                org, user = s.get(Org, billing.kit.org.id), s.get(User, billing.kit.admin.id)
                assert org is not None and user is not None
                sending.send(s, org=org, user=user, invoice_id=uuid.UUID(invoice_id))
        finally:
            monkeypatch.setattr(OrgStripe, "call", original)

    yield run
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("after", [False, True], ids=["stripe-failed", "answer-lost"])
def test_a_send_stopped_between_batches_is_finished_without_duplicates(
    stripe_app: StripeApp, in_process: Callable[..., None], after: bool
) -> None:
    billing = connect_billing(stripe_app)
    client = billing.kit.client(hourly_rate=12000)
    # Ungrouped: 120 lines, three add_lines calls (50, 50, 20).
    approved_time(billing, client, tickets=12, per_ticket=10, rates=(12000,))
    draft = draft_of(billing, client)
    with pytest.raises((Crash, RegentraError)):
        in_process(billing, draft["id"], fail_batch=2, after=after)
    stopped = get_invoice(billing, draft["id"])
    assert stopped["status"] == "draft" and stopped["stripe_invoice_id"]
    on_stripe = len(stripe_lines(billing, stopped["stripe_invoice_id"]))
    assert on_stripe == (100 if after else 50)

    response = send(billing, draft["id"])
    assert response.status_code == 200, response.text
    lines = assert_matches(billing, get_invoice(billing, draft["id"]))
    assert len(lines) == 120
    assert {line.metadata.to_dict()["regentra_line_id"] for line in lines} == {
        line["id"] for line in draft["lines"]
    }


def test_a_grouped_send_resumed_days_later_recognizes_its_groups(
    stripe_app: StripeApp, in_process: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stripe forgets idempotency keys after about 24 hours: the retry recognizes the groups
    already there by their `regentra_group` metadata alone."""
    billing = connect_billing(stripe_app)
    client = billing.kit.client(hourly_rate=12000)
    # 260 entries on 65 tickets: 65 (ticket, rate) groups, two add_lines calls (50, 15).
    approved_time(billing, client, tickets=65, per_ticket=4, rates=(12000,))
    draft = draft_of(billing, client)
    with pytest.raises(Crash):
        in_process(billing, draft["id"], fail_batch=1, after=True)
    stopped = get_invoice(billing, draft["id"])
    assert len(stripe_lines(billing, stopped["stripe_invoice_id"])) == 50

    monkeypatch.setattr(
        sending, "idempotency_key", lambda op, our_id: f"regentra:{op}:{our_id}:later"
    )
    response = send(billing, draft["id"])
    assert response.status_code == 200, response.text
    sent = get_invoice(billing, draft["id"])
    assert len(sent["lines"]) == 260
    lines = assert_matches(billing, sent)
    assert len(lines) == 65
    assert all(line.metadata.to_dict()["regentra_entries"] == "4" for line in lines)
