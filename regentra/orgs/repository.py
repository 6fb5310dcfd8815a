"""Org-scoped data access: every tenant query starts here, filtered by org_id."""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from regentra.errors import NotFound
from regentra.models.base import Base

M = TypeVar("M", bound=Base)


class OrgScopedRepository(Generic[M]):
    """Reads rows of one model for one org. Another org's id is simply not found."""

    def __init__(self, model: type[M], noun: str) -> None:
        self.model = model
        self.noun = noun

    def select(self, org_id: uuid.UUID) -> Select[M]:
        model: Any = self.model
        return select(self.model).where(model.org_id == org_id)

    def find(
        self, session: Session, *, org_id: uuid.UUID, id: uuid.UUID, lock: bool = False
    ) -> M | None:
        model: Any = self.model
        stmt = self.select(org_id).where(model.id == id)
        if lock:
            stmt = stmt.with_for_update()
        return session.scalar(stmt)

    def get(self, session: Session, *, org_id: uuid.UUID, id: uuid.UUID, lock: bool = False) -> M:
        row = self.find(session, org_id=org_id, id=id, lock=lock)
        if row is None:
            raise NotFound(f"{self.noun} not found")
        return row
