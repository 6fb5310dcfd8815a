"""Catalog input: manual items typed by an admin, and items read from Stripe by the sync;
and the items and syncs as the API answers them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from regentra.kit.time import IsoDatetime
from regentra.models import CatalogSource, SyncStatus

Interval = Literal["day", "week", "month", "year"]
MAX_AMOUNT = 100_000_000_000


class CatalogItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=4000)
    unit_amount: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    recurring_interval: Interval | None = None
    active: bool = True


class CatalogItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=4000)
    unit_amount: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
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
    created_at: IsoDatetime
    updated_at: IsoDatetime


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
