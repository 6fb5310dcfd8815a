"""Invoices remember the amount Stripe asks the client to pay (a credit balance applied).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: a plain ALTER TABLE ADD COLUMN on both databases, rows keep theirs.
    op.add_column("invoices", sa.Column("amount_due", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("amount_due")
