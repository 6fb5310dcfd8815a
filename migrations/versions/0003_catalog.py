"""Service catalog: catalog items, catalog syncs, and a time entry's catalog item.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 01:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NO_PRICE = "stripe_price_id IS NULL AND stripe_product_id IS NOT NULL"
_ACTIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "catalog_items",
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("unit_amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("recurring_interval", sa.String(length=8), nullable=True),
        sa.Column("recurring_interval_count", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("stripe_product_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_price_id", sa.String(length=255), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(unit_amount IS NULL) OR (currency IS NOT NULL)",
            name=op.f("ck_catalog_items_amount_has_currency"),
        ),
        sa.CheckConstraint(
            "unit_amount IS NULL OR unit_amount >= 0",
            name=op.f("ck_catalog_items_amount_not_negative"),
        ),
        sa.CheckConstraint(
            "recurring_interval IS NULL OR recurring_interval IN ('day', 'week', 'month', 'year')",
            name=op.f("ck_catalog_items_interval_valid"),
        ),
        sa.CheckConstraint(
            "source IN ('stripe', 'manual')", name=op.f("ck_catalog_items_source_valid")
        ),
        sa.CheckConstraint(
            "source = 'manual' OR stripe_product_id IS NOT NULL",
            name=op.f("ck_catalog_items_stripe_has_product"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_catalog_items_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_catalog_items_org_id_id")),
        sa.UniqueConstraint(
            "org_id", "stripe_price_id", name=op.f("uq_catalog_items_org_id_stripe_price_id")
        ),
    )
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_items_org_name", ["org_id", "name", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_items_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "uq_catalog_items_org_product_without_price",
            ["org_id", "stripe_product_id"],
            unique=True,
            sqlite_where=sa.text(_NO_PRICE),
            postgresql_where=sa.text(_NO_PRICE),
        )

    op.create_table(
        "catalog_syncs",
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("seen >= 0", name=op.f("ck_catalog_syncs_seen_not_negative")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_catalog_syncs_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_catalog_syncs_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_syncs")),
    )
    with op.batch_alter_table("catalog_syncs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_syncs_org_created", ["org_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_catalog_syncs_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "uq_catalog_syncs_org_active",
            ["org_id"],
            unique=True,
            sqlite_where=sa.text(_ACTIVE),
            postgresql_where=sa.text(_ACTIVE),
        )

    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("catalog_item_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_time_entries_catalog_item_id"), ["catalog_item_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_time_entries_org_id_catalog_items"),
            "catalog_items",
            ["org_id", "catalog_item_id"],
            ["org_id", "id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_time_entries_org_id_catalog_items"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_time_entries_catalog_item_id"))
        batch_op.drop_column("catalog_item_id")

    with op.batch_alter_table("catalog_syncs", schema=None) as batch_op:
        batch_op.drop_index("uq_catalog_syncs_org_active")
        batch_op.drop_index(batch_op.f("ix_catalog_syncs_org_id"))
        batch_op.drop_index("ix_catalog_syncs_org_created")
    op.drop_table("catalog_syncs")

    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_index("uq_catalog_items_org_product_without_price")
        batch_op.drop_index(batch_op.f("ix_catalog_items_org_id"))
        batch_op.drop_index("ix_catalog_items_org_name")
    op.drop_table("catalog_items")
