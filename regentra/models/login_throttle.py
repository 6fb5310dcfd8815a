from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, UTCDateTime

# The `ip` of the row that counts an account's failures from every address.
ANY_ADDRESS = "*"


class LoginThrottle(Base):
    """Failed sign-ins in the current window of one key: (account, address), or the account
    across all addresses (`ip` = `ANY_ADDRESS`). Pre-auth: no org. One row per key, counted
    up by an atomic upsert (auth/throttle.py); a window that has passed starts again at 1."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_window_started_at", "window_started_at"),)

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
