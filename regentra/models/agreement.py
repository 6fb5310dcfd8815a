"""Client agreements: the recurring services an MSP bills every period (managed endpoints per
device, backup per seat, a flat retainer), with optional included hours.

An agreement has lines (a catalog item or a description), each with terms: a quantity and a
unit price from a date on, so a price or quantity change takes effect from its date and never
rewrites a period already billed. Each period an agreement bills is written once in
`agreement_billings` (unique per agreement and period start): however runs repeat, overlap or
stop half-way, a period is billed once; voiding the invoice releases it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin


class AgreementPeriod(enum.StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"


class AgreementBilling(enum.StrEnum):
    advance = "advance"  # the run for month M bills the period starting in M + 1
    arrears = "arrears"  # the run for month M bills the period ending in M


class QuantityRule(enum.StrEnum):
    fixed = "fixed"  # the quantity of the line's terms (the admin updates it from a date)
    open_tickets = "open_tickets"  # the client's tickets not closed, counted when billed


MONTHS_OF = {"monthly": 1, "quarterly": 3, "yearly": 12}


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{v.value}'" for v in values))


class Agreement(IdMixin, OrgScoped, TimestampMixin, Base):
    __tablename__ = "agreements"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "client_id"], ["clients.org_id", "clients.id"]),
        CheckConstraint(_in("period", AgreementPeriod), name="period_known"),
        CheckConstraint(_in("billing", AgreementBilling), name="billing_known"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates_ordered"),
        CheckConstraint(
            "included_minutes IS NULL OR included_minutes >= 0", name="included_not_negative"
        ),
        CheckConstraint("hourly_rate IS NULL OR hourly_rate >= 0", name="rate_not_negative"),
        Index("ix_agreements_org_client", "org_id", "client_id"),
    )

    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    period: Mapped[str] = mapped_column(String(16), default=AgreementPeriod.monthly.value)
    billing: Mapped[str] = mapped_column(String(16), default=AgreementBilling.advance.value)
    # A block of time per period at no extra charge (None: no included time).
    included_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Unused included time carries over to the next period (only when this says so).
    rollover: Mapped[bool] = mapped_column(Boolean, default=False)
    # The rate of time beyond the included hours (None: each entry's own rate, the client's).
    hourly_rate: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Billed on an invoice of its own, not beside the client's time and other agreements.
    separate_invoice: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class AgreementLine(IdMixin, OrgScoped, TimestampMixin, Base):
    __tablename__ = "agreement_lines"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(
            ["org_id", "agreement_id"], ["agreements.org_id", "agreements.id"], ondelete="CASCADE"
        ),
        CheckConstraint(_in("quantity_rule", QuantityRule), name="rule_known"),
        Index("ix_agreement_lines_agreement", "org_id", "agreement_id", "position"),
    )

    agreement_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(Integer)
    catalog_item_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    quantity_rule: Mapped[str] = mapped_column(String(16), default=QuantityRule.fixed.value)


class AgreementTerm(IdMixin, OrgScoped, Base):
    """A line's quantity and unit price (minor units of the client's currency) from
    `effective_from` until the next term's date."""

    __tablename__ = "agreement_terms"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "line_id"],
            ["agreement_lines.org_id", "agreement_lines.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("line_id", "effective_from"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("unit_amount >= 0", name="amount_not_negative"),
    )

    line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    effective_from: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_amount: Mapped[int] = mapped_column(BigInteger)


class AgreementBillingRecord(IdMixin, OrgScoped, TimestampMixin, Base):
    """One agreement period, billed on one invoice: the unique key is what makes a period
    billed once. Deleted when its invoice is voided or its draft deleted."""

    __tablename__ = "agreement_billings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "agreement_id"], ["agreements.org_id", "agreements.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("org_id", "agreement_id", "period_start"),
        Index("ix_agreement_billings_invoice", "org_id", "invoice_id"),
    )

    agreement_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[int] = mapped_column(BigInteger)
    # What the period's fixed-quantity lines come to as billed so far: the charge, then each
    # adjustment a later change gave (a decrease or an end inside the period: a credit).
    # Lines counting tickets are counted once, when billed, and never adjusted.
    fixed_amount: Mapped[int] = mapped_column(BigInteger, default=0)
