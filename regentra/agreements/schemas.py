from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from regentra.kit.time import IsoDatetime

MAX_QUANTITY = 100_000
MAX_AMOUNT = 100_000_000_000  # minor units; invoices check Stripe's own maximum per line

Period = Literal["monthly", "quarterly", "yearly"]
Billing = Literal["advance", "arrears"]
Rule = Literal["fixed", "open_tickets"]


class LineCreate(BaseModel):
    """A recurring service: a catalog item (its name and unit price by default) or a
    description and a unit price; a quantity (fixed, or the client's open tickets counted
    when billed); from `effective_from` (default: the agreement's start, or the day after
    the last period billed)."""

    model_config = ConfigDict(extra="forbid")

    catalog_item_id: uuid.UUID | None = None
    description: str | None = Field(default=None, max_length=500)
    quantity: StrictInt = Field(default=1, ge=0, le=MAX_QUANTITY)
    quantity_rule: Rule = "fixed"
    unit_amount: StrictInt | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    effective_from: date | None = None


class LineChange(BaseModel):
    """A new quantity and/or unit price from a date on (never a period already billed)."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date
    quantity: StrictInt | None = Field(default=None, ge=0, le=MAX_QUANTITY)
    unit_amount: StrictInt | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    description: str | None = Field(default=None, min_length=1, max_length=500)


class AgreementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date | None = None
    period: Period = "monthly"
    billing: Billing = "advance"
    included_minutes: StrictInt | None = Field(default=None, ge=0, le=100_000)
    rollover: bool = False
    hourly_rate: StrictInt | None = Field(default=None, ge=0, le=100_000_000)
    separate_invoice: bool = False
    lines: list[LineCreate] = Field(default_factory=list, max_length=100)


class AgreementUpdate(BaseModel):
    """What can change without rewriting billed periods: the name, the end date (not inside
    or before a period already billed), the included hours and rate of time not billed yet."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    ends_on: date | None = None
    clear_end: bool = False
    included_minutes: StrictInt | None = Field(default=None, ge=0, le=100_000)
    rollover: bool | None = None
    hourly_rate: StrictInt | None = Field(default=None, ge=0, le=100_000_000)
    clear_hourly_rate: bool = False  # time beyond the included hours at the client's rate
    separate_invoice: bool | None = None


class TermOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    effective_from: date
    quantity: int
    unit_amount: int


class LineOut(BaseModel):
    id: uuid.UUID
    position: int
    catalog_item_id: uuid.UUID | None
    description: str
    quantity_rule: str
    terms: list[TermOut]


class BilledOut(BaseModel):
    period_start: date
    period_end: date
    invoice_id: uuid.UUID
    invoice_number: str | None
    amount: int


class AgreementOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    client_name: str
    currency: str
    name: str
    starts_on: date
    ends_on: date | None
    period: str
    billing: str
    included_minutes: int | None
    rollover: bool
    hourly_rate: int | None
    separate_invoice: bool
    created_at: IsoDatetime
    lines: list[LineOut]
    billed: list[BilledOut]


class PreviewLineOut(BaseModel):
    description: str
    quantity: int
    unit_amount: int
    amount: int


class PreviewOut(BaseModel):
    """The next period not billed yet, as a run would bill it now."""

    period_start: date | None
    period_end: date | None
    currency: str
    lines: list[PreviewLineOut]
    total: int
