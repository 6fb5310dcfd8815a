from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, StrictInt, computed_field

from regentra.kit.money import amount_for
from regentra.kit.time import IsoDatetime
from regentra.models import EntryStatus
from regentra.models.time_entry import MAX_MINUTES

Minutes = Field(ge=1, le=MAX_MINUTES, description="Whole minutes, 1 to 1440")


class TimeEntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: uuid.UUID
    work_date: date
    minutes: StrictInt = Minutes
    description: str = Field(default="", max_length=4000)
    billable: bool = True
    hourly_rate: StrictInt | None = Field(default=None, ge=0, le=100_000_000)
    # Take the hourly rate from this catalog item (copied now; later item changes don't
    # alter the entry). Mutually exclusive with hourly_rate.
    catalog_item_id: uuid.UUID | None = None
    technician_id: uuid.UUID | None = None


class TimeEntryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: uuid.UUID | None = None
    work_date: date | None = None
    minutes: StrictInt | None = Field(default=None, ge=1, le=MAX_MINUTES)
    description: str | None = Field(default=None, max_length=4000)
    billable: bool | None = None
    hourly_rate: StrictInt | None = Field(default=None, ge=0, le=100_000_000)
    catalog_item_id: uuid.UUID | None = None


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class BulkApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] = Field(min_length=1, max_length=200)


class TimeEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ticket_id: uuid.UUID
    client_id: uuid.UUID
    technician_id: uuid.UUID
    work_date: date
    minutes: int
    description: str
    billable: bool
    hourly_rate: int
    catalog_item_id: uuid.UUID | None
    currency: str
    status: EntryStatus
    submitted_at: IsoDatetime | None
    decided_by_id: uuid.UUID | None
    decided_at: IsoDatetime | None
    rejection_reason: str | None
    invoice_id: uuid.UUID | None
    created_at: IsoDatetime
    updated_at: IsoDatetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def amount(self) -> int:
        """What the entry bills, in minor units (0 when not billable)."""
        return amount_for(self.hourly_rate, self.minutes, self.currency) if self.billable else 0
