"""What happens to an invoice's money after it is paid, as Stripe reports it: refunds, disputes,
and the payouts that take the balance to the MSP's bank.

Each row mirrors one Stripe object of the org's account (unique per org and Stripe id), kept
current from its events and from reconciliation, which read the object again through the
pinned client (`integrations/stripe/movements.py`). A refund asked for in Regentra is a row
first (`stripe_refund_id` empty, status `requested`): its id makes the Stripe idempotency key,
so two equal partial refunds are two refunds and a retry is the same one.
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
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin, UTCDateTime


class RefundStatus(enum.StrEnum):
    requested = "requested"  # recorded here, not yet accepted by Stripe
    pending = "pending"  # Stripe: pending (a bank refund takes days)
    requires_action = "requires_action"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
# The refunds that take money out (or will): the invoice's "refunded" figure counts them.
REFUND_COUNTED = ("pending", "requires_action", "succeeded")


class Refund(IdMixin, OrgScoped, TimestampMixin, Base):
    """A refund of an invoice's payment (made in Regentra or in Stripe's Dashboard)."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("org_id", "stripe_refund_id"),
        ForeignKeyConstraint(
            ["org_id", "invoice_id"], ["invoices.org_id", "invoices.id"], ondelete="CASCADE"
        ),
        Index("ix_refunds_org_invoice", "org_id", "invoice_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "status IN ('requested', 'pending', 'requires_action', 'succeeded', 'failed', "
            "'canceled')",
            name="status_known",
        ),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), default=None)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), default=None)
    amount: Mapped[int] = mapped_column(BigInteger)  # in `currency`'s minor units
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.requested.value)
    reason: Mapped[str | None] = mapped_column(String(32), default=None)  # Stripe's enum
    note: Mapped[str | None] = mapped_column(String(500), default=None)  # the admin's words
    failure_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    # The refund's balance transaction: the amount that left the balance, in the settlement
    # currency (negative), and the fee Stripe gave back with it, if any.
    balance_transaction_id: Mapped[str | None] = mapped_column(String(255), default=None)
    settled_amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    settled_fee: Mapped[int | None] = mapped_column(BigInteger, default=None)
    settlement_currency: Mapped[str | None] = mapped_column(String(3), default=None)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Dispute(IdMixin, OrgScoped, TimestampMixin, Base):
    """A card payment of an invoice disputed by the cardholder (a chargeback)."""

    __tablename__ = "disputes"
    __table_args__ = (
        UniqueConstraint("org_id", "stripe_dispute_id"),
        ForeignKeyConstraint(
            ["org_id", "invoice_id"], ["invoices.org_id", "invoices.id"], ondelete="CASCADE"
        ),
        Index("ix_disputes_org_invoice", "org_id", "invoice_id"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255))
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), default=None)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))  # Stripe's: needs_response … won, lost
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    evidence_due_by: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # From its balance transactions (settlement currency): what was withdrawn (positive), the
    # dispute fee, and what was given back when it was won.
    settlement_currency: Mapped[str | None] = mapped_column(String(3), default=None)
    withdrawn: Mapped[int | None] = mapped_column(BigInteger, default=None)
    withdrawal_fee: Mapped[int | None] = mapped_column(BigInteger, default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reinstated: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reinstated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Payout(IdMixin, OrgScoped, TimestampMixin, Base):
    """A payout of the org's Stripe balance to its bank account."""

    __tablename__ = "payouts"
    __table_args__ = (
        UniqueConstraint("org_id", "stripe_payout_id"),
        Index("ix_payouts_org_arrival", "org_id", "arrival_date"),
    )

    stripe_payout_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)  # in `currency`'s minor units
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # Stripe's: pending, in_transit, paid, …
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    arrival_date: Mapped[date | None] = mapped_column(Date, default=None)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failure_code: Mapped[str | None] = mapped_column(String(64), default=None)
    failure_message: Mapped[str | None] = mapped_column(String(500), default=None)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
