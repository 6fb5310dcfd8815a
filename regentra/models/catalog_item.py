from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin


class CatalogSource(enum.StrEnum):
    stripe = "stripe"
    manual = "manual"


class CatalogPricing(enum.StrEnum):
    """How a price charges. Only `per_unit` can be a fixed invoice line (or an hourly rate);
    the others are kept so the catalog mirrors Stripe, and are refused there."""

    per_unit = "per_unit"
    tiered = "tiered"  # Stripe billing_scheme=tiered: the unit price depends on the quantity
    metered = "metered"  # Stripe recurring.usage_type=metered: billed on reported usage
    custom_amount = "custom_amount"  # Stripe custom_unit_amount: the customer names the amount


RECURRING_INTERVALS = ("day", "week", "month", "year")
PRICINGS = tuple(p.value for p in CatalogPricing)


def decimal_text(value: Decimal) -> str:
    """Plain notation without trailing zeros ("1500", "12.345"), never an exponent."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


class ExactDecimal(TypeDecorator[Decimal]):
    """A decimal stored as its text, so SQLite keeps every digit (its NUMERIC would make a
    float of 12.345) just as PostgreSQL does; Python sees `Decimal`."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal: {value!r}") from exc
        if not number.is_finite():
            raise ValueError(f"not a finite decimal: {value!r}")
        return decimal_text(number)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class CatalogItem(IdMixin, OrgScoped, TimestampMixin, Base):
    """A service the MSP bills for: one per Stripe Price (named after its Product), one for a
    Stripe Product without prices (no amount), or a manual item. Never deleted by a sync:
    whatever Stripe archives becomes inactive, so history survives."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        # A Stripe price with currency_options is one item per currency.
        UniqueConstraint("org_id", "stripe_price_id", "currency"),
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
        # Its currency is part of a Stripe price's key.
        CheckConstraint(
            "stripe_price_id IS NULL OR currency IS NOT NULL", name="price_has_currency"
        ),
        CheckConstraint(
            "pricing IN ('per_unit', 'tiered', 'metered', 'custom_amount')", name="pricing_valid"
        ),
    )

    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Minor units of `currency`; None for a product without a price (or a custom amount).
    unit_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The exact unit price in minor units as Stripe states it (`unit_amount_decimal`, up to 12
    # decimal places): equal to unit_amount when whole; a fraction of a minor unit leaves
    # unit_amount None. None for manual items and items without a per-unit price.
    unit_amount_decimal: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    pricing: Mapped[str] = mapped_column(
        String(16), default=CatalogPricing.per_unit.value, server_default="per_unit"
    )
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    recurring_interval: Mapped[str | None] = mapped_column(String(8), nullable=True)
    recurring_interval_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(8), default=CatalogSource.manual.value)
    stripe_product_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stripe_price_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
