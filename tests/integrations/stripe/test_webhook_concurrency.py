"""The scale-out shape on PostgreSQL and Redis: two `regentra serve` processes and two
`regentra worker` processes sharing one database and one queue. The same signed deliveries
reach both servers at the same instant, twice each; every invoice still moves exactly once,
with exactly one audit entry per event, every event is stored once, and exactly one of the
four concurrent deliveries of an event acts on it (the others answer 200 as duplicates).

ACH payments go through the workers: the `payment_intent.processing` payload names no invoice,
so a worker looks it up in Stripe and notes "bank payment processing" on the invoice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import _VAR, ROOT, Database, LiveServer, start_server, stop_server
from sandbox.stripe.conftest import StripeSandbox
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from support.postgres import PostgresServer
from support.redis_server import RedisServer

from integrations.conftest import StripeApp, connect_billing
from integrations.stripe.test_webhook_events import (
    audits,
    body_of,
    events_of,
    invoice_state,
    pay,
    settle,
    sign,
    stop_deliveries,
    stored,
    wait_for,
    webhook_url,
)
from regentra.db import make_engine
from regentra.migrate import upgrade
from regentra.models import Invoice

pytestmark = [pytest.mark.e2e]

CARD_INVOICES = 4
ACH_INVOICES = 2
COPIES_PER_SERVER = 2


def _start_worker(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = _VAR / f"worker-{uuid.uuid4().hex[:8]}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "regentra", "worker", "--workers", "2"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return process, log_path


def _stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def cluster(
    postgres_server: PostgresServer, redis_server: RedisServer, app_sandbox: StripeSandbox
) -> Iterator[tuple[StripeApp, list[LiveServer], list[Path]]]:
    """Two servers and two workers on one fresh PostgreSQL database and one Redis queue."""
    redis_server.client().flushall()
    url = postgres_server.create_database(f"regentra_cluster_{uuid.uuid4().hex[:8]}")
    upgrade(url)
    engine = make_engine(url)
    database = Database("postgres", url, sessionmaker(bind=engine, expire_on_commit=False))
    env = {"REGENTRA_STRIPE_API_BASE": app_sandbox.url, "REGENTRA_QUEUE_URL": redis_server.url}
    servers: list[LiveServer] = []
    workers: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        servers = [start_server(url, extra_env=env) for _ in range(2)]
        workers = [_start_worker({**env, "REGENTRA_DATABASE_URL": url}) for _ in range(2)]
        yield StripeApp(servers[0], app_sandbox, database), servers, [p for _, p in workers]
    finally:
        for process, _ in workers:
            _stop_worker(process)
        for server in servers:
            stop_server(server)
        engine.dispose()
    for process, log_path in workers:
        assert process.returncode == 0, log_path.read_text()


def _deliver_concurrently(
    urls: list[str], events: list[dict[str, Any]], secret: str
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Every event posted `COPIES_PER_SERVER` times to each URL, all copies of an event
    released at the same instant (and all events at once). Answers per event id."""
    answers: dict[str, list[tuple[int, dict[str, Any]]]] = {e["id"]: [] for e in events}
    lock = threading.Lock()
    threads: list[threading.Thread] = []
    for event in events:
        body = body_of(event)
        copies = [u for u in urls for _ in range(COPIES_PER_SERVER)]
        barrier = threading.Barrier(len(copies))

        def send(
            url: str,
            body: bytes = body,
            event_id: str = event["id"],
            barrier: threading.Barrier = barrier,
        ) -> None:
            with httpx.Client(timeout=60) as http:
                barrier.wait(timeout=60)
                r = http.post(
                    url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "Stripe-Signature": sign(body, secret),
                    },
                )
            with lock:
                answers[event_id].append((r.status_code, r.json()))

        for url in copies:
            threads.append(threading.Thread(target=send, args=(url,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def _check_answers(answers: dict[str, list[tuple[int, dict[str, Any]]]], urls: int) -> None:
    for event_id, got in answers.items():
        assert len(got) == urls * COPIES_PER_SERVER, (event_id, got)
        assert all(status == 200 for status, _ in got), (event_id, got)
        acted = [body for _, body in got if not body.get("duplicate")]
        assert len(acted) == 1, (event_id, got)


def test_two_servers_and_two_workers_apply_each_transition_once(
    cluster: tuple[StripeApp, list[LiveServer], list[Path]],
) -> None:
    app, servers, worker_logs = cluster
    billing = connect_billing(app)
    card = [billing.sent_invoice() for _ in range(CARD_INVOICES)]
    ach = [billing.sent_invoice() for _ in range(ACH_INVOICES)]
    stop_deliveries(billing)  # the test delivers, to both servers at once
    path = "/" + webhook_url(billing).split("/", 3)[3]
    urls = [server.url + path for server in servers]

    for invoice in card:
        pay(billing, invoice["stripe_invoice_id"], "card")
    for invoice in ach:
        pay(billing, invoice["stripe_invoice_id"], "ach")
    with billing.control() as ctl:
        r = ctl.get("/v1/events", params={"type": "payment_intent.processing", "limit": 100})
    assert r.status_code == 200, r.text
    processing = r.json()["data"]
    assert len(processing) == ACH_INVOICES
    first = [
        e
        for invoice in card
        for e in events_of(
            billing, invoice["stripe_invoice_id"], "invoice.paid", "invoice.payment_succeeded"
        )
    ]
    assert len(first) == 2 * CARD_INVOICES
    _check_answers(_deliver_concurrently(urls, [*first, *processing], billing.webhook_secret), 2)

    for invoice in card:
        assert invoice_state(billing, invoice["id"])["status"] == "paid"
    for invoice in ach:  # noted by a worker, which looked the invoice up in Stripe
        wait_for(
            lambda i=invoice: invoice_state(billing, i["id"])["payment_processing"],
            timeout=60,
            what="payment processing noted by a worker",
        )
        assert invoice_state(billing, invoice["id"])["status"] == "sent"
    assert any("payment processing looked up" in p.read_text() for p in worker_logs)

    for invoice in ach:
        settle(billing, invoice["stripe_invoice_id"])
    second = [
        e
        for invoice in ach
        for e in events_of(
            billing, invoice["stripe_invoice_id"], "invoice.paid", "invoice.payment_succeeded"
        )
    ]
    assert len(second) == 2 * ACH_INVOICES
    _check_answers(_deliver_concurrently(urls, second, billing.webhook_secret), 2)

    for invoice in [*card, *ach]:
        state = invoice_state(billing, invoice["id"])
        assert state["status"] == "paid" and state["payment_processing"] is False, state
        assert state["amount_paid"] == invoice["total"]
        assert len(audits(billing, invoice["id"], "invoice.paid")) == 1
        assert len(audits(billing, invoice["id"], "invoice.payment_succeeded")) == 1
    for invoice in ach:
        assert len(audits(billing, invoice["id"], "invoice.payment_processing")) == 1
    delivered = [*first, *processing, *second]
    rows = Counter(e.event_id for e in stored(billing))
    assert all(rows[e["id"]] == 1 for e in delivered), rows
    with app.database.session() as s:
        statuses = s.scalars(select(Invoice.status).where(Invoice.org_id == billing.kit.org.id))
        assert sorted(statuses) == ["paid"] * (CARD_INVOICES + ACH_INVOICES)
    for server in servers:
        assert "Traceback" not in server.log(), server.log()[-3000:]


# ---- a delivery waiting on the database holds up nothing else -------------------------------


@pytest.fixture
def one_server(
    postgres_server: PostgresServer, app_sandbox: StripeSandbox
) -> Iterator[tuple[StripeApp, Any]]:
    """One `regentra serve` process on a fresh PostgreSQL database (deliveries are received
    on its event loop, through psycopg's asyncio connections), and an engine of the test's."""
    url = postgres_server.create_database(f"regentra_loop_{uuid.uuid4().hex[:8]}")
    upgrade(url)
    engine = make_engine(url)
    database = Database("postgres", url, sessionmaker(bind=engine, expire_on_commit=False))
    server = start_server(url, extra_env={"REGENTRA_STRIPE_API_BASE": app_sandbox.url})
    try:
        yield StripeApp(server, app_sandbox, database), engine
    finally:
        stop_server(server)
        engine.dispose()
    assert server.process.returncode == 0, server.log()[-3000:]
    assert "Traceback" not in server.log(), server.log()[-3000:]


def test_a_delivery_waiting_on_a_locked_invoice_holds_up_no_other_request(
    one_server: tuple[StripeApp, Any],
) -> None:
    """Invoice A's row is locked (as a long transaction elsewhere would): its `invoice.paid`
    delivery waits for the lock, while B's delivery, the health check and a page are answered
    at once; when the lock goes, A's delivery is applied, once."""
    app, engine = one_server
    billing = connect_billing(app)
    a, b = billing.sent_invoice(), billing.sent_invoice()
    stop_deliveries(billing)  # the test delivers
    for invoice in (a, b):
        pay(billing, invoice["stripe_invoice_id"], "card")
    (paid_a,) = events_of(billing, a["stripe_invoice_id"], "invoice.paid")
    (paid_b,) = events_of(billing, b["stripe_invoice_id"], "invoice.paid")
    url = webhook_url(billing)
    secret = billing.webhook_secret

    def post(event: dict[str, Any]) -> httpx.Response:
        body = body_of(event)
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, secret)}
        return httpx.post(url, content=body, headers=headers, timeout=60)

    answered: list[httpx.Response] = []
    with engine.connect() as locker:
        locker.execute(select(Invoice.id).where(Invoice.id == a["id"]).with_for_update())
        waiting = threading.Thread(target=lambda: answered.append(post(paid_a)))
        waiting.start()
        wait_for(
            lambda: locker.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).scalar_one(),
            what="A's delivery waiting for the invoice's lock",
        )
        other = post(paid_b)
        assert other.status_code == 200 and other.json() == {"received": True}, other.text
        assert invoice_state(billing, b["id"])["status"] == "paid"
        assert httpx.get(app.server.url + "/healthz", timeout=10).status_code == 200
        assert httpx.get(app.server.url + "/login", timeout=10).status_code == 200
        assert answered == [] and invoice_state(billing, a["id"])["status"] == "sent"
        locker.rollback()  # the lock goes
    waiting.join(timeout=60)
    (first,) = answered
    assert first.status_code == 200 and first.json() == {"received": True}, first.text
    again = post(paid_a)
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    for invoice in (a, b):
        assert invoice_state(billing, invoice["id"])["status"] == "paid"
        assert len(audits(billing, invoice["id"], "invoice.paid")) == 1
