"""Client agreements: agreements, their lines and the lines' dated terms, the periods billed
(one row per agreement period: what makes a period billed once), and on invoice lines the
agreement a line bills and the minutes its included hours cover. New tables and nullable
columns; the invoice lines' kind check admits 'agreement'. A database holding data upgrades
as it is.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 15:27:00.243276
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("billing", sa.String(length=16), nullable=False),
        sa.Column("included_minutes", sa.Integer(), nullable=True),
        sa.Column("rollover", sa.Boolean(), nullable=False),
        sa.Column("hourly_rate", sa.BigInteger(), nullable=True),
        sa.Column("separate_invoice", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "billing IN ('advance', 'arrears')", name=op.f("ck_agreements_billing_known")
        ),
        sa.CheckConstraint(
            "period IN ('monthly', 'quarterly', 'yearly')", name=op.f("ck_agreements_period_known")
        ),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on", name=op.f("ck_agreements_dates_ordered")
        ),
        sa.CheckConstraint(
            "hourly_rate IS NULL OR hourly_rate >= 0", name=op.f("ck_agreements_rate_not_negative")
        ),
        sa.CheckConstraint(
            "included_minutes IS NULL OR included_minutes >= 0",
            name=op.f("ck_agreements_included_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"],
            ["clients.org_id", "clients.id"],
            name=op.f("fk_agreements_org_id_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_agreements_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_agreements_org_id_id")),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index("ix_agreements_org_client", ["org_id", "client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agreements_org_id"), ["org_id"], unique=False)

    op.create_table(
        "agreement_billings",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fixed_amount", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "agreement_id"],
            ["agreements.org_id", "agreements.id"],
            name=op.f("fk_agreement_billings_org_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_agreement_billings_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_billings")),
        sa.UniqueConstraint(
            "org_id",
            "agreement_id",
            "period_start",
            name=op.f("uq_agreement_billings_org_id_agreement_id_period_start"),
        ),
    )
    with op.batch_alter_table("agreement_billings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agreement_billings_invoice", ["org_id", "invoice_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agreement_billings_org_id"), ["org_id"], unique=False)

    op.create_table(
        "agreement_lines",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("catalog_item_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity_rule", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "quantity_rule IN ('fixed', 'open_tickets')", name=op.f("ck_agreement_lines_rule_known")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "agreement_id"],
            ["agreements.org_id", "agreements.id"],
            name=op.f("fk_agreement_lines_org_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_agreement_lines_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_lines")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_agreement_lines_org_id_id")),
    )
    with op.batch_alter_table("agreement_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agreement_lines_agreement", ["org_id", "agreement_id", "position"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agreement_lines_org_id"), ["org_id"], unique=False)

    op.create_table(
        "agreement_terms",
        sa.Column("line_id", sa.Uuid(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_amount", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_agreement_terms_quantity_not_negative")),
        sa.CheckConstraint("unit_amount >= 0", name=op.f("ck_agreement_terms_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["org_id", "line_id"],
            ["agreement_lines.org_id", "agreement_lines.id"],
            name=op.f("fk_agreement_terms_org_id_agreement_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_agreement_terms_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_terms")),
        sa.UniqueConstraint(
            "line_id", "effective_from", name=op.f("uq_agreement_terms_line_id_effective_from")
        ),
    )
    with op.batch_alter_table("agreement_terms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agreement_terms_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("covered_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("agreement_period_start", sa.Date(), nullable=True))
        batch_op.drop_constraint(op.f("ck_invoice_lines_amount_not_negative"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_invoice_lines_amount_not_negative"),
            "(amount >= 0 AND unit_amount >= 0) OR kind = 'agreement'",
        )
        batch_op.alter_column("kind", existing_type=sa.String(length=8), type_=sa.String(length=16))
        batch_op.drop_constraint(op.f("ck_invoice_lines_kind_valid"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_invoice_lines_kind_valid"),
            "kind IN ('time', 'manual', 'catalog', 'agreement')",
        )

    with op.batch_alter_table("invoice_run_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("slot", sa.String(length=36), server_default="", nullable=False)
        )
        batch_op.drop_constraint(op.f("uq_invoice_run_items_run_id_client_id"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_invoice_run_items_run_id_client_id_slot"), ["run_id", "client_id", "slot"]
        )


def downgrade() -> None:
    op.execute("DELETE FROM invoice_run_items WHERE slot <> ''")
    with op.batch_alter_table("invoice_run_items", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_invoice_run_items_run_id_client_id_slot"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_invoice_run_items_run_id_client_id"), ["run_id", "client_id"]
        )
        batch_op.drop_column("slot")
        batch_op.drop_column("agreement_id")
    op.execute("DELETE FROM invoice_lines WHERE kind = 'agreement'")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_invoice_lines_kind_valid"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_invoice_lines_kind_valid"), "kind IN ('time', 'manual', 'catalog')"
        )
        batch_op.alter_column("kind", existing_type=sa.String(length=16), type_=sa.String(length=8))
        batch_op.drop_constraint(op.f("ck_invoice_lines_amount_not_negative"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_invoice_lines_amount_not_negative"), "amount >= 0 AND unit_amount >= 0"
        )
        batch_op.drop_column("agreement_period_start")
        batch_op.drop_column("covered_minutes")
        batch_op.drop_column("agreement_id")

    with op.batch_alter_table("agreement_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_terms_org_id"))

    op.drop_table("agreement_terms")
    with op.batch_alter_table("agreement_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_lines_org_id"))
        batch_op.drop_index("ix_agreement_lines_agreement")

    op.drop_table("agreement_lines")
    with op.batch_alter_table("agreement_billings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_billings_org_id"))
        batch_op.drop_index("ix_agreement_billings_invoice")

    op.drop_table("agreement_billings")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreements_org_id"))
        batch_op.drop_index("ix_agreements_org_client")

    op.drop_table("agreements")
