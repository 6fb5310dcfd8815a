from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin, UTCDateTime


class InvoiceStatus(enum.StrEnum):
    draft = "draft"
    sent = "sent"
    paid = "paid"
    overdue = "overdue"
    void = "void"


# Limits of what an invoice may say (the API, the pages and the database agree).
MAX_DAYS_UNTIL_DUE = 365  # payment terms
MAX_LINE_QUANTITY = 10_000  # quantity of a manual or catalog line


class Invoice(IdMixin, OrgScoped, TimestampMixin, Base):
    """An invoice to one client, in the client's currency, amounts in minor units.

    draft → sent → paid; sent → overdue → paid; draft|sent|overdue → void. Every status change
    is one conditional UPDATE (see `invoices.transitions`), so webhooks, reconciliation and
    people racing each other apply a transition once.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "number"),
        UniqueConstraint("org_id", "stripe_invoice_id"),
        ForeignKeyConstraint(["org_id", "client_id"], ["clients.org_id", "clients.id"]),
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s.value}'" for s in InvoiceStatus)),
            name="status_valid",
        ),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint(
            f"days_until_due >= 0 AND days_until_due <= {MAX_DAYS_UNTIL_DUE}", name="terms_range"
        ),
        CheckConstraint("status = 'draft' OR status = 'void' OR sent_at IS NOT NULL", name="sent"),
        Index("ix_invoices_org_status", "org_id", "status"),
        Index("ix_invoices_org_payment_intent", "org_id", "stripe_payment_intent_id"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8), default=InvoiceStatus.draft.value)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    period_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    period_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    days_until_due: Mapped[int] = mapped_column(Integer, default=30)
    memo: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Stripe: set as soon as the Stripe invoice exists (a send that failed half-way keeps it,
    # and the retry carries on from there).
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The PaymentIntent and charge that paid it, learnt when a refund or dispute names them
    # (an invoice of API 2025-03-31 and later no longer carries them: invoice_payments does).
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    amount_paid: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # What Stripe asks the client to pay, read after finalizing: the total less a credit
    # balance the client has in Stripe (set when sent; None before, or for older invoices).
    amount_due: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A bank (ACH) payment was started and has not settled yet: the status stays `sent`.
    payment_processing_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last payment attempt failed: why (the PaymentIntent's `last_payment_error`, e.g. "Your
    # card was declined."), and when. Cleared when the invoice is paid.
    payment_failure: Mapped[str | None] = mapped_column(String(500), nullable=True)
    payment_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LineKind(enum.StrEnum):
    time = "time"
    manual = "manual"
    catalog = "catalog"
    agreement = "agreement"  # an agreement's recurring service for one period


class InvoiceLine(IdMixin, OrgScoped, Base):
    """One line: a time entry (date, ticket, technician, minutes times rate), a manual line or a
    catalog item (quantity times unit amount). What it says is copied at generation, so a renamed
    ticket or user never changes an invoice."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "invoice_id"], ["invoices.org_id", "invoices.id"], ondelete="CASCADE"
        ),
        # An invoice's lines (every lookup filters by org and invoice).
        Index("ix_invoice_lines_org_invoice", "org_id", "invoice_id"),
        CheckConstraint("kind IN ('time', 'manual', 'catalog', 'agreement')", name="kind_valid"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        # An agreement's adjustment may be a credit; every other line charges.
        CheckConstraint(
            "(amount >= 0 AND unit_amount >= 0) OR kind = 'agreement'", name="amount_not_negative"
        ),
        CheckConstraint(
            "(kind = 'time') = (time_entry_id IS NOT NULL AND minutes IS NOT NULL)",
            name="time_has_entry",
        ),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    # Not unique: a voided invoice keeps its lines when it releases the entries for re-billing.
    time_entry_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("time_entries.id"), nullable=True, index=True
    )
    catalog_item_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    work_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    ticket_title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    technician_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    technician_name: Mapped[str | None] = mapped_column(String(254), nullable=True)
    minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    # The hourly rate for time lines, the unit price otherwise (minor units).
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    # An agreement's line, or a time line whose minutes its included hours cover in part.
    agreement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Of a time line's minutes, those an agreement's included hours cover (not charged).
    covered_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # An agreement line's period (its start): the charge of that period, or an adjustment.
    agreement_period_start: Mapped[date | None] = mapped_column(Date, nullable=True)
