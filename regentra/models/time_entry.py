from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin, UTCDateTime


class EntryStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"


MAX_MINUTES = 1440


class TimeEntry(IdMixin, OrgScoped, TimestampMixin, Base):
    __tablename__ = "time_entries"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "ticket_id"], ["tickets.org_id", "tickets.id"]),
        ForeignKeyConstraint(["org_id", "client_id"], ["clients.org_id", "clients.id"]),
        ForeignKeyConstraint(["org_id", "technician_id"], ["users.org_id", "users.id"]),
        ForeignKeyConstraint(
            ["org_id", "catalog_item_id"], ["catalog_items.org_id", "catalog_items.id"]
        ),
        ForeignKeyConstraint(["org_id", "invoice_id"], ["invoices.org_id", "invoices.id"]),
        CheckConstraint(f"minutes >= 1 AND minutes <= {MAX_MINUTES}", name="minutes_range"),
        CheckConstraint("hourly_rate >= 0", name="rate_not_negative"),
        CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'rejected')", name="status_valid"
        ),
        CheckConstraint("invoice_id IS NULL OR status = 'approved'", name="invoiced_is_approved"),
        Index("ix_time_entries_org_status", "org_id", "status"),
        # Invoice generation: a client's approved, uninvoiced entries.
        Index("ix_time_entries_billing", "org_id", "client_id", "status", "invoice_id"),
        # An invoice's entries (release, lookups; the composite foreign key to invoices).
        Index("ix_time_entries_org_invoice", "org_id", "invoice_id"),
    )

    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    technician_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    work_date: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    billable: Mapped[bool] = mapped_column(Boolean, default=True)
    hourly_rate: Mapped[int] = mapped_column(Integer)
    # The catalog item the rate was taken from, if any; the rate itself is copied at logging
    # time, so later changes to the item never alter the entry.
    catalog_item_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12), default=EntryStatus.draft.value)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Set when an invoice bills this entry; from then on the entry is immutable.
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
