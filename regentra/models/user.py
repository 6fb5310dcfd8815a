from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin, UTCDateTime


class Role(enum.StrEnum):
    admin = "admin"
    approver = "approver"
    technician = "technician"


class User(IdMixin, OrgScoped, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("org_id", "id"),)

    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def has_role(self, *roles: Role) -> bool:
        return self.role in {r.value for r in roles}
