from __future__ import annotations

import enum
import uuid

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin


class TicketStatus(enum.StrEnum):
    open = "open"
    closed = "closed"


class Ticket(IdMixin, OrgScoped, TimestampMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        # The client must belong to the same org: enforced by the database, not only by code.
        ForeignKeyConstraint(["org_id", "client_id"], ["clients.org_id", "clients.id"]),
        CheckConstraint("status IN ('open', 'closed')", name="status_valid"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default=TicketStatus.open.value)
