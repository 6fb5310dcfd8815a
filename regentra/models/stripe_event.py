from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from regentra.kit.time import utcnow
from regentra.models.base import Base, IdMixin, UTCDateTime


class StripeEvent(IdMixin, Base):
    """A verified Stripe event, stored under (org, event id) before anything acts on it: a
    second delivery of the same event finds the row and does nothing."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        UniqueConstraint("org_id", "event_id"),
        # The pending-events sweep (`handlers.requeue_pending`): events not processed yet.
        Index(
            "ix_stripe_events_pending",
            "received_at",
            sqlite_where=text("processed_at IS NULL"),
            postgresql_where=text("processed_at IS NULL"),
        ),
        # The payload retention sweep (`retention.drop_old_payloads`): payloads still kept.
        Index(
            "ix_stripe_events_payload_kept",
            "received_at",
            sqlite_where=text("payload_dropped_at IS NULL"),
            postgresql_where=text("payload_dropped_at IS NULL"),
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100), index=True)
    livemode: Mapped[bool] = mapped_column(Boolean)
    api_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    created: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "webhook" or "reconciliation" (an event read back from the Events API).
    source: Mapped[str] = mapped_column(String(16), default="webhook")
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The event as received; emptied ({}) once older than REGENTRA_STRIPE_EVENT_PAYLOAD_DAYS
    # (the row, its ids, type and outcome stay), at `payload_dropped_at`.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payload_dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
