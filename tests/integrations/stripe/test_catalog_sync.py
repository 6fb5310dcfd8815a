"""The Service Catalog's sync from Stripe, against the real Stripe sandbox over HTTP.

In-process (the default): `run_sync` runs in this process, talking to the session's sandbox
(or, for the 429 storm, the same sandbox with faults on) through `REGENTRA_STRIPE_API_BASE`,
and writing in the test's rolled-back transaction (`db`; its `session_scope` joins it). The
API tests use `stripe_app`, the app in-process, and `run_tasks` does the consumer's work:
the first Save's sync runs when the test calls it.

e2e (`stripe_server`, a real `regentra serve` whose consumer runs "stripe.catalog_sync"):
four sync requests at once join one sync, which needs concurrent requests on separate
connections and the server's own consumer.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import stripe
from sandbox.stripe.conftest import StripeSandbox, new_key
from sqlalchemy import func, select

from integrations.conftest import StripeApp, use_stripe
from regentra.catalog import service as catalog
from regentra.integrations.stripe.catalog_sync import run_sync
from regentra.models import CatalogItem, CatalogSync
from regentra.orgs import secrets


@pytest.fixture
def use_sandbox(db: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[StripeSandbox], None]:
    """Point this process's Stripe at a given sandbox (the database is the test's, `db`)."""

    def point(sandbox: StripeSandbox) -> None:
        use_stripe(monkeypatch, sandbox.url)

    return point


@pytest.fixture
def sandbox(app_sandbox: StripeSandbox) -> StripeSandbox:
    """The session's sandbox (rate limit off); each test uses an account (key) of its own."""
    return app_sandbox


def seed(client: stripe.StripeClient, *, products: int, prices_each: int) -> list[str]:
    """`products` products with `prices_each` one-time USD prices each; returns product ids."""

    def make(i: int) -> str:
        product = client.v1.products.create(
            params={"name": f"Service {i:03d}", "description": f"Seeded service {i}"}
        )
        for j in range(prices_each):
            client.v1.prices.create(
                params={"product": product.id, "unit_amount": 1000 + i * 10 + j, "currency": "usd"}
            )
        return str(product.id)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(make, range(products)))


def connect(database: Any, org_id: uuid.UUID, key: str) -> None:
    with database.session() as s:
        secrets.put(s, org_id=org_id, purpose="stripe_secret_key", value=key)
        s.commit()


def start(database: Any, org_id: uuid.UUID) -> uuid.UUID:
    with database.session() as s:
        sync = catalog.start_sync(s, org_id=org_id)
        s.commit()
        return sync.id


def snapshot(database: Any, org_id: uuid.UUID) -> dict[str, tuple[Any, ...]]:
    with database.session() as s:
        rows = s.scalars(select(CatalogItem).where(CatalogItem.org_id == org_id)).all()
        return {
            str(r.stripe_price_id or r.stripe_product_id): (
                r.id,
                r.name,
                r.unit_amount,
                r.currency,
                r.recurring_interval,
                r.active,
                r.updated_at,
            )
            for r in rows
        }


def sync_row(database: Any, sync_id: uuid.UUID) -> CatalogSync:
    with database.session() as s:
        row = s.get(CatalogSync, sync_id)
        assert row is not None
        return row


def test_250_prices_over_pagination_then_a_rerun_changes_nothing(
    db: Any, make_org: Any, sandbox: StripeSandbox, use_sandbox: Any
) -> None:
    key = new_key()
    client = sandbox.client(key)
    seed(client, products=50, prices_each=5)
    monthly = client.v1.products.create(params={"name": "Managed backup"})
    client.v1.prices.create(
        params={
            "product": monthly.id,
            "unit_amount": 4900,
            "currency": "eur",
            "recurring": {"interval": "month"},
            "nickname": "Monthly",
        }
    )
    bare = client.v1.products.create(params={"name": "Consulting (quote on request)"})
    kit = make_org()
    connect(db, kit.org.id, key)
    use_sandbox(sandbox)

    first = start(db, kit.org.id)
    assert run_sync(first) == "succeeded"
    row = sync_row(db, first)
    assert (row.status, row.seen, row.total, row.error) == ("succeeded", 252, 252, None)
    assert row.started_at is not None and row.finished_at is not None
    items = snapshot(db, kit.org.id)
    assert len(items) == 252  # 251 prices + 1 product without a price
    priced = [v for k, v in items.items() if k.startswith("price_")]
    assert len(priced) == 251
    monthly_item = next(v for v in priced if v[4] == "month")
    assert monthly_item[1:6] == ("Managed backup (Monthly)", 4900, "EUR", "month", True)
    assert items[str(bare.id)][1:6] == ("Consulting (quote on request)", None, None, None, True)
    with db.session() as s:
        summary = catalog.summary(s, org_id=kit.org.id)
    assert summary["status"] == "succeeded" and summary["items"] == 252
    assert summary["last_sync_at"] is not None

    # Running it again changes nothing: same rows, same values, not even updated_at.
    second = start(db, kit.org.id)
    assert second != first
    assert run_sync(second) == "succeeded"
    assert snapshot(db, kit.org.id) == items
    # A finished sync's task run again (a duplicate delivery) does nothing.
    assert run_sync(second) == "skipped"


