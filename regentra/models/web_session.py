from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from regentra.kit.time import utcnow
from regentra.models.base import Base, IdMixin, OrgScoped, UTCDateTime


class WebSession(IdMixin, OrgScoped, Base):
    """A signed-in browser. The cookie holds a random token; only its keyed hash is stored."""

    __tablename__ = "web_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
