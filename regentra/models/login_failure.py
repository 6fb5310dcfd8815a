from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from regentra.kit.time import utcnow
from regentra.models.base import Base, IdMixin, UTCDateTime


class LoginFailure(IdMixin, Base):
    """A failed sign-in, counted per (account, IP) for throttling. Pre-auth: no org."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_email_ip_at", "email", "ip", "created_at"),)

    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
