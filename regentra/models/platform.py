"""Platform billing: what `regentra platform setup` made in the platform's Stripe account,
and each org's subscription there."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from regentra.kit.time import utcnow
from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin, UTCDateTime

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
    # The customer portal configuration (payment method and invoice history) that portal
    # sessions name: in test mode Stripe refuses a session without one saved (None: setup not
    # run since migration 0015).
    portal_configuration_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # When billing was first set up: orgs older than that get their trial from here.
    billing_on_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrgBilling(IdMixin, OrgScoped, TimestampMixin, Base):
    """An org's Regentra subscription in the platform's Stripe account: one row per org, made
    when it first subscribes (no row: no subscription, the trial applies). Stripe's facts as
    the last applied event or reconciliation had them; `billing/service.py` reads the org's
    status from them."""

    __tablename__ = "org_billing"

    # One row per org: the unique constraint is the org_id index.
    org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orgs.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), default=None)
    plan: Mapped[str | None] = mapped_column(String(32), default=None)
    # Stripe's subscription status as given (`active`, `past_due`, `canceled`, …).
    subscription_status: Mapped[str | None] = mapped_column(String(32), default=None)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The `created` time of the Stripe event whose subscription snapshot was applied last:
    # an older snapshot arriving later (events are not ordered) is not applied over it.
    applied_event_created: Mapped[int] = mapped_column(BigInteger, default=0)
    # Seat and compliance-tenant quantities (integrations/platform/quantities.py): every change
    # of what the org uses bumps `usage_version`; the sync job, holding `sync_lease_until`,
    # brings Stripe's quantities to the counts and notes the version it synced.
    usage_version: Mapped[int] = mapped_column(Integer, default=0)
    synced_version: Mapped[int] = mapped_column(Integer, default=0)
    sync_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class PlatformEvent(IdMixin, Base):
    """An event of the platform's Stripe account, stored once per event id (unique) before it
    is handled, in the same transaction (integrations/platform/webhooks.py). Not org data: an
    event may name no org (a customer of the platform account Regentra did not make)."""

    __tablename__ = "platform_events"

    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(255))
    created: Mapped[int] = mapped_column(BigInteger)  # Stripe's, unix seconds
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("orgs.id", ondelete="SET NULL"), default=None, index=True
    )
    source: Mapped[str] = mapped_column(String(16))  # "webhook" | "reconciliation"
    outcome: Mapped[str | None] = mapped_column(String(500), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
