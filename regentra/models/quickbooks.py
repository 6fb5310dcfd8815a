"""QuickBooks Online: an org's connection and mapping, OAuth states, customers, postings.

No secret is ever stored here: the OAuth access and refresh tokens live encrypted in
`org_secrets` (purposes `quickbooks_access_token` / `quickbooks_refresh_token`, AES-256-GCM
bound to org and purpose), like the Stripe keys.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from regentra.models.base import Base, IdMixin, OrgScoped, TimestampMixin, UTCDateTime


class QuickBooksConnection(IdMixin, OrgScoped, TimestampMixin, Base):
    """An org's link to one QuickBooks Online company (realm) and its account mapping.

    One row per org, made at the first Connect. `realm_id` set and `connected_at` set means
    connected; `reconnect_needed_at` set means the refresh token failed for good (revoked,
    expired): postings wait until the admin connects again. `token_version` moves on with
    every stored token pair, so a refresh that lost a race can tell (see
    `integrations/quickbooks/tokens.py`). The mapping columns are QuickBooks ids chosen on
    the card; `mapping_saved_at` set means postings may run.
    """

    __tablename__ = "quickbooks_connections"

    org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orgs.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    realm_id: Mapped[str | None] = mapped_column(String(64), default=None)
    company_name: Mapped[str | None] = mapped_column(String(255), default=None)
    home_currency: Mapped[str | None] = mapped_column(String(3), default=None)
    multicurrency: Mapped[bool | None] = mapped_column(Boolean, default=None)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    connected_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # A worker is refreshing the tokens until then (a lease: the others wait for the new
    # version instead of spending the same refresh token; see integrations/quickbooks/tokens).
    refresh_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reconnect_needed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reconnect_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    # The mapping (QuickBooks ids, read live from the company on the card).
    deposit_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    other_deposit_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    fee_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    fee_paid_from_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    fee_vendor_id: Mapped[str | None] = mapped_column(String(64), default=None)
    income_item_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # Where Stripe payouts go (a Bank account), and the expense account that takes disputed
    # amounts withdrawn by Stripe (given back when a dispute is won).
    payout_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    dispute_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    post_from: Mapped[date | None] = mapped_column(Date, default=None)
    mapping_saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # What the mapping's accounts are, as read when it was saved (names and types for the
    # card, e.g. {"deposit_account": {"name": "Stripe Clearing", "type": "Bank"}}).
    mapping_labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class QuickBooksItemMapping(IdMixin, OrgScoped, TimestampMixin, Base):
    """The income item a catalog item's invoice lines post to (chosen on the mapping; a
    catalog item without a row posts to the connection's `income_item_id`). `realm_id` is
    the company the item belongs to: a row kept from another company is not used."""

    __tablename__ = "quickbooks_item_mappings"
    __table_args__ = (
        UniqueConstraint("org_id", "catalog_item_id"),
        ForeignKeyConstraint(
            ["org_id", "catalog_item_id"],
            ["catalog_items.org_id", "catalog_items.id"],
            ondelete="CASCADE",
        ),
    )

    catalog_item_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    realm_id: Mapped[str] = mapped_column(String(64))
    quickbooks_item_id: Mapped[str] = mapped_column(String(64))
    # The item's name when chosen (for the card when QuickBooks cannot be read).
    quickbooks_item_name: Mapped[str] = mapped_column(String(255), default="")


class QuickBooksOAuthState(IdMixin, OrgScoped, Base):
    """A Connect in progress: the OAuth `state` (stored as its SHA-256), bound to the org and
    the user who clicked Connect, single use (`used_at`), expiring."""

    __tablename__ = "quickbooks_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class QuickBooksCustomer(IdMixin, OrgScoped, TimestampMixin, Base):
    """Which QuickBooks Customer a client is, in one company (realm) and currency."""

    __tablename__ = "quickbooks_customers"
    __table_args__ = (UniqueConstraint("org_id", "realm_id", "client_id", "currency"),)

    realm_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    currency: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(255))


class PostingKind(enum.StrEnum):
    """What a posting makes in QuickBooks, in the order an invoice's postings run."""

    invoice = "invoice"  # the mirrored Invoice (when sent)
    credit = "credit"  # a CreditMemo for a Stripe credit balance applied (when paid)
    payment = "payment"  # the Payment, linked to the Invoice (and the CreditMemo)
    fee = "fee"  # the Stripe fee as a Purchase
    void = "void"  # the mirrored Invoice voided (when voided here)


