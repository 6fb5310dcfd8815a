from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    billing_email: str = Field(min_length=3, max_length=254)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    hourly_rate: int | None = Field(default=None, ge=0, le=100_000_000)
    compliance_enabled: bool = False


class ClientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    billing_email: str | None = Field(default=None, min_length=3, max_length=254)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    hourly_rate: int | None = Field(default=None, ge=0, le=100_000_000)
    compliance_enabled: bool | None = None
