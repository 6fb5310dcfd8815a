"""QuickBooks income items per catalog item: which QuickBooks item a catalog item's invoice
lines post to (a catalog item without a row posts to the mapping's income item). A new table
only: a database holding data upgrades as it is.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 15:49:15.476093
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quickbooks_item_mappings",
        sa.Column("catalog_item_id", sa.Uuid(), nullable=False),
        sa.Column("realm_id", sa.String(length=64), nullable=False),
        sa.Column("quickbooks_item_id", sa.String(length=64), nullable=False),
        sa.Column("quickbooks_item_name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "catalog_item_id"],
            ["catalog_items.org_id", "catalog_items.id"],
            name=op.f("fk_quickbooks_item_mappings_org_id_catalog_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_quickbooks_item_mappings_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quickbooks_item_mappings")),
        sa.UniqueConstraint(
            "org_id",
            "catalog_item_id",
            name=op.f("uq_quickbooks_item_mappings_org_id_catalog_item_id"),
        ),
    )
    with op.batch_alter_table("quickbooks_item_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quickbooks_item_mappings_org_id"), ["org_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("quickbooks_item_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quickbooks_item_mappings_org_id"))
    op.drop_table("quickbooks_item_mappings")
