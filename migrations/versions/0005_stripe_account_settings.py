"""The Stripe account's country, whether it has ACH activated, and the payment methods an
org's invoices offer.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00.000000

Both columns start empty on existing connections: the country is read by the next Test
Connection (or picked by the admin), and until then invoices offer cards only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stripe_connections") as batch:
        batch.add_column(sa.Column("account_country", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("payment_methods", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("account_ach_active", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stripe_connections") as batch:
        batch.drop_column("account_ach_active")
        batch.drop_column("payment_methods")
        batch.drop_column("account_country")