def test_archived_in_stripe_becomes_inactive_and_nothing_is_deleted(
    db: Any, make_org: Any, sandbox: StripeSandbox, use_sandbox: Any
) -> None:
    key = new_key()
    client = sandbox.client(key)
    product_ids = seed(client, products=4, prices_each=2)
    doomed = client.v1.products.create(params={"name": "Discontinued, never priced"})
    kit = make_org()
    connect(db, kit.org.id, key)
    use_sandbox(sandbox)
    assert run_sync(start(db, kit.org.id)) == "succeeded"
    before = snapshot(db, kit.org.id)
    assert len(before) == 9 and all(v[5] for v in before.values())

    archived = product_ids[0]
    client.v1.products.update(archived, params={"active": False})
    one_price = client.v1.prices.list(params={"product": product_ids[1]}).data[0]
    client.v1.prices.update(one_price.id, params={"active": False})
    client.v1.products.delete(doomed.id)
    # A product that gets its first price: the item without a price gives way to the price.
    client.v1.prices.create(params={"product": product_ids[2], "unit_amount": 7, "currency": "usd"})
    renamed = client.v1.products.update(product_ids[3], params={"name": "Renamed service"})

    assert run_sync(start(db, kit.org.id)) == "succeeded"
    after = snapshot(db, kit.org.id)
    assert set(before) <= set(after)  # nothing deleted
    with db.session() as s:
        rows = s.scalars(select(CatalogItem).where(CatalogItem.org_id == kit.org.id)).all()
    by_product: dict[str, list[CatalogItem]] = {}
    for r in rows:
        by_product.setdefault(str(r.stripe_product_id), []).append(r)
    assert all(not r.active for r in by_product[archived])
    assert {r.stripe_price_id: r.active for r in by_product[product_ids[1]]}[one_price.id] is False
    assert sum(r.active for r in by_product[product_ids[1]]) == 1
    assert [r.active for r in by_product[str(doomed.id)]] == [False]
    assert len(by_product[product_ids[2]]) == 3
    assert {r.name for r in by_product[str(renamed.id)]} == {"Renamed service"}
    # Keyed by Stripe id: the same rows were updated in place.
    assert all(after[k][0] == before[k][0] for k in before)


def test_a_429_storm_during_sync_finishes_without_duplicates(
    db: Any, make_org: Any, sandbox: StripeSandbox, use_sandbox: Any
) -> None:
    """The sync runs in a thread of its own (the only one using the database meanwhile)
    while this one watches the sandbox's request log. Faults are sandbox-wide: cleared after."""
    stormy = sandbox
    try:
        key = new_key()
        seed(stormy.client(key), products=50, prices_each=5)
        kit = make_org()
        connect(db, kit.org.id, key)
        use_sandbox(stormy)
        sync_id = start(db, kit.org.id)
        with stormy.control(key) as control:
            # Every call answers 429 until the sync has been refused twice, then 30% do.
            control.post("/_sandbox/faults", data={"rate_429": "1"}).raise_for_status()
            with ThreadPoolExecutor(1) as pool:
                outcome = pool.submit(run_sync, sync_id)

                def refused() -> int:
                    log = control.get("/_sandbox/requests", params={"limit": 100}).json()
                    return sum(r.get("status") == 429 for r in log["data"])

                _wait(lambda: refused() >= 2, 20, "the sync to meet the storm")
                control.post("/_sandbox/faults", data={"rate_429": "0.3"}).raise_for_status()
                assert outcome.result(timeout=120) == "succeeded"
    finally:
        with stormy.control(key) as control:
            control.post("/_sandbox/faults").raise_for_status()
    row = sync_row(db, sync_id)
    assert (row.status, row.seen) == ("succeeded", 250)
    with db.session() as s:
        ids = s.scalars(
            select(CatalogItem.stripe_price_id).where(CatalogItem.org_id == kit.org.id)
        ).all()
    assert len(ids) == 250 and len(set(ids)) == 250


