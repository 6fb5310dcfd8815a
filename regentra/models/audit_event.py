from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from regentra.kit.time import utcnow
from regentra.models.base import Base, IdMixin, OrgScoped, UTCDateTime


class ActorType(enum.StrEnum):
    user = "user"
    system = "system"
    stripe = "stripe"
    quickbooks = "quickbooks"


class AuditEvent(IdMixin, OrgScoped, Base):
    """Append-only: the database refuses UPDATE and DELETE (see the migration's triggers)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_subject", "org_id", "subject_type", "subject_id"),)

    actor_type: Mapped[str] = mapped_column(String(20))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
