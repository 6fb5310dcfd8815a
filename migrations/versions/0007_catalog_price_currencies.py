"""Catalog prices: one item per (Stripe price, currency), the exact decimal unit price, and
how a price charges (per unit, tiered, metered, custom amount).

Existing rows keep their currency, which now is part of their key; they are per-unit prices
(what the sync imported so far), and synced ones get their whole unit price as the decimal,
so the next sync has nothing to rewrite for them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PRICINGS = "pricing IN ('per_unit', 'tiered', 'metered', 'custom_amount')"


def upgrade() -> None:
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_amount_decimal", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("pricing", sa.String(length=16), server_default="per_unit", nullable=False)
        )
        batch_op.create_check_constraint(op.f("ck_catalog_items_pricing_valid"), _PRICINGS)
        batch_op.create_check_constraint(
            op.f("ck_catalog_items_price_has_currency"),
            "stripe_price_id IS NULL OR currency IS NOT NULL",
        )
        batch_op.drop_constraint(op.f("uq_catalog_items_org_id_stripe_price_id"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_catalog_items_org_id_stripe_price_id_currency"),
            ["org_id", "stripe_price_id", "currency"],
        )
    op.execute(
        "UPDATE catalog_items SET unit_amount_decimal = CAST(unit_amount AS VARCHAR(40)) "
        "WHERE source = 'stripe' AND unit_amount IS NOT NULL"
    )


def downgrade() -> None:
    # Items of a price's other currencies would collide with the old (org, price) key.
    op.execute(
        "DELETE FROM catalog_items WHERE stripe_price_id IS NOT NULL AND "
        "CAST(id AS VARCHAR(36)) NOT IN ("
        "SELECT min_id FROM (SELECT MIN(CAST(id AS VARCHAR(36))) AS min_id FROM catalog_items "
        "WHERE stripe_price_id IS NOT NULL GROUP BY org_id, stripe_price_id) AS keep)"
    )
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("uq_catalog_items_org_id_stripe_price_id_currency"), type_="unique"
        )
        batch_op.create_unique_constraint(
            op.f("uq_catalog_items_org_id_stripe_price_id"), ["org_id", "stripe_price_id"]
        )
        # Batch mode puts the naming convention on a check constraint's name itself: the short
        # names (op.f would come out as ck_catalog_items_ck_catalog_items_...).
        batch_op.drop_constraint("price_has_currency", type_="check")
        batch_op.drop_constraint("pricing_valid", type_="check")
        batch_op.drop_column("pricing")
        batch_op.drop_column("unit_amount_decimal")
