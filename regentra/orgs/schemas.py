from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from regentra.models import Role


class OrgUpdate(BaseModel):
    """Org settings an admin may change. Omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    default_currency: str | None = Field(default=None, min_length=3, max_length=3)
    default_hourly_rate: StrictInt | None = Field(default=None, ge=0, le=100_000_000)
    allow_self_approval: bool | None = None


class UserUpdate(BaseModel):
    """What an admin may change about a user. Omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    role: Role | None = None


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    timezone: str
    default_currency: str
    default_hourly_rate: int
    allow_self_approval: bool


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    role: Role
    is_active: bool
