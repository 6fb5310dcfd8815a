"""Invoices and their lines, stored Stripe events, reconciliation state, payment terms.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 05:46:57.788900
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("api_version", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=255), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=500), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_stripe_events_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
        sa.UniqueConstraint("org_id", "event_id", name=op.f("uq_stripe_events_org_id_event_id")),
    )
    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stripe_events_object_id"), ["object_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stripe_events_type"), ["type"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("days_until_due", sa.Integer(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("stripe_invoice_id", sa.String(length=255), nullable=True),
        sa.Column("hosted_invoice_url", sa.Text(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("amount_paid", sa.BigInteger(), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_processing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status = 'draft' OR status = 'void' OR sent_at IS NOT NULL",
            name=op.f("ck_invoices_sent"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'sent', 'paid', 'overdue', 'void')",
            name=op.f("ck_invoices_status_valid"),
        ),
        sa.CheckConstraint(
            "days_until_due >= 0 AND days_until_due <= 365", name=op.f("ck_invoices_terms_range")
        ),
        sa.CheckConstraint("total >= 0", name=op.f("ck_invoices_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"],
            ["clients.org_id", "clients.id"],
            name=op.f("fk_invoices_org_id_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_invoices_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_invoices_org_id_id")),
        sa.UniqueConstraint("org_id", "number", name=op.f("uq_invoices_org_id_number")),
        sa.UniqueConstraint(
            "org_id", "stripe_invoice_id", name=op.f("uq_invoices_org_id_stripe_invoice_id")
        ),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_invoices_org_status", ["org_id", "status"], unique=False)

    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("time_entry_id", sa.Uuid(), nullable=True),
        sa.Column("catalog_item_id", sa.Uuid(), nullable=True),
        sa.Column("work_date", sa.Date(), nullable=True),
        sa.Column("ticket_id", sa.Uuid(), nullable=True),
        sa.Column("ticket_title", sa.String(length=300), nullable=True),
        sa.Column("technician_id", sa.Uuid(), nullable=True),
        sa.Column("technician_name", sa.String(length=254), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_amount", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'time') = (time_entry_id IS NOT NULL AND minutes IS NOT NULL)",
            name=op.f("ck_invoice_lines_time_has_entry"),
        ),
        sa.CheckConstraint(
            "kind IN ('time', 'manual', 'catalog')", name=op.f("ck_invoice_lines_kind_valid")
        ),
        sa.CheckConstraint(
            "amount >= 0 AND unit_amount >= 0", name=op.f("ck_invoice_lines_amount_not_negative")
        ),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_invoice_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["org_id", "invoice_id"],
            ["invoices.org_id", "invoices.id"],
            name=op.f("fk_invoice_lines_org_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_invoice_lines_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["time_entry_id"],
            ["time_entries.id"],
            name=op.f("fk_invoice_lines_time_entry_id_time_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoice_lines_org_invoice", ["org_id", "invoice_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_invoice_lines_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_invoice_lines_time_entry_id"), ["time_entry_id"], unique=False
        )

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stripe_customer_id", sa.String(length=255), nullable=True))

    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("default_days_until_due", sa.Integer(), nullable=False, server_default="30")
        )
        batch_op.add_column(
            sa.Column("next_invoice_number", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.create_check_constraint(
            "terms_range", "default_days_until_due >= 0 AND default_days_until_due <= 365"
        )

    with op.batch_alter_table("stripe_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reconcile_checkpoint", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("last_reconcile_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_reconcile_ok", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("last_reconcile_message", sa.String(length=500), nullable=True)
        )

    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_time_entries_billing", ["org_id", "client_id", "status", "invoice_id"], unique=False
        )
        batch_op.create_index("ix_time_entries_org_invoice", ["org_id", "invoice_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_time_entries_org_id_invoices"),
            "invoices",
            ["org_id", "invoice_id"],
            ["org_id", "id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_time_entries_org_id_invoices"), type_="foreignkey")
        batch_op.drop_index("ix_time_entries_org_invoice")
        batch_op.drop_index("ix_time_entries_billing")

    with op.batch_alter_table("stripe_connections", schema=None) as batch_op:
        batch_op.drop_column("last_reconcile_message")
        batch_op.drop_column("last_reconcile_ok")
        batch_op.drop_column("last_reconcile_at")
        batch_op.drop_column("reconcile_checkpoint")

    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_orgs_terms_range"), type_="check")
        batch_op.drop_column("next_invoice_number")
        batch_op.drop_column("default_days_until_due")

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("stripe_customer_id")

    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_lines_time_entry_id"))
        batch_op.drop_index(batch_op.f("ix_invoice_lines_org_id"))
        batch_op.drop_index("ix_invoice_lines_org_invoice")

    op.drop_table("invoice_lines")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_org_status")
        batch_op.drop_index(batch_op.f("ix_invoices_org_id"))
        batch_op.drop_index(batch_op.f("ix_invoices_client_id"))

    op.drop_table("invoices")
    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stripe_events_type"))
        batch_op.drop_index(batch_op.f("ix_stripe_events_object_id"))

    op.drop_table("stripe_events")
