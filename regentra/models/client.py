from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin


class Client(IdMixin, OrgScoped, TimestampMixin, Base):
    """A customer of the MSP, billed in its own currency."""

    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "name"),
        CheckConstraint("hourly_rate IS NULL OR hourly_rate >= 0", name="rate_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(200))
    billing_email: Mapped[str] = mapped_column(String(254))
    currency: Mapped[str] = mapped_column(String(3))
    hourly_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    compliance_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The client's Customer in the org's Stripe account, made on the first send.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), default=None)