def test_a_rejected_key_fails_the_sync_with_the_clients_message(
    db: Any, make_org: Any, sandbox: StripeSandbox, use_sandbox: Any
) -> None:
    kit = make_org()
    connect(db, kit.org.id, "sk_test_short")  # the sandbox rejects it, as Stripe would
    use_sandbox(sandbox)
    sync_id = start(db, kit.org.id)
    assert run_sync(sync_id) == "failed"
    row = sync_row(db, sync_id)
    assert row.status == "failed" and row.finished_at is not None
    assert row.error and "Stripe rejected the secret key" in row.error
    # The failed sync no longer blocks: a new request starts a new one.
    assert start(db, kit.org.id) != sync_id


def test_stripe_unreachable_is_retried_then_recorded(
    db: Any, make_org: Any, use_sandbox: Any
) -> None:
    dead = StripeSandbox(f"http://127.0.0.1:{_dead_port()}", None, None)  # type: ignore[arg-type]
    kit = make_org()
    connect(db, kit.org.id, new_key())
    use_sandbox(dead)
    sync_id = start(db, kit.org.id)
    from regentra.queue import Transient

    with pytest.raises(Transient):
        run_sync(sync_id, max_attempts=2)  # first of two attempts: the queue retries it
    row = sync_row(db, sync_id)
    assert row.status == "running" and row.error and "retrying" in row.error
    assert run_sync(sync_id, max_attempts=2) == "failed"  # the last attempt records it
    row = sync_row(db, sync_id)
    assert row.status == "failed" and row.error and "Could not reach Stripe" in row.error


def _dead_port() -> int:
    from conftest import free_port

    return free_port()


# ---- through the API: in-process, and the real server's consumer (e2e) --------------------------


def _wait(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `check` (the sandbox's request log, the real server's sync) until it holds."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _all_items(api: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200, "active": "true"}
        if cursor:
            params["cursor"] = cursor
        body = api.get("/catalog", params=params).raise_for_status().json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


@pytest.mark.e2e
def test_sync_requests_join_one_sync_run_by_the_servers_consumer(stripe_server: StripeApp) -> None:
    """e2e: four requests at once (separate connections to a real server), and the sync run
    by that server's consumer."""
    stripe_app = stripe_server
    _server, box = stripe_app
    key = new_key()
    seed(box.client(key), products=25, prices_each=2)
    kit = stripe_app.make_org()
    connect(stripe_app.database, kit.org.id, key)
    barrier = threading.Barrier(4)

    def request(_: int) -> httpx.Response:
        with kit.api() as api:
            barrier.wait()
            return api.post("/catalog/sync")

    # Slow Stripe down so the first sync is still running when the last request arrives
    # (with SQLite the four requests are serialized, and 50 prices sync in a blink).
    with box.control(key) as control:
        control.post("/_sandbox/faults", data={"latency_ms": "400"}).raise_for_status()
        try:
            with ThreadPoolExecutor(4) as pool:
                responses = list(pool.map(request, range(4)))
        finally:
            control.post("/_sandbox/faults").raise_for_status()
    assert [r.status_code for r in responses] == [202] * 4, [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1, f"concurrent requests made {len(ids)} syncs"
    sync_id = ids.pop()
    with kit.api() as api:
        _wait(
            lambda: api.get(f"/catalog/sync/{sync_id}").json()["status"] == "succeeded",
            30,
            "the sync to succeed",
        )
        progress = api.get(f"/catalog/sync/{sync_id}").json()
        assert (progress["seen"], progress["total"]) == (50, 50)
        assert len(_all_items(api)) == 50
    with stripe_app.database.session() as s:
        count = s.scalar(select(func.count()).where(CatalogSync.org_id == kit.org.id))
    assert count == 1


def test_sync_without_stripe_is_409_pointing_to_settings(stripe_app: StripeApp) -> None:
    kit = stripe_app.make_org()
    with kit.api() as api:
        r = api.post("/catalog/sync")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "stripe_not_connected"
    assert "Settings → Integrations" in r.json()["error"]["message"]


def test_first_save_fills_the_catalog_within_10_seconds(
    stripe_app: StripeApp, run_tasks: Callable[..., list[str]]
) -> None:
    """Acceptance 1: the first Save with working keys fills the catalog with all 250
    sandbox prices within 10 s, with no further request than reading the list (the
    consumer's work done by `run_tasks`, timed with the Save)."""
    _server, box = stripe_app
    token = uuid.uuid4().hex
    key = f"sk_test_{token}"
    seed(box.client(key), products=50, prices_each=5)
    kit = stripe_app.make_org()
    with kit.api() as api:
        started = time.monotonic()
        r = api.put(
            "/integrations/stripe",
            json={"publishable_key": f"pk_test_{token}", "secret_key": key},
        )
        assert r.status_code == 200, r.text
        assert "stripe.catalog_sync" in run_tasks()
        assert len(_all_items(api)) >= 250
        elapsed = time.monotonic() - started
        assert elapsed <= 10
        assert len(_all_items(api)) == 250
