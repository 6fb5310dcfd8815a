"""QuickBooks Online: connections and mapping, OAuth states, customers, postings (issue 12).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 11:30:58.727930
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quickbooks_connections",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("realm_id", sa.String(length=64), nullable=True),
        sa.Column("company_name", sa.String(length=255), nullable=True),
        sa.Column("home_currency", sa.String(length=3), nullable=True),
        sa.Column("multicurrency", sa.Boolean(), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("connected_by_id", sa.Uuid(), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("last_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconnect_needed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconnect_reason", sa.String(length=500), nullable=True),
        sa.Column("deposit_account_id", sa.String(length=64), nullable=True),
        sa.Column("other_deposit_account_id", sa.String(length=64), nullable=True),
        sa.Column("fee_account_id", sa.String(length=64), nullable=True),
        sa.Column("fee_paid_from_account_id", sa.String(length=64), nullable=True),
        sa.Column("fee_vendor_id", sa.String(length=64), nullable=True),
        sa.Column("income_item_id", sa.String(length=64), nullable=True),
        sa.Column("post_from", sa.Date(), nullable=True),
        sa.Column("mapping_saved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mapping_labels", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_quickbooks_connections_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quickbooks_connections")),
        sa.UniqueConstraint("org_id", name=op.f("uq_quickbooks_connections_org_id")),
    )
    op.create_table(
        "quickbooks_customers",
        sa.Column("realm_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_quickbooks_customers_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quickbooks_customers")),
        sa.UniqueConstraint(
            "org_id",
            "realm_id",
            "client_id",
            "currency",
            name=op.f("uq_quickbooks_customers_org_id_realm_id_client_id_currency"),
        ),
    )
    with op.batch_alter_table("quickbooks_customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quickbooks_customers_org_id"), ["org_id"], unique=False
        )

    op.create_table(
        "quickbooks_oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_quickbooks_oauth_states_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quickbooks_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_quickbooks_oauth_states_state_hash")),
    )
    with op.batch_alter_table("quickbooks_oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quickbooks_oauth_states_org_id"), ["org_id"], unique=False
        )

    op.create_table(
        "quickbooks_postings",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("realm_id", sa.String(length=64), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_id", sa.String(length=64), nullable=True),
        sa.Column("qbo_sync_token", sa.String(length=32), nullable=True),
        sa.Column("qbo_type", sa.String(length=32), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('invoice', 'credit', 'payment', 'fee', 'void')",
            name=op.f("ck_quickbooks_postings_kind_known"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'posted', 'failed', 'waiting', 'skipped')",
            name=op.f("ck_quickbooks_postings_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_quickbooks_postings_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_quickbooks_postings_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quickbooks_postings")),
        sa.UniqueConstraint(
            "org_id",
            "invoice_id",
            "kind",
            name=op.f("uq_quickbooks_postings_org_id_invoice_id_kind"),
        ),
    )
    with op.batch_alter_table("quickbooks_postings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quickbooks_postings_invoice_id"), ["invoice_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quickbooks_postings_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_quickbooks_postings_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quickbooks_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quickbooks_postings_state"))
        batch_op.drop_index(batch_op.f("ix_quickbooks_postings_org_id"))
        batch_op.drop_index(batch_op.f("ix_quickbooks_postings_invoice_id"))

    op.drop_table("quickbooks_postings")
    with op.batch_alter_table("quickbooks_oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quickbooks_oauth_states_org_id"))

    op.drop_table("quickbooks_oauth_states")
    with op.batch_alter_table("quickbooks_customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quickbooks_customers_org_id"))

    op.drop_table("quickbooks_customers")
    op.drop_table("quickbooks_connections")
