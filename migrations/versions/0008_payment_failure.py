"""Invoices remember why their last payment failed (the PaymentIntent's decline reason).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("payment_failure", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("payment_failed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("payment_failed_at")
        batch.drop_column("payment_failure")
