"""Stored Stripe events: a payload retention mark (`payload_dropped_at`), and partial indexes
for the pending-events sweep and the payload retention sweep.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stripe_events") as batch:
        batch.add_column(sa.Column("payload_dropped_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_stripe_events_pending",
        "stripe_events",
        ["received_at"],
        sqlite_where=sa.text("processed_at IS NULL"),
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.create_index(
        "ix_stripe_events_payload_kept",
        "stripe_events",
        ["received_at"],
        sqlite_where=sa.text("payload_dropped_at IS NULL"),
        postgresql_where=sa.text("payload_dropped_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_stripe_events_payload_kept", table_name="stripe_events")
    op.drop_index("ix_stripe_events_pending", table_name="stripe_events")
    with op.batch_alter_table("stripe_events") as batch:
        batch.drop_column("payload_dropped_at")
