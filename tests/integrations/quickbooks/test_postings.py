"""What is posted to QuickBooks, through the app in-process against both sandboxes (Stripe:
the org's own account; QuickBooks: the org's own company), on SQLite and PostgreSQL: the
mirror when sent, then on payment the Payment and the Stripe fee as a Purchase, each to the
cent (checked against the Stripe sandbox's balance transaction); a credit balance as a
CreditMemo applied in the Payment; a payment with no charge; ACH fees after settlement; a
void; the post-from date."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import Books, books, day, minor, money
from integrations.stripe.test_money import draft, send
from regentra.integrations.quickbooks import postings
from regentra.integrations.quickbooks.client import QuickBooks

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


def _credit(b: Books, client: Any, amount: int) -> None:
    """Give the client's Stripe customer a credit balance of `amount` cents."""
    with b.db.session() as s:
        from regentra.models import Client

        customer = s.get(Client, client.id).stripe_customer_id  # type: ignore[union-attr]
    assert customer is not None
    b.billing.stripe.v1.customers.balance_transactions.create(
        customer, params={"amount": -amount, "currency": "usd", "description": "goodwill"}
    )


def test_a_credit_balance_applied_in_stripe_is_a_credit_memo_applied_in_the_payment(
    b: Books,
) -> None:
    client, first = draft(b.billing)
    assert send(b.billing, first).status_code == 200
    _credit(b, client, 5000)
    _, invoice = draft(b.billing, client=client, minutes=90)  # $180.00
    sent = send(b.billing, invoice).json()
    assert (sent["amount_due"], sent["credit_applied"]) == (13000, 5000)
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    assert b.states(sent["id"]) == {
        "invoice": "posted",
        "credit": "posted",
        "payment": "posted",
        "fee": "posted",
    }
    rows = b.rows(sent["id"])
    memo = next(m for m in b.objects("CreditMemo") if m["Id"] == rows["credit"].qbo_id)
    assert minor(memo["TotalAmt"]) == 5000 and memo["RemainingCredit"] == 0
    payment = next(p for p in b.objects("Payment") if p["Id"] == rows["payment"].qbo_id)
    assert minor(payment["TotalAmt"]) == 13000
    links = {(line["LinkedTxn"][0]["TxnType"], minor(line["Amount"])) for line in payment["Line"]}
    assert links == {("Invoice", 18000), ("CreditMemo", 5000)}
    mirrored = next(i for i in b.objects("Invoice") if i["Id"] == rows["invoice"].qbo_id)
    assert mirrored["Balance"] == 0
    txn = b.balance_transaction(sent["stripe_invoice_id"])
    purchase = next(p for p in b.objects("Purchase") if p["Id"] == rows["fee"].qbo_id)
    assert minor(purchase["TotalAmt"]) == txn["fee"]


def test_a_credit_covering_the_invoice_posts_a_zero_payment_and_no_fee(b: Books) -> None:
    client, first = draft(b.billing)
    assert send(b.billing, first).status_code == 200
    _credit(b, client, 20000)
    _, invoice = draft(b.billing, client=client, minutes=60)  # $120.00
    sent = send(b.billing, invoice).json()
    assert sent["status"] == "paid"
    b.run_tasks()
    rows = b.rows(sent["id"])
    assert {k: r.state for k, r in rows.items()} == {
        "invoice": "posted",
        "credit": "posted",
        "payment": "posted",
        "fee": "skipped",
    }
    assert "no Stripe fee" in (rows["fee"].last_error or "")
    payment = next(p for p in b.objects("Payment") if p["Id"] == rows["payment"].qbo_id)
    assert payment["TotalAmt"] == 0
    assert payment["DepositToAccountRef"]["value"] == b.accounts["Undeposited Funds"]
    mirrored = next(i for i in b.objects("Invoice") if i["Id"] == rows["invoice"].qbo_id)
    assert mirrored["Balance"] == 0
    assert b.objects("Purchase") == []


def test_an_out_of_band_payment_goes_to_the_outside_stripe_account_and_posts_no_fee(
    b: Books,
) -> None:
    sent = b.billing.sent_invoice()
    b.run_tasks()
    b.billing.stripe.v1.invoices.pay(sent["stripe_invoice_id"], {"paid_out_of_band": True})
    b.reconcile()
    b.run_tasks()
    rows = b.rows(sent["id"])
    assert rows["payment"].state == "posted" and rows["fee"].state == "skipped"
    assert "no Stripe fee" in (rows["fee"].last_error or "")
    payment = b.one("Payment")
    assert payment["DepositToAccountRef"]["value"] == b.accounts["Undeposited Funds"]
    assert minor(payment["TotalAmt"]) == sent["total"]
    assert "outside Stripe" in payment["PrivateNote"]
    assert b.one("Invoice")["Balance"] == 0 and b.objects("Purchase") == []
    assert postings.describe(rows["fee"])["error"] == rows["fee"].last_error  # type: ignore[index]


