"""Catalog input: manual items typed by an admin, and items read from Stripe by the sync;
and the items and syncs as the API answers them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, computed_field

from regentra.catalog.lines import fixed_line_problem
from regentra.kit.time import IsoDatetime
from regentra.models import CatalogPricing, CatalogSource, SyncStatus

Interval = Literal["day", "week", "month", "year"]
MAX_AMOUNT = 100_000_000_000


class CatalogItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=4000)
    unit_amount: StrictInt | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    recurring_interval: Interval | None = None
    active: bool = True


class CatalogItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=4000)
    unit_amount: StrictInt | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    recurring_interval: Interval | None = None
    active: bool | None = None


@dataclass(frozen=True)
class StripeItem:
    """One catalog item as Stripe describes it: a Price with its Product, or a Product
    without prices (`price_id` None). The integration builds these; the domain stores them."""

    product_id: str
    price_id: str | None
    name: str
    description: str | None
    unit_amount: int | None
    currency: str | None
    recurring_interval: str | None
    recurring_interval_count: int | None
    active: bool
    # The exact unit price (minor units, up to 12 decimal places); None without a per-unit price.
    unit_amount_decimal: Decimal | None = None
    pricing: CatalogPricing = CatalogPricing.per_unit


class CatalogItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    unit_amount: int | None
    currency: str | None
    recurring_interval: Interval | None
    recurring_interval_count: int | None
    active: bool
    source: CatalogSource
    stripe_product_id: str | None
    stripe_price_id: str | None
    unit_amount_decimal: Decimal | None = Field(
        description="The exact unit price in minor units as Stripe states it (a decimal string, "
        "up to 12 decimal places; unit_amount is null when it has a fraction)"
    )
    pricing: CatalogPricing = Field(
        description="per_unit, or tiered / metered / custom_amount (Stripe prices that cannot "
        "be a fixed invoice line)"
    )
    created_at: IsoDatetime
    updated_at: IsoDatetime

    @computed_field(  # type: ignore[prop-decorator]
        description="Why the item's price cannot be a fixed invoice line or hourly rate; null "
        "when it can"
    )
    @property
    def not_fixed_price_reason(self) -> str | None:
        return fixed_line_problem(
            pricing=self.pricing,
            unit_amount=self.unit_amount,
            unit_amount_decimal=self.unit_amount_decimal,
        )

    @computed_field(  # type: ignore[prop-decorator]
        description="Whether the item's price can be a fixed invoice line (quantity x unit price)"
    )
    @property
    def fixed_price(self) -> bool:
        return self.not_fixed_price_reason is None


class CatalogSyncOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: SyncStatus
    seen: int
    total: int | None
    error: str | None
    started_at: IsoDatetime | None
    finished_at: IsoDatetime | None
    created_at: IsoDatetime


class CatalogSummary(BaseModel):
    """The catalog at a glance (`service.summary`)."""

    status: SyncStatus | None = Field(description="The latest sync's; null: never synced")
    last_sync_at: IsoDatetime | None = Field(description="When a sync last succeeded")
    items: int = Field(description="Active items")
