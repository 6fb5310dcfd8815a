"""What is posted to QuickBooks, through the app in-process against both sandboxes (Stripe:
the org's own account; QuickBooks: the org's own company), on SQLite and PostgreSQL: the
mirror when sent, then on payment the Payment and the Stripe fee as a Purchase, each to the
cent (checked against the Stripe sandbox's balance transaction); a credit balance as a
CreditMemo applied in the Payment; a payment with no charge; ACH fees after settlement; a
void; the post-from date."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import Books, books, day, minor, money
from regentra.integrations.quickbooks import postings

Connect = Callable[..., QboOrg]


@pytest.fixture
def b(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., list[str]]
) -> Books:
    return books(stripe_app, connect_quickbooks, db, run_tasks)


def test_a_card_payment_posts_the_invoice_the_payment_and_the_fee_to_the_cent(b: Books) -> None:
    sent = b.billing.sent_invoice(minutes=95, rate=12345)
    assert b.run_tasks() == ["quickbooks.mirror_invoice"]
    mirrored = b.one("Invoice")
    assert mirrored["DocNumber"] == sent["number"]
    assert (
        minor(mirrored["TotalAmt"]) == sent["total"] and minor(mirrored["Balance"]) == sent["total"]
    )
    assert mirrored["DueDate"] == sent["due_date"]
    customer = b.one("Customer")
    assert mirrored["CustomerRef"]["value"] == customer["Id"]
    assert b.states(sent["id"]) == {"invoice": "posted"}

    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    assert "quickbooks.record_payment" in b.run_tasks()
    states = b.states(sent["id"])
    assert states == {"invoice": "posted", "payment": "posted", "fee": "posted"}, b.rows(sent["id"])

    txn = b.balance_transaction(sent["stripe_invoice_id"])
    payment = b.one("Payment")
    assert minor(payment["TotalAmt"]) == sent["total"]
    assert payment["DepositToAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert payment["Line"][0]["LinkedTxn"] == [{"TxnId": mirrored["Id"], "TxnType": "Invoice"}]
    assert txn["payment_intent"] in payment["PrivateNote"]
    assert payment["CustomerRef"]["value"] == customer["Id"]
    purchase = b.one("Purchase")
    assert minor(purchase["TotalAmt"]) == txn["fee"]
    assert [minor(line["Amount"]) for line in purchase["Line"]] == [
        d["amount"] for d in txn["fee_details"]
    ]
    assert purchase["PaymentType"] == "Check"
    assert purchase["AccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert purchase["EntityRef"]["value"] == b.accounts["vendor:Stripe"]
    detail = purchase["Line"][0]["AccountBasedExpenseLineDetail"]
    assert detail["AccountRef"]["value"] == b.accounts["Merchant Fees"]
    for text in (txn["charge"], txn["id"], sent["number"]):
        assert text in purchase["PrivateNote"]
    assert b.one("Invoice")["Balance"] == 0
    rows = b.rows(sent["id"])
    assert rows["fee"].amount == txn["fee"] and rows["fee"].currency == "USD"
    assert rows["fee"].details["balance_transaction"] == txn["id"]
    assert rows["payment"].details["payment_intent"] == txn["payment_intent"]
    assert postings.describe(rows["fee"])["quickbooks_type"] == "Purchase"  # type: ignore[index]

    # Nothing more is posted by running again.
    with b.db.session() as s:
        from regentra import queue

        queue.enqueue(s, postings.SYNC_TASK, sent["id"])
        s.commit()
    b.run_tasks()
    assert len(b.objects("Payment")) == 1 and len(b.objects("Purchase")) == 1
    assert len(b.objects("Invoice")) == 1 and len(b.objects("Customer")) == 1


def test_dates_are_the_orgs_days(b: Books) -> None:
    sent = b.billing.sent_invoice()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    invoice = b.invoice_row(sent["id"])
    assert invoice.sent_at is not None and invoice.paid_at is not None
    assert day(b.one("Invoice")["TxnDate"]) == invoice.sent_at.date()  # the org is in UTC
    assert day(b.one("Payment")["TxnDate"]) == invoice.paid_at.date()
    assert money(b.one("Payment")["TotalAmt"]) == f"{sent['total'] / 100:.2f}"
