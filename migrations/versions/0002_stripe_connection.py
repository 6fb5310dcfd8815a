"""Stripe connection per org: webhook token hash, publishable key, last test and webhook.

Secrets (secret key, webhook signing secret, the webhook token itself) are not here: they
live encrypted in org_secrets. Existing orgs get their row and webhook token lazily, the
first time their Stripe settings are read (the keyring is not needed to migrate).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_connections",
        sa.Column("webhook_token_hash", sa.String(length=64), nullable=False),
        sa.Column("publishable_key", sa.String(length=255), nullable=True),
        sa.Column("mode", sa.String(length=4), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_test_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_account_id", sa.String(length=255), nullable=True),
        sa.Column("last_test_message", sa.String(length=500), nullable=True),
        sa.Column("last_webhook_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_webhook_rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_webhook_rejection", sa.String(length=500), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "mode IS NULL OR mode IN ('test', 'live')",
            name=op.f("ck_stripe_connections_mode_known"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_stripe_connections_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_connections")),
        sa.UniqueConstraint("org_id", name=op.f("uq_stripe_connections_org_id")),
    )
    with op.batch_alter_table("stripe_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stripe_connections_webhook_token_hash"),
            ["webhook_token_hash"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("stripe_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stripe_connections_webhook_token_hash"))
    op.drop_table("stripe_connections")
