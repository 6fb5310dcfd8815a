from __future__ import annotations

import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin


class CatalogSource(enum.StrEnum):
    stripe = "stripe"
    manual = "manual"


RECURRING_INTERVALS = ("day", "week", "month", "year")


class CatalogItem(IdMixin, OrgScoped, TimestampMixin, Base):
    """A service the MSP bills for: one per Stripe Price (named after its Product), one for a
    Stripe Product without prices (no amount), or a manual item. Never deleted by a sync:
    whatever Stripe archives becomes inactive, so history survives."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "stripe_price_id"),
        # A Stripe product without prices is one item without a price.
        Index(
            "uq_catalog_items_org_product_without_price",
            "org_id",
            "stripe_product_id",
            unique=True,
            sqlite_where=text("stripe_price_id IS NULL AND stripe_product_id IS NOT NULL"),
            postgresql_where=text("stripe_price_id IS NULL AND stripe_product_id IS NOT NULL"),
        ),
        Index("ix_catalog_items_org_name", "org_id", "name", "id"),
        CheckConstraint("source IN ('stripe', 'manual')", name="source_valid"),
        CheckConstraint(
            "source = 'manual' OR stripe_product_id IS NOT NULL", name="stripe_has_product"
        ),
        CheckConstraint("unit_amount IS NULL OR unit_amount >= 0", name="amount_not_negative"),
        CheckConstraint(
            "(unit_amount IS NULL) OR (currency IS NOT NULL)", name="amount_has_currency"
        ),
        CheckConstraint(
            "recurring_interval IS NULL OR recurring_interval IN ('day', 'week', 'month', 'year')",
            name="interval_valid",
        ),
    )

    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Minor units of `currency`; None for a product without a price (or a custom amount).
    unit_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    recurring_interval: Mapped[str | None] = mapped_column(String(8), nullable=True)
    recurring_interval_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(8), default=CatalogSource.manual.value)
    stripe_product_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stripe_price_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
