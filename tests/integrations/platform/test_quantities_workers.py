"""Quantities under the production shape: one `regentra serve`, two `regentra worker`
processes on one PostgreSQL database and one Redis queue, billing on against a platform
account of the Stripe sandbox (set up with `regentra platform setup`; the sandbox delivers the
platform webhook to the server). A burst of 51 compliance changes through the API, while both
workers sync: at most 5 Stripe updates, and the subscription ends on the exact final count."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Database, LiveServer, free_port, start_server, stop_server
from factories import _org_factory
from sandbox.stripe.conftest import StripeSandbox
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from support.postgres import PostgresServer
from support.redis_server import RedisServer

from integrations.platform.conftest import platform_setup_cli
from integrations.stripe.test_webhook_concurrency import _start_worker, _stop_worker
from integrations.stripe.test_webhook_events import wait_for
from regentra.db import make_engine
from regentra.migrate import upgrade
from regentra.models import OrgBilling

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def billing_cluster(
    postgres_server: PostgresServer, redis_server: RedisServer, app_sandbox: StripeSandbox
) -> Iterator[tuple[LiveServer, Database, str, list[Path]]]:
    redis_server.client().flushall()
    url = postgres_server.create_database(f"regentra_pb_{uuid.uuid4().hex[:8]}")
    upgrade(url)
    port = free_port()
    key = f"sk_test_platform{uuid.uuid4().hex}"
    env = {
        "REGENTRA_DATABASE_URL": url,
        "REGENTRA_BASE_URL": f"http://127.0.0.1:{port}",
        "REGENTRA_STRIPE_API_BASE": app_sandbox.url,
        "REGENTRA_QUEUE_URL": redis_server.url,
        "REGENTRA_PLATFORM_STRIPE_SECRET_KEY": key,
    }
    env["REGENTRA_PLATFORM_STRIPE_WEBHOOK_SECRET"] = platform_setup_cli(env)
    engine = make_engine(url)
    database = Database("postgres", url, sessionmaker(bind=engine, expire_on_commit=False))
    server = start_server(url, extra_env=env, port=port)
    workers = [_start_worker(env) for _ in range(2)]
    try:
        # Both consumers up before the burst (and before any stop: a worker stopped while still
        # starting dies of the signal instead of shutting down).
        wait_for(
            lambda: all("job queue consumer starting" in log.read_text() for _, log in workers),
            timeout=90,
            what="both workers to start",
        )
        yield server, database, key, [log for _, log in workers]
    finally:
        for process, _ in workers:
            _stop_worker(process)
        stop_server(server)
        engine.dispose()
    for process, log in workers:
        assert process.returncode == 0, log.read_text()


def test_a_burst_with_two_workers_makes_few_updates_with_exact_final_counts(
    billing_cluster: tuple[LiveServer, Database, str, list[Path]], app_sandbox: StripeSandbox
) -> None:
    server, database, key, worker_logs = billing_cluster
    kit: Any = _org_factory(database, server)()
    auth = {"Authorization": f"Bearer {key}"}
    with kit.api() as api:
        started = api.post("/billing/checkout", json={"plan": "starter"})
        assert started.status_code == 201, started.text
        card = {"card_number": "4242 4242 4242 4242", "exp": "12 / 34", "cvc": "123"}
        paid = httpx.post(started.json()["url"], data={**card, "name": "O"}, timeout=30)
        assert paid.status_code in (200, 303), paid.text
        wait_for(
            lambda: api.get("/billing").json()["status"] == "active",
            timeout=90,
            what="the platform webhook",
        )
        clients = [kit.client() for _ in range(5)]

        def row() -> OrgBilling:
            with database.session() as s:
                found = s.scalar(select(OrgBilling).where(OrgBilling.org_id == kit.org.id))
                assert found is not None
                return found

        sub_id = row().stripe_subscription_id
        enabled = dict.fromkeys(range(5), False)
        for i in range(51):  # client 0 flipped 11 times (ends on), the others 10 (off)
            enabled[i % 5] = not enabled[i % 5]
            flipped = api.patch(
                f"/clients/{clients[i % 5].id}", json={"compliance_enabled": enabled[i % 5]}
            )
            assert flipped.status_code == 200, flipped.text

    def settled() -> bool:
        current = row()
        return current.synced_version == current.usage_version and current.sync_lease_until is None

    wait_for(settled, timeout=120, what="the workers to sync the last change")
    sub = httpx.get(f"{app_sandbox.url}/v1/subscriptions/{sub_id}", headers=auth).json()
    quantities = {i["price"]["lookup_key"]: i["quantity"] for i in sub["items"]["data"]}
    assert quantities == {
        "regentra_starter_monthly": 1,
        "regentra_starter_seat_monthly": 1,
        "regentra_compliance_tenant_monthly": 1,
    }
    log = httpx.get(f"{app_sandbox.url}/_sandbox/requests", headers=auth).json()["data"]
    updates = [
        r for r in log if r["method"] == "POST" and r["path"] == f"/v1/subscriptions/{sub_id}"
    ]
    assert 1 <= len(updates) <= 5, updates
    assert all(r["status"] == 200 for r in updates), updates
    for log_path in worker_logs:
        assert "Traceback" not in log_path.read_text()
    assert "Traceback" not in server.log()
