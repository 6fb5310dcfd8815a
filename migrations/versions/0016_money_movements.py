"""Money after payment: refunds, disputes and payouts mirrored from Stripe, the invoice's
PaymentIntent and charge, QuickBooks postings for them, and the mapping's payout bank account
and dispute expense account. New tables and nullable columns only: a database holding data
upgrades as it is.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 03:24:39.628339
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("stripe_payout_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("arrival_date", sa.Date(), nullable=True),
        sa.Column("stripe_created", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.String(length=500), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_payouts_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint(
            "org_id", "stripe_payout_id", name=op.f("uq_payouts_org_id_stripe_payout_id")
        ),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index("ix_payouts_org_arrival", ["org_id", "arrival_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_payouts_org_id"), ["org_id"], unique=False)

    op.create_table(
        "quickbooks_movement_postings",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("realm_id", sa.String(length=64), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qbo_id", sa.String(length=64), nullable=True),
        sa.Column("qbo_type", sa.String(length=32), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('refund', 'refund_return', 'dispute', 'reinstatement', 'payout', "
            "'payout_return')",
            name=op.f("ck_quickbooks_movement_postings_kind_known"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'posted', 'failed', 'waiting', 'skipped')",
            name=op.f("ck_quickbooks_movement_postings_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_quickbooks_movement_postings_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quickbooks_movement_postings")),
        sa.UniqueConstraint(
            "org_id",
            "subject_id",
            "kind",
            name=op.f("uq_quickbooks_movement_postings_org_id_subject_id_kind"),
        ),
    )
    with op.batch_alter_table("quickbooks_movement_postings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quickbooks_movement_postings_org_id"), ["org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quickbooks_movement_postings_state"), ["state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quickbooks_movement_postings_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "disputes",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_dispute_id", sa.String(length=255), nullable=False),
        sa.Column("stripe_charge_id", sa.String(length=255), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("evidence_due_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settlement_currency", sa.String(length=3), nullable=True),
        sa.Column("withdrawn", sa.BigInteger(), nullable=True),
        sa.Column("withdrawal_fee", sa.BigInteger(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reinstated", sa.BigInteger(), nullable=True),
        sa.Column("reinstated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "invoice_id"],
            ["invoices.org_id", "invoices.id"],
            name=op.f("fk_disputes_org_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_disputes_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint(
            "org_id", "stripe_dispute_id", name=op.f("uq_disputes_org_id_stripe_dispute_id")
        ),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disputes_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_disputes_org_invoice", ["org_id", "invoice_id"], unique=False)

    op.create_table(
        "refunds",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_refund_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_charge_id", sa.String(length=255), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("failure_reason", sa.String(length=255), nullable=True),
        sa.Column("requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("balance_transaction_id", sa.String(length=255), nullable=True),
        sa.Column("settled_amount", sa.BigInteger(), nullable=True),
        sa.Column("settled_fee", sa.BigInteger(), nullable=True),
        sa.Column("settlement_currency", sa.String(length=3), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('requested', 'pending', 'requires_action', 'succeeded', 'failed', 'canceled')",
            name=op.f("ck_refunds_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["org_id", "invoice_id"],
            ["invoices.org_id", "invoices.id"],
            name=op.f("fk_refunds_org_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_refunds_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint(
            "org_id", "stripe_refund_id", name=op.f("uq_refunds_org_id_stripe_refund_id")
        ),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_refunds_org_invoice", ["org_id", "invoice_id"], unique=False)

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stripe_payment_intent_id", sa.String(length=255), nullable=True)
        )
        batch_op.add_column(sa.Column("stripe_charge_id", sa.String(length=255), nullable=True))
        batch_op.create_index(
            "ix_invoices_org_payment_intent", ["org_id", "stripe_payment_intent_id"], unique=False
        )

    with op.batch_alter_table("stripe_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("movements_checkpoint", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("quickbooks_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payout_account_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("dispute_account_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stripe_connections", schema=None) as batch_op:
        batch_op.drop_column("movements_checkpoint")

    with op.batch_alter_table("quickbooks_connections", schema=None) as batch_op:
        batch_op.drop_column("dispute_account_id")
        batch_op.drop_column("payout_account_id")

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_org_payment_intent")
        batch_op.drop_column("stripe_charge_id")
        batch_op.drop_column("stripe_payment_intent_id")

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_org_invoice")
        batch_op.drop_index(batch_op.f("ix_refunds_org_id"))

    op.drop_table("refunds")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index("ix_disputes_org_invoice")
        batch_op.drop_index(batch_op.f("ix_disputes_org_id"))

    op.drop_table("disputes")
    with op.batch_alter_table("quickbooks_movement_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quickbooks_movement_postings_subject_id"))
        batch_op.drop_index(batch_op.f("ix_quickbooks_movement_postings_state"))
        batch_op.drop_index(batch_op.f("ix_quickbooks_movement_postings_org_id"))

    op.drop_table("quickbooks_movement_postings")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payouts_org_id"))
        batch_op.drop_index("ix_payouts_org_arrival")

    op.drop_table("payouts")
