from __future__ import annotations

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin


class OrgSecret(IdMixin, OrgScoped, TimestampMixin, Base):
    """Every secret an org gives us, AES-256-GCM encrypted, bound to (org, purpose)."""

    __tablename__ = "org_secrets"
    __table_args__ = (UniqueConstraint("org_id", "purpose"),)

    purpose: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32))
