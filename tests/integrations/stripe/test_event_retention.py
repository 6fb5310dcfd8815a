"""Stored Stripe events keep their payload for REGENTRA_STRIPE_EVENT_PAYLOAD_DAYS (90 by
default); then the daily job empties it and keeps the row (ids, type, outcome), so a
redelivery is still a duplicate. The sweeps' indexes exist. Both databases."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import Database, OrgKit
from sqlalchemy import inspect, select, update

from regentra import periodic, queue, task_registry
from regentra.config import get_settings
from regentra.integrations.stripe import handlers, retention
from regentra.kit.time import utcnow
from regentra.models import StripeEvent


def stored(db: Database, kit: OrgKit, *, days_ago: float, outcome: str = "stored") -> str:
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    event: dict[str, Any] = {
        "id": event_id,
        "type": "invoice.paid",
        "livemode": False,
        "data": {"object": {"id": "in_kept", "customer_email": "ap@client.example.com"}},
    }
    with db.session() as session:
        assert handlers.store(session, org_id=kit.org.id, event=event, source="webhook")
        handlers.finish(session, org_id=kit.org.id, event_id=event_id, outcome=outcome)
        session.execute(
            update(StripeEvent)
            .where(StripeEvent.event_id == event_id)
            .values(received_at=utcnow() - timedelta(days=days_ago))
        )
        session.commit()
    return event_id


def row(db: Database, event_id: str) -> StripeEvent:
    with db.session() as session:
        found = session.scalar(select(StripeEvent).where(StripeEvent.event_id == event_id))
    assert found is not None
    return found


def test_payloads_past_the_period_are_dropped_and_the_rows_kept(
    db: Database, make_org: Callable[..., OrgKit]
) -> None:
    kit = make_org()
    old = stored(db, kit, days_ago=91, outcome="paid: invoice INV-000001")
    recent = stored(db, kit, days_ago=89)
    assert get_settings().stripe_event_payload_days == 90

    assert retention.drop_old_payloads() == 1
    dropped = row(db, old)
    assert dropped.payload == {}
    assert dropped.payload_dropped_at is not None
    assert (dropped.type, dropped.object_id, dropped.outcome) == (
        "invoice.paid",
        "in_kept",
        "paid: invoice INV-000001",
    )
    assert dropped.processed_at is not None
    assert row(db, recent).payload["id"] == recent and row(db, recent).payload_dropped_at is None
    assert retention.drop_old_payloads() == 0  # idempotent

    # A redelivery of the emptied event is still a duplicate.
    with db.session() as session:
        event = {"id": old, "type": "invoice.paid", "data": {"object": {"id": "in_kept"}}}
        assert not handlers.store(session, org_id=kit.org.id, event=event, source="webhook")


def test_the_period_is_configurable_and_the_sweep_goes_in_batches(
    db: Database, make_org: Callable[..., OrgKit], monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = make_org()
    ids = [stored(db, kit, days_ago=days) for days in (3, 8, 10, 40)]
    monkeypatch.setenv("REGENTRA_STRIPE_EVENT_PAYLOAD_DAYS", "7")
    get_settings.cache_clear()
    assert retention.drop_old_payloads(batch=1) == 3
    assert [row(db, i).payload == {} for i in ids] == [False, True, True, True]


def test_the_sweep_is_a_daily_periodic_job() -> None:
    (entry,) = [p for p in periodic.SCHEDULE if p.task == "stripe.event_payloads_sweep"]
    queue.load_tasks()  # as a server does (alone, this test imports no task module)
    assert task_registry.find(entry.task) is not None
    day = [datetime(2026, 12, 2, h, m) for h in range(24) for m in range(60)]
    assert len([at for at in day if entry.schedule(at)]) == 1


def test_the_sweeps_have_their_indexes(database: Database) -> None:
    assert database.engine is not None
    found = inspect(database.engine).get_indexes("stripe_events")
    indexes = {i["name"]: i["column_names"] for i in found}
    assert indexes["ix_stripe_events_pending"] == ["received_at"]
    assert indexes["ix_stripe_events_payload_kept"] == ["received_at"]
