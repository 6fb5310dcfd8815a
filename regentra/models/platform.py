"""Platform billing: what `regentra platform setup` made in the platform's Stripe account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from regentra.kit.time import utcnow
from regentra.models.base import Base, UTCDateTime

PLATFORM_SETTINGS_ID = 1  # the table's one row


class PlatformSettings(Base):
    """One row (id 1): the platform Stripe account's ids, written by `regentra platform
    setup` (integrations/platform/setup.py). Not org data: no org_id."""

    __tablename__ = "platform_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=PLATFORM_SETTINGS_ID)
    account_id: Mapped[str] = mapped_column(String(255))
    livemode: Mapped[bool] = mapped_column(Boolean)
    # Our lookup key (`regentra_starter_monthly`, …) → Stripe's price id.
    prices: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    webhook_endpoint_id: Mapped[str] = mapped_column(String(255))
    # When billing was first set up: orgs older than that get their trial from here.
    billing_on_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
