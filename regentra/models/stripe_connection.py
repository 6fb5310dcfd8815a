from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin, UTCDateTime


class StripeConnection(IdMixin, OrgScoped, TimestampMixin, Base):
    """An org's link to its own Stripe account: one row per org, made with the org.

    Never holds a secret: the secret key, the webhook signing secret and the webhook token
    itself live encrypted in `org_secrets`; here is only the token's SHA-256 (to find the org
    of an incoming webhook), the publishable key (public by design), and what happened last.
    """

    __tablename__ = "stripe_connections"
    __table_args__ = (
        CheckConstraint("mode IS NULL OR mode IN ('test', 'live')", name="mode_known"),
    )

    # One row per org: the unique constraint is the org_id index.
    org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orgs.id", ondelete="CASCADE"), unique=True, nullable=False
    )

    webhook_token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    publishable_key: Mapped[str | None] = mapped_column(String(255), default=None)
    mode: Mapped[str | None] = mapped_column(String(4), default=None)
    # The first time saved keys were confirmed by Stripe (the catalog's first sync follows).
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean, default=None)
    last_test_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_test_account_id: Mapped[str | None] = mapped_column(String(255), default=None)
    last_test_message: Mapped[str | None] = mapped_column(String(500), default=None)
    last_webhook_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_webhook_rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_webhook_rejection: Mapped[str | None] = mapped_column(String(500), default=None)
    # Reconciliation: Stripe events up to this time (epoch seconds, Stripe's `created`) have
    # been read; the next run asks only for later ones.
    reconcile_checkpoint: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Refunds, disputes and payouts were last read from Stripe's lists from this time (epoch
    # seconds, the start of the last successful run: `stripe/movements.py`).
    movements_checkpoint: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_reconcile_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_reconcile_ok: Mapped[bool | None] = mapped_column(Boolean, default=None)
    last_reconcile_message: Mapped[str | None] = mapped_column(String(500), default=None)
    # The Stripe account's country (ISO 3166-1 alpha-2): read by Test Connection when the key
    # may read the account, else picked by the admin (restricted keys may not read it).
    account_country: Mapped[str | None] = mapped_column(String(2), default=None)
    # Whether the account has ACH Direct Debit activated (its `us_bank_account_ach_payments`
    # capability), as Test Connection read it; None when unknown (a restricted key).
    account_ach_active: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # The payment methods invoices offer, comma-separated ("card" or "card,us_bank_account");
    # None: the default for the account's country (see integrations/stripe/payment_methods.py).
    payment_methods: Mapped[str | None] = mapped_column(String(64), default=None)
