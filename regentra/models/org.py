from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, TimestampMixin
from regentra.models.invoice import MAX_DAYS_UNTIL_DUE


class Org(IdMixin, TimestampMixin, Base):
    """An MSP: the tenant."""

    __tablename__ = "orgs"
    __table_args__ = (
        CheckConstraint("default_hourly_rate >= 0", name="rate_not_negative"),
        CheckConstraint(
            f"default_days_until_due >= 0 AND default_days_until_due <= {MAX_DAYS_UNTIL_DUE}",
            name="terms_range",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    default_currency: Mapped[str] = mapped_column(String(3), default="USD")
    default_hourly_rate: Mapped[int] = mapped_column(Integer, default=0)
    allow_self_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # Payment terms of new invoices (days until due).
    default_days_until_due: Mapped[int] = mapped_column(Integer, default=30)
    # The next invoice number (INV-000001 …): taken with one UPDATE … RETURNING, which also
    # serializes invoice generation within the org.
    next_invoice_number: Mapped[int] = mapped_column(Integer, default=1)
