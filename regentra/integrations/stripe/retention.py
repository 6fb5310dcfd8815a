"""How long stored Stripe events keep their payload.

A stored event (`stripe_events`) keeps the event as received for
`REGENTRA_STRIPE_EVENT_PAYLOAD_DAYS` days (90 by default): enough to look into a delivery or
replay it. Then the daily `stripe.event_payloads_sweep` empties the payload and marks the row
(`payload_dropped_at`); the row itself stays, with its ids, type, source, times and outcome, so
a redelivery or reconciliation still finds the event already received and does nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update

from regentra.config import get_settings
from regentra.db import session_scope
from regentra.kit.time import utcnow
from regentra.models import StripeEvent

log = structlog.get_logger(__name__)

BATCH = 1000  # rows per write transaction (short ones: webhooks keep arriving meanwhile)


def payload_cutoff(now: datetime | None = None) -> datetime:
    """Events received before this lose their payload."""
    return (now or utcnow()) - timedelta(days=get_settings().stripe_event_payload_days)


def drop_old_payloads(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Empty the payload of every stored event received before `payload_cutoff`, in batches
    of `batch` rows, each its own transaction; the number of rows emptied. Idempotent."""
    cutoff = payload_cutoff(now)
    dropped = 0
    while True:
        with session_scope() as session:
            ids = (
                select(StripeEvent.id)
                .where(StripeEvent.payload_dropped_at.is_(None), StripeEvent.received_at < cutoff)
                .limit(batch)
                .scalar_subquery()
            )
            result = session.execute(
                update(StripeEvent)
                .where(StripeEvent.id.in_(ids))
                .values(payload={}, payload_dropped_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        count = int(result.rowcount)  # type: ignore[attr-defined]
        dropped += count
        if count < batch:
            break
    if dropped:
        log.info("stripe event payloads dropped", rows=dropped, received_before=cutoff.isoformat())
    return dropped