class PostingState(enum.StrEnum):
    pending = "pending"  # to do (or being done)
    posted = "posted"  # done: `qbo_id` is the object
    failed = "failed"  # QuickBooks refused it (validation): Retry once the cause is fixed
    waiting = "waiting"  # cannot run yet (reconnect needed, no mapping, an earlier posting)
    skipped = "skipped"  # nothing to post, and why (`last_error`): e.g. no Stripe charge


class QuickBooksPosting(IdMixin, OrgScoped, TimestampMixin, Base):
    """One thing posted to QuickBooks for one invoice: exactly one row per (invoice, kind).

    `request_id` is what makes it exactly once: the same on every attempt (QuickBooks
    replays the first answer to a repeated `requestid`), derived from (org, invoice, kind,
    generation); `generation` moves on only when Retry follows a validation failure (when
    QuickBooks created nothing, and would replay its refusal to the old id).
    """

    __tablename__ = "quickbooks_postings"
    __table_args__ = (
        UniqueConstraint("org_id", "invoice_id", "kind"),
        CheckConstraint(
            "state IN ('pending', 'posted', 'failed', 'waiting', 'skipped')", name="state_known"
        ),
        CheckConstraint(
            "kind IN ('invoice', 'credit', 'payment', 'fee', 'void')", name="kind_known"
        ),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=PostingState.pending.value, index=True)
    realm_id: Mapped[str | None] = mapped_column(String(64), default=None)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    qbo_id: Mapped[str | None] = mapped_column(String(64), default=None)
    qbo_sync_token: Mapped[str | None] = mapped_column(String(32), default=None)
    qbo_type: Mapped[str | None] = mapped_column(String(32), default=None)
    # What was posted, in the posting's currency's minor units (e.g. the fee), and facts
    # read on the way (Stripe charge and balance-transaction ids, exchange rate).
    amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MovementKind(enum.StrEnum):
    """What a movement posting makes in QuickBooks, for a refund, a dispute or a payout."""

    refund = "refund"  # a RefundReceipt paid from the clearing account
    refund_return = "refund_return"  # a failed refund's money back into the clearing account
    dispute = "dispute"  # the withdrawn amount and the dispute fee, out of the clearing account
    reinstatement = "reinstatement"  # a won dispute's amount back into the clearing account
    payout = "payout"  # a Transfer from the clearing account to the payout bank account
    payout_return = "payout_return"  # a failed payout's Transfer back


class QuickBooksMovementPosting(IdMixin, OrgScoped, TimestampMixin, Base):
    """One thing posted to QuickBooks for a refund, dispute or payout (`subject_id`: the
    `refunds`, `disputes` or `payouts` row): exactly one row per (subject, kind), with the
    same exactly-once machinery as `QuickBooksPosting` (a stable `requestid` per generation)."""

    __tablename__ = "quickbooks_movement_postings"
    __table_args__ = (
        UniqueConstraint("org_id", "subject_id", "kind"),
        CheckConstraint(
            "state IN ('pending', 'posted', 'failed', 'waiting', 'skipped')", name="state_known"
        ),
        CheckConstraint(
            "kind IN ('refund', 'refund_return', 'dispute', 'reinstatement', 'payout', "
            "'payout_return')",
            name="kind_known",
        ),
    )

    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=PostingState.pending.value, index=True)
    realm_id: Mapped[str | None] = mapped_column(String(64), default=None)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    qbo_id: Mapped[str | None] = mapped_column(String(64), default=None)
    qbo_type: Mapped[str | None] = mapped_column(String(32), default=None)
    amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
