"""A month-end invoice run: every client with approved, uninvoiced time in a period, a draft
each in one action, then sent together by a background job.

The run lists its clients as items when it is made (hours and amount as they were then); the
admin unticks the ones to leave out; **generate** makes one draft per ticked client through
the same generation as a single invoice (its entries claimed by one conditional UPDATE, so an
entry is billed once however runs and single invoices race); **send** sends the drafts one by
one (`invoice_runs.send`), each item recording its result (sent, or failed with the reason),
so a run can be left and resumed, and sending again sends only what is not sent.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin, UTCDateTime


class RunStatus(enum.StrEnum):
    review = "review"  # listed: the admin picks the clients
    generated = "generated"  # drafts made: review them, then send
    sending = "sending"  # the send job is running
    done = "done"  # every draft sent, or failed with its reason (failed ones can be retried)


class RunItemState(enum.StrEnum):
    listed = "listed"  # ticked, not generated yet
    excluded = "excluded"  # unticked by the admin
    nothing = "nothing"  # nothing left to bill when generating (billed meanwhile)
    draft = "draft"  # its draft is made
    sending = "sending"
    sent = "sent"
    failed = "failed"  # generating or sending failed: `error` says why


class InvoiceRun(IdMixin, OrgScoped, TimestampMixin, Base):
    __tablename__ = "invoice_runs"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        Index("ix_invoice_runs_org_created", "org_id", "created_at"),
        CheckConstraint("period_start <= period_end", name="period_ordered"),
        CheckConstraint(
            "status IN ('review', 'generated', 'sending', 'done')", name="status_known"
        ),
    )

    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.review.value)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    # Who asked to send (the job sends as them), and when.
    send_requested_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    send_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class InvoiceRunItem(IdMixin, OrgScoped, TimestampMixin, Base):
    __tablename__ = "invoice_run_items"
    __table_args__ = (
        # One item per client, and one per agreement billed on its own invoice (`slot`: the
        # agreement's id, empty for the client's main invoice).
        UniqueConstraint("run_id", "client_id", "slot"),
        ForeignKeyConstraint(
            ["org_id", "run_id"], ["invoice_runs.org_id", "invoice_runs.id"], ondelete="CASCADE"
        ),
        Index("ix_invoice_run_items_run", "run_id", "position"),
        CheckConstraint(
            "state IN ('listed', 'excluded', 'nothing', 'draft', 'sending', 'sent', 'failed')",
            name="state_known",
        ),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    client_name: Mapped[str] = mapped_column(String(200))
    # An agreement billed on an invoice of its own (None: the client's main invoice).
    agreement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    slot: Mapped[str] = mapped_column(String(36), default="", server_default="")
    currency: Mapped[str] = mapped_column(String(3))
    entries: Mapped[int] = mapped_column(Integer, default=0)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # when listed, minor units
    included: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default=RunItemState.listed.value)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    error: Mapped[str | None] = mapped_column(String(1000), default=None)
