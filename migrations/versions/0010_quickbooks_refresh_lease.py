"""QuickBooks connections get a refresh lease: one worker refreshes the tokens, with no
database transaction held open while Intuit answers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quickbooks_connections") as batch:
        batch.add_column(
            sa.Column("refresh_lease_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("quickbooks_connections") as batch:
        batch.drop_column("refresh_lease_until")
