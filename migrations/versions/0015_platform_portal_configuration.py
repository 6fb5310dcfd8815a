"""The platform's customer portal configuration (`regentra platform setup` makes it): the
portal sessions behind the Billing page's "Update payment method" name it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 00:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platform_settings") as batch:
        batch.add_column(sa.Column("portal_configuration_id", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platform_settings") as batch:
        batch.drop_column("portal_configuration_id")
