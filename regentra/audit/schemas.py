"""The audit log as the API answers it."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from regentra.kit.time import IsoDatetime


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    actor_type: str = Field(description="user, system, stripe or quickbooks")
    actor_user_id: uuid.UUID | None
    actor: str = Field(
        validation_alias="actor_label", description="The user's email, or the system actor's name"
    )
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]
    created_at: IsoDatetime
