from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from regentra.kit.time import IsoDatetime


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    billing_email: str = Field(min_length=3, max_length=254)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    hourly_rate: StrictInt | None = Field(default=None, ge=0, le=100_000_000)
    compliance_enabled: bool = False


class ClientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    billing_email: str | None = Field(default=None, min_length=3, max_length=254)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    hourly_rate: StrictInt | None = Field(default=None, ge=0, le=100_000_000)
    compliance_enabled: bool | None = None


class ClientOut(BaseModel):
    """A client as the API answers it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    billing_email: str
    currency: str
    hourly_rate: int | None = Field(
        description="Minor units per hour; null: the org's default_hourly_rate applies"
    )
    compliance_enabled: bool
    created_at: IsoDatetime
