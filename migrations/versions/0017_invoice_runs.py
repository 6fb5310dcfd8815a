"""Month-end invoice runs: a run per period and one item per client it lists (its draft, its
send result). New tables only: a database holding data upgrades as it is.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 08:13:45.769987
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_runs",
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("send_requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("send_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('review', 'generated', 'sending', 'done')",
            name=op.f("ck_invoice_runs_status_known"),
        ),
        sa.CheckConstraint(
            "period_start <= period_end", name=op.f("ck_invoice_runs_period_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_invoice_runs_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_runs")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_invoice_runs_org_id_id")),
    )
    with op.batch_alter_table("invoice_runs", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_runs_org_created", ["org_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoice_runs_org_id"), ["org_id"], unique=False)

    op.create_table(
        "invoice_run_items",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("included", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('listed', 'excluded', 'nothing', 'draft', 'sending', 'sent', 'failed')",
            name=op.f("ck_invoice_run_items_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "run_id"],
            ["invoice_runs.org_id", "invoice_runs.id"],
            name=op.f("fk_invoice_run_items_org_id_invoice_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_invoice_run_items_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_run_items")),
        sa.UniqueConstraint(
            "run_id", "client_id", name=op.f("uq_invoice_run_items_run_id_client_id")
        ),
    )
    with op.batch_alter_table("invoice_run_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_run_items_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_invoice_run_items_run", ["run_id", "position"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invoice_run_items", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_run_items_run")
        batch_op.drop_index(batch_op.f("ix_invoice_run_items_org_id"))

    op.drop_table("invoice_run_items")
    with op.batch_alter_table("invoice_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_runs_org_id"))
        batch_op.drop_index("ix_invoice_runs_org_created")

    op.drop_table("invoice_runs")
