"""Platform billing: `platform_settings`, the one row `regentra platform setup` writes (the
platform Stripe account's id, its price ids by lookup key, its webhook endpoint, and when
billing was switched on).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 20:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("prices", sa.JSON(), nullable=False),
        sa.Column("webhook_endpoint_id", sa.String(length=255), nullable=False),
        sa.Column("billing_on_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_settings")),
    )


def downgrade() -> None:
    op.drop_table("platform_settings")
