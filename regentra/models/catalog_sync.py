from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin, UTCDateTime


class SyncStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


ACTIVE_SYNC_STATUSES = (SyncStatus.queued.value, SyncStatus.running.value)


class CatalogSync(IdMixin, OrgScoped, TimestampMixin, Base):
    """One pull of an org's Products and Prices from Stripe, with its progress."""

    __tablename__ = "catalog_syncs"
    __table_args__ = (
        # At most one queued or running sync per org: a second request joins it, and a race
        # between two requests cannot make two (the loser's insert fails on this index).
        Index(
            "uq_catalog_syncs_org_active",
            "org_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_catalog_syncs_org_created", "org_id", "created_at"),
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="status_valid"
        ),
        CheckConstraint("seen >= 0", name="seen_not_negative"),
    )

    status: Mapped[str] = mapped_column(String(10), default=SyncStatus.queued.value)
    seen: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Runs of the task so far (a transient failure is retried; the last try records it).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
