"""A worker SIGKILLed while QuickBooks is answering, then two workers racing over the same
invoices: every object still exists exactly once (issue 12: "a worker killed (SIGKILL)
between the QuickBooks call and the commit → still exactly one of each").

Real processes on a committed database (each backend's): the org, its Stripe account (the
session's Stripe sandbox) and its QuickBooks company (a sandbox of the test's own, slowed
down with its `latency_ms` fault so the kill lands while a create is in flight) are set up
in this process; `python -c …sync_invoice…` workers do the posting. The first worker is
killed right after the first mirrored Invoice appears, i.e. while its Payment create is in
flight: QuickBooks makes the Payment, the worker never records it. Then two workers run
every invoice at once: the Payment is found (requestid replay, `PaymentRefNum`), nothing is
made twice, every row ends `posted`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from conftest import ROOT, Database
from sandbox.quickbooks.conftest import QboSandbox, start_sandbox, stop_sandbox
from sandbox.stripe.conftest import StripeSandbox, new_key
from sqlalchemy import func, select

import regentra.db
from integrations.conftest import use_stripe
from integrations.quickbooks.posting_helpers import (
    accounts_of,
    control,
    own_quickbooks,
    save_mapping,
)
from regentra.models import QuickBooksPosting

pytestmark = [pytest.mark.e2e]

INVOICES = 3
WORKER = (
    "import sys, uuid\n"
    "from regentra.integrations.quickbooks.posting_run import sync_invoice\n"
    "for arg in sys.argv[1:]:\n"
    "    sync_invoice(uuid.UUID(arg))\n"
)


@pytest.fixture
def own_qbo() -> Iterator[QboSandbox]:
    sandbox = start_sandbox("--rate-limit", "0")
    yield sandbox
    stop_sandbox(sandbox)


@pytest.fixture
def committed(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """This process's sessions commit to the backend's shared database (as the workers'
    do)."""
    assert database.engine is not None
    monkeypatch.setattr(regentra.db, "get_sessionmaker", lambda: database.sessions)
    monkeypatch.setattr(regentra.db, "get_engine", lambda: database.engine)
    monkeypatch.setenv("REGENTRA_DATABASE_URL", database.url)
    return database


def _paid_invoices(
    org_id: uuid.UUID, admin_id: uuid.UUID, stripe: StripeSandbox, key: str
) -> list[str]:
    """INVOICES invoices (one client each) sent through Stripe, paid by card, found paid."""
    from regentra.audit.service import Actor
    from regentra.clients import service as clients
    from regentra.clients.schemas import ClientCreate
    from regentra.db import session_scope
    from regentra.integrations.stripe import reconcile, sending
    from regentra.invoices import service as invoices
    from regentra.invoices.schemas import InvoiceCreate
    from regentra.models import Org, User
    from regentra.orgs import service as orgs
    from regentra.tickets import service as tickets
    from regentra.tickets.schemas import TicketCreate
    from regentra.time_entries import service as entries
    from regentra.time_entries.schemas import TimeEntryCreate

    ids = []
    with session_scope() as s:
        tech_id = orgs.add_user(
            s, org_id=org_id, email=f"tech-{uuid.uuid4().hex[:6]}@example.com",
            password="worker-test-password", role="technician", name="Tech",
            actor=Actor.system(),
        ).id  # fmt: skip
    for i in range(INVOICES):
        with session_scope() as s:
            org, admin, tech = s.get(Org, org_id), s.get(User, admin_id), s.get(User, tech_id)
            assert org is not None and admin is not None and tech is not None
            client = clients.create(
                s, org=org, data=ClientCreate(name=f"Client {uuid.uuid4().hex[:6]}",
                                              billing_email="ap@c.example.com",
                                              hourly_rate=15000),
                actor=Actor.of(admin),
            )  # fmt: skip
            ticket = tickets.create(
                s, org_id=org.id, data=TicketCreate(client_id=client.id, title="Support"),
                actor=Actor.of(admin),
            )  # fmt: skip
            entry = entries.create(
                s, org=org, user=admin,
                data=TimeEntryCreate(ticket_id=ticket.id, work_date=date.today(),
                                     minutes=60 + i, description="work", technician_id=tech.id),
            )  # fmt: skip
            entries.submit(s, user=tech, entry_id=entry.id)
            entries.approve(s, org=org, user=admin, entry_id=entry.id)
            draft = invoices.generate(
                s, org=org, user=admin, data=InvoiceCreate(client_id=client.id)
            )
            draft_id = draft.id
        with session_scope() as s:
            org, admin = s.get(Org, org_id), s.get(User, admin_id)
            assert org is not None and admin is not None
            sent = sending.send(s, org=org, user=admin, invoice_id=draft_id)
            ids.append(str(sent.id))
            sid = str(sent.stripe_invoice_id)
        with stripe.control(key) as c:
            c.post(f"/_sandbox/invoices/{sid}/pay").raise_for_status()
    reconcile.reconcile_org(org_id)
    return ids


def _worker(*invoice_ids: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, *invoice_ids],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _objects(sandbox: QboSandbox, realm: str) -> dict[str, list[dict[str, Any]]]:
    with sandbox.control() as c:
        found: dict[str, list[dict[str, Any]]] = c.get(
            f"/_sandbox/companies/{realm}/objects"
        ).json()
    return found


def _attempts(database: Database, org_id: uuid.UUID, kind: str) -> int:
    with database.session() as s:
        found = s.scalar(
            select(func.max(QuickBooksPosting.attempts)).where(
                QuickBooksPosting.org_id == org_id, QuickBooksPosting.kind == kind
            )
        )
        s.rollback()
    return int(found or 0)


def _wait(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_worker_killed_mid_call_then_two_racing_workers_post_each_object_once(
    committed: Database,
    app_sandbox: StripeSandbox,
    own_qbo: QboSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from regentra.orgs import secrets
    from regentra.orgs import service as orgs

    use_stripe(monkeypatch, app_sandbox.url, stripe_max_rps="0")
    connect = own_quickbooks(own_qbo, monkeypatch, committed)
    key = new_key()
    with committed.session() as s:
        org, admin = orgs.create_org(
            s, name=f"MSP {uuid.uuid4().hex[:6]}",
            admin_email=f"a-{uuid.uuid4().hex[:6]}@example.com",
            admin_password="worker-test-password",
        )  # fmt: skip
        secrets.put(s, org_id=org.id, purpose="stripe_secret_key", value=key)
        s.commit()
        org_id, admin_id = org.id, admin.id

    class Kit:  # what `connect` needs of an OrgKit
        pass

    kit: Any = Kit()
    kit.org, kit.admin = org, admin
    qbo = connect(kit)
    save_mapping(committed, org_id, accounts_of(qbo))
    invoice_ids = _paid_invoices(org_id, admin_id, app_sandbox, key)

    control(own_qbo, "faults", latency_ms=700)
    first = _worker(*invoice_ids)
    try:
        # The first invoice's payment has begun (its attempt is counted before QuickBooks
        # is called); a moment later its create is in flight (QuickBooks answers after
        # 0.7 s). Then hold the row (PostgreSQL: a row lock; SQLite: the write lock), so
        # the worker cannot record what QuickBooks made, and kill it there.
        _wait(lambda: _attempts(committed, org_id, "payment") > 0, "the payment's attempt")
        time.sleep(0.25)
        with committed.session() as holder:
            holder.execute(
                select(QuickBooksPosting.id)
                .where(QuickBooksPosting.org_id == org_id, QuickBooksPosting.kind == "payment")
                .with_for_update()
            ).all()
            _wait(lambda: bool(_objects(own_qbo, qbo.realm).get("Payment")), "the payment")
            time.sleep(0.3)  # the worker is waiting to record it
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            holder.rollback()
    finally:
        if first.poll() is None:
            first.kill()
        control(own_qbo, "faults", latency_ms=0)
    assert first.returncode == -signal.SIGKILL
    assert len(_objects(own_qbo, qbo.realm)["Payment"]) == 1
    with committed.session() as s:
        posted_payments = s.scalar(
            select(func.count()).where(
                QuickBooksPosting.org_id == org_id,
                QuickBooksPosting.kind == "payment",
                QuickBooksPosting.state == "posted",
            )
        )
    assert posted_payments == 0  # QuickBooks has a Payment no row records

    racers = [_worker(*invoice_ids), _worker(*reversed(invoice_ids))]
    for racer in racers:
        _, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err.decode()[-3000:]
    books = _objects(own_qbo, qbo.realm)
    for entity in ("Customer", "Invoice", "Payment", "Purchase"):
        assert len(books.get(entity, [])) == INVOICES, (entity, books.get(entity))
    assert all(i["Balance"] == 0 for i in books["Invoice"])
    with committed.session() as s:
        states = s.execute(
            select(QuickBooksPosting.kind, QuickBooksPosting.state, QuickBooksPosting.qbo_id).where(
                QuickBooksPosting.org_id == org_id
            )
        ).all()
    assert sorted({state for _, state, _ in states}) == ["posted"]
    assert len(states) == 3 * INVOICES
    recorded = {qbo_id for kind, _, qbo_id in states if kind == "payment"}
    assert recorded == {p["Id"] for p in books["Payment"]}