def test_an_ach_fee_is_posted_when_the_payment_settles_not_before(b: Books) -> None:
    sent = b.billing.sent_invoice(minutes=600, rate=90000)  # $9,000: the ACH fee cap
    b.run_tasks()
    b.pay(sent["stripe_invoice_id"], method="ach")
    b.reconcile()
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted"}
    assert b.objects("Payment") == [] and b.objects("Purchase") == []
    b.settle(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
    txn = b.balance_transaction(sent["stripe_invoice_id"])
    assert txn["fee"] == 500  # 0.8% capped at $5.00
    assert minor(b.one("Purchase")["TotalAmt"]) == 500
    assert minor(b.one("Payment")["TotalAmt"]) == sent["total"]


def test_voiding_a_sent_invoice_voids_its_mirror(b: Books) -> None:
    sent = b.billing.sent_invoice()
    b.run_tasks()
    with b.billing.kit.api() as api:
        r = api.post(f"/invoices/{sent['id']}/void", json={"release_entries": True})
        assert r.status_code == 200, r.text
    assert b.run_tasks() == ["quickbooks.void_invoice"]
    assert b.states(sent["id"]) == {"invoice": "posted", "void": "posted"}
    voided = b.one("Invoice")
    assert voided["TotalAmt"] == 0 and voided["PrivateNote"] == "Voided"


def test_a_void_before_the_mirror_posts_nothing(b: Books) -> None:
    sent = b.billing.sent_invoice()
    with b.billing.kit.api() as api:
        r = api.post(f"/invoices/{sent['id']}/void", json={"release_entries": True})
        assert r.status_code == 200, r.text
    b.run_tasks()
    rows = b.rows(sent["id"])
    # The mirror task ran after the void: the invoice is not mirrored at all.
    assert {k: r.state for k, r in rows.items()} == {"void": "skipped"}
    assert "never mirrored" in (rows["void"].last_error or "")
    assert b.objects("Invoice") == []


def test_postings_before_the_post_from_date_are_skipped(b: Books) -> None:
    b.set_connection(post_from=date.today() + timedelta(days=2))
    sent = b.billing.sent_invoice()
    b.run_tasks()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    rows = b.rows(sent["id"])
    assert {k: r.state for k, r in rows.items()} == {
        "invoice": "skipped",
        "payment": "skipped",
        "fee": "skipped",
    }
    assert "post-from" in (rows["invoice"].last_error or "")
    assert b.objects("Invoice") == [] and b.objects("Payment") == []
    assert b.objects("Purchase") == []


def test_a_void_after_the_mirror_changed_in_quickbooks_rereads_the_sync_token(b: Books) -> None:
    sent = b.billing.sent_invoice()
    b.run_tasks()
    mirrored = b.one("Invoice")
    from regentra.integrations.quickbooks.client import QuickBooks

    with QuickBooks(b.org_id) as qbo:  # someone edits it in QuickBooks: a new SyncToken
        qbo.update(
            "Invoice",
            {"Id": mirrored["Id"], "SyncToken": mirrored["SyncToken"], "sparse": True,
             "CustomerMemo": {"value": "Thanks"}},
        )  # fmt: skip
    with b.billing.kit.api() as api:
        r = api.post(f"/invoices/{sent['id']}/void", json={"release_entries": False})
        assert r.status_code == 200, r.text
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted", "void": "posted"}
    assert b.one("Invoice")["PrivateNote"] == "Voided"


def test_catalog_lines_post_to_their_catalog_items_income_item(b: Books) -> None:
    """Issue 17: a line of a catalog item mapped on the QuickBooks mapping posts to that
    item's income item; a line of an unmapped catalog item, and a time line, to the default
    (the mapping's income item). QuickBooks names an item on every line."""
    kit = b.billing.kit
    with QuickBooks(kit.org.id) as qbo:
        hardware = qbo.create(
            "Item",
            {
                "Name": "Hardware",
                "Type": "NonInventory",
                "IncomeAccountRef": {"value": b.accounts["Services"]},
            },
            request_id=uuid.uuid4().hex,
        )
    with kit.api() as api:
        mapped = api.post(
            "/catalog", json={"name": "Firewall", "unit_amount": 4000, "currency": "usd"}
        ).json()
        unmapped = api.post(
            "/catalog", json={"name": "Backup seat", "unit_amount": 500, "currency": "usd"}
        ).json()
        body = {
            "deposit_account_id": b.accounts["Stripe Clearing"],
            "other_deposit_account_id": b.accounts["Undeposited Funds"],
            "fee_account_id": b.accounts["Merchant Fees"],
            "fee_paid_from_account_id": b.accounts["Stripe Clearing"],
            "fee_vendor_id": b.accounts["vendor:Stripe"],
            "income_item_id": b.accounts["item:Services"],
            "post_from": "2020-01-01",
            "catalog_items": [
                {"catalog_item_id": mapped["id"], "quickbooks_item_id": hardware["Id"]}
            ],
        }
        saved = api.put("/integrations/quickbooks/mapping", json=body)
        assert saved.status_code == 200, saved.text
    b.run_tasks()
    _, invoice = draft(b.billing)
    with kit.api() as api:
        for item, quantity in ((mapped, 2), (unmapped, 3)):
            added = api.post(
                f"/invoices/{invoice['id']}/lines",
                json={"catalog_item_id": item["id"], "quantity": quantity},
            )
            assert added.status_code == 201, added.text
    assert send(b.billing, invoice).status_code == 200
    assert "quickbooks.mirror_invoice" in b.run_tasks()
    mirrored = b.one("Invoice")
    lines = [
        (line["Description"], minor(line["Amount"]), line["SalesItemLineDetail"]["ItemRef"])
        for line in mirrored["Line"]
        if line["DetailType"] == "SalesItemLineDetail"
    ]
    services = {"value": b.accounts["item:Services"]}
    assert [(amount, ref) for _, amount, ref in lines] == [
        (18000, services),  # the time line: 90 min at $120.00 an hour
        (8000, {"value": str(hardware["Id"])}),
        (1500, services),
    ], lines
    assert minor(mirrored["TotalAmt"]) == 18000 + 8000 + 1500
