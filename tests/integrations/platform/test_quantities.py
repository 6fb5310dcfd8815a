"""Seats and compliance tenants on an org's subscription follow what it uses: through the
sync job (coalesced, one worker at a time per org), against the platform account of the
Stripe sandbox; in-process on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import Database
from factories import OrgKit
from sqlalchemy import select

from integrations.platform.conftest import Platform, row_of, subscribe
from regentra.config import get_settings
from regentra.integrations.platform import quantities
from regentra.models import AuditEvent

RunTasks = Callable[..., list[str]]


@pytest.fixture(autouse=True)
def fast_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """One quantity update a second per subscription (180 an hour in production: a test
    would wait 20 s between two updates). Pacing itself has tests of its own (test_queue)."""
    monkeypatch.setenv("REGENTRA_PLATFORM_QUANTITY_UPDATES_PER_HOUR", "3600")
    get_settings.cache_clear()


def items_of(platform: Platform, subscription_id: str) -> dict[str, int]:
    sub = platform.raw(f"/v1/subscriptions/{subscription_id}")
    return {i["price"]["lookup_key"]: i["quantity"] for i in sub["items"]["data"]}


def updates_of(platform: Platform, subscription_id: str) -> int:
    """Subscription updates the app sent (POST /v1/subscriptions/{id}), from the request log."""
    log = httpx.get(
        f"{platform.app.sandbox.url}/_sandbox/requests",
        headers={"Authorization": f"Bearer {platform.key}"},
        timeout=30,
    ).json()["data"]
    path = f"/v1/subscriptions/{subscription_id}"
    return sum(1 for r in log if r["method"] == "POST" and r["path"] == path)


def compliance(kit: OrgKit, client: Any, enabled: bool) -> None:
    with kit.api() as api:
        r = api.patch(f"/clients/{client.id}", json={"compliance_enabled": enabled})
    assert r.status_code == 200, r.text


def test_seats_and_compliance_tenants_follow_within_one_job_run(
    platform: Platform, run_tasks: RunTasks, db: Database
) -> None:
    kit = platform.app.make_org()
    sub_id = subscribe(platform, kit, "starter")
    run_tasks()
    assert items_of(platform, sub_id) == {
        "regentra_starter_monthly": 1,
        "regentra_starter_seat_monthly": 1,
    }
    techs = [kit.add_user("technician") for _ in range(3)]
    with kit.api() as api:  # through the API, as an admin adds them
        added = api.post(
            "/users",
            json={"email": "tech4@example.com", "password": "correct horse battery staple 9",
                  "role": "technician"},
        )  # fmt: skip
    assert added.status_code == 201, added.text
    clients = [kit.client() for _ in range(3)]
    for client in clients[:2]:
        compliance(kit, client, True)
    before = updates_of(platform, sub_id)
    ran = run_tasks()
    assert "platform.sync_quantities" in ran
    # Seats = active users (the admin, 3 technicians made here and 1 through the API, whose
    # additions through the service bump the usage too once the org is subscribed).
    assert items_of(platform, sub_id) == {
        "regentra_starter_monthly": 1,
        "regentra_starter_seat_monthly": 5,
        "regentra_compliance_tenant_monthly": 2,
    }
    assert updates_of(platform, sub_id) - before == 1  # one update carried the final counts
    row = row_of(db, kit)
    assert row is not None and row.synced_version == row.usage_version
    assert row.sync_lease_until is None
    with db.session() as session:
        (audit,) = session.scalars(
            select(AuditEvent).where(
                AuditEvent.org_id == kit.org.id, AuditEvent.action == "billing.quantities_updated"
            )
        )
    assert audit.details["to"] == {"seats": 5, "compliance_tenants": 2}

    # Deactivating a user and clearing both compliance flags: the add-on item goes.
    with kit.api() as api:
        off = api.post(f"/users/{techs[0].id}/deactivate")
    assert off.status_code == 200, off.text
    for client in clients[:2]:
        compliance(kit, client, False)
    run_tasks()
    assert items_of(platform, sub_id) == {
        "regentra_starter_monthly": 1,
        "regentra_starter_seat_monthly": 4,
    }
    # Reactivating, and one compliance client again: the add-on comes back.
    with kit.api() as api:
        assert api.post(f"/users/{techs[0].id}/reactivate").status_code == 200
    compliance(kit, clients[2], True)
    run_tasks()
    assert items_of(platform, sub_id) == {
        "regentra_starter_monthly": 1,
        "regentra_starter_seat_monthly": 5,
        "regentra_compliance_tenant_monthly": 1,
    }


def test_a_burst_of_50_toggles_makes_few_updates_with_exact_final_counts(
    platform: Platform, run_tasks: RunTasks
) -> None:
    kit = platform.app.make_org()
    sub_id = subscribe(platform, kit)
    run_tasks()
    clients = [kit.client() for _ in range(5)]
    before = updates_of(platform, sub_id)
    enabled = dict.fromkeys(range(5), False)
    for i in range(51):  # 51 flips: client 0 flipped 11 times (ends on), the others 10 (off)
        enabled[i % 5] = not enabled[i % 5]
        compliance(kit, clients[i % 5], enabled[i % 5])
    ran = run_tasks(limit=200)
    assert ran.count("platform.sync_quantities") == 51
    made = updates_of(platform, sub_id) - before
    assert 1 <= made <= 5, made
    expected = 1
    assert items_of(platform, sub_id)["regentra_compliance_tenant_monthly"] == expected


def test_drift_in_stripe_is_corrected_daily_and_audited(
    platform: Platform, run_tasks: RunTasks, db: Database
) -> None:
    kit = platform.app.make_org()
    sub_id = subscribe(platform, kit)
    kit.add_user("technician")
    run_tasks()
    sub = platform.raw(f"/v1/subscriptions/{sub_id}")
    seat = next(i for i in sub["items"]["data"] if i["price"]["product"] == "regentra_psa_seat")
    platform.stripe.v1.subscription_items.update(seat["id"], params={"quantity": 9})
    from regentra import queue

    queue.send("platform.quantities_drift_sweep")
    assert run_tasks() == ["platform.quantities_drift_sweep", "platform.sync_quantities"]
    assert items_of(platform, sub_id)["regentra_starter_seat_monthly"] == 2
    with db.session() as session:
        audits = session.scalars(
            select(AuditEvent).where(
                AuditEvent.org_id == kit.org.id, AuditEvent.action == "billing.quantities_updated"
            )
        ).all()
    corrected = [a.details for a in audits if a.details["from"]["seats"] == 9]
    assert [(d["from"]["seats"], d["to"]["seats"]) for d in corrected] == [(9, 2)]


def test_no_subscription_no_sync(platform: Platform, run_tasks: RunTasks) -> None:
    kit = platform.app.make_org()
    kit.add_user("technician")
    client = kit.client()
    compliance(kit, client, True)
    assert "platform.sync_quantities" not in run_tasks()
    assert quantities.sync(kit.org.id) == "no subscription to sync"


def test_a_held_lease_with_a_change_pending_retries_later(
    platform: Platform, run_tasks: RunTasks, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = platform.app.make_org()
    subscribe(platform, kit)
    run_tasks()
    assert quantities._take_lease(kit.org.id)  # another worker holds it
    kit.add_user("technician")
    with pytest.raises(quantities.SyncPending):
        quantities.sync(kit.org.id)
    quantities._drop_lease(kit.org.id)
    assert quantities.sync(kit.org.id).startswith("updated: 2 seats")
