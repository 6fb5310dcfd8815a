from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_AMOUNT = 100_000_000_00  # a line of more than a million in major units is a typo
Terms = Field(default=None, ge=0, le=365, description="Days until the invoice is due")


class InvoiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: uuid.UUID
    period_start: date | None = None
    period_end: date | None = None
    # Bill exactly these entries (each must be approved, billable, uninvoiced, this client's).
    entry_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=5000)
    days_until_due: int | None = Terms
    memo: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _period(self) -> InvoiceCreate:
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise ValueError("period_start must not be after period_end")
        return self


class InvoiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days_until_due: int | None = Terms
    memo: str | None = Field(default=None, max_length=2000)


class LineCreate(BaseModel):
    """A manual line (description and unit_amount) or a catalog item (catalog_item_id; its
    price is copied now)."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    unit_amount: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    quantity: int = Field(default=1, ge=1, le=10_000)
    catalog_item_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LineCreate:
        if self.catalog_item_id is not None:
            if self.unit_amount is not None:
                raise ValueError("give either catalog_item_id or unit_amount, not both")
        else:
            if self.unit_amount is None:
                raise ValueError("a manual line needs unit_amount (minor units)")
            if not (self.description or "").strip():
                raise ValueError("a manual line needs a description")
        return self


class VoidBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release_entries: bool = Field(
        description="true: the invoice's time entries become billable again; false: they stay "
        "with the voided invoice"
    )
