"""Currencies and card fees: an international card's fee (the surcharge is in Stripe's fee);
a USD invoice in a GBP company paired with a GBP-settling Stripe account (the Payment in USD
at Stripe's exchange rate, the fee in GBP); a foreign-currency invoice while QuickBooks'
multicurrency is off (failed with a clear message), then Retry after turning it on (the
invoice at QuickBooks' own rate, the payment at Stripe's). Against both sandboxes, on SQLite
and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sandbox.stripe.conftest import new_key
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import Books, books, foreign_invoice, minor
from regentra.audit.service import Actor
from regentra.integrations.quickbooks import postings
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.models import AuditEvent

Connect = Callable[..., QboOrg]
BRAZIL = "4000000760000002"


def _country_key(stripe_app: StripeApp, country: str) -> str:
    key = new_key()
    with stripe_app.sandbox.control(key) as control:
        r = control.post("/_sandbox/account", data={"country": country})
        assert r.status_code == 200, r.text
    return key


def _home_amount_is_the_settled_amount(payment: dict[str, Any], txn: dict[str, Any]) -> None:
    """QuickBooks' home amount of the Payment (TotalAmt * ExchangeRate, to the cent) is what
    Stripe settled, and the rate is Stripe's (to its shown precision)."""
    rate = Decimal(str(payment["ExchangeRate"]))
    home = (Decimal(str(payment["TotalAmt"])) * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert home == Decimal(txn["amount"]).scaleb(-2)
    assert abs(rate - Decimal(str(txn["exchange_rate"]))) < Decimal("0.000001")


def test_an_international_cards_fee_is_posted_as_stripe_charged_it(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    sent = b.billing.sent_invoice()
    b.pay(sent["stripe_invoice_id"], card_number=BRAZIL)
    b.reconcile()
    b.run_tasks()
    txn = b.balance_transaction(sent["stripe_invoice_id"])
    # 2.9% + 1.5% international + 30¢, rounded half up.
    expected = int((Decimal(sent["total"]) * Decimal("0.044")).quantize(Decimal(1))) + 30
    assert txn["fee"] == expected
    assert minor(b.one("Purchase")["TotalAmt"]) == expected


def test_a_usd_invoice_in_a_gbp_company_with_a_gbp_settling_stripe_account(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(
        stripe_app,
        connect_quickbooks,
        db,
        run_tasks,
        key=_country_key(stripe_app, "GB"),
        currency="GBP",
        multicurrency=True,
    )
    sent = b.billing.sent_invoice()
    assert sent["currency"] == "USD"
    b.run_tasks()
    mirrored = b.one("Invoice")
    assert mirrored["CurrencyRef"]["value"] == "USD"
    assert Decimal(str(mirrored["ExchangeRate"])) == Decimal("0.787402")  # QuickBooks' rate
    assert b.one("Customer")["CurrencyRef"]["value"] == "USD"
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
    txn = b.balance_transaction(sent["stripe_invoice_id"])
    assert txn["currency"] == "gbp" and txn["exchange_rate"] is not None
    payment = b.one("Payment")
    assert payment["CurrencyRef"]["value"] == "USD"
    assert minor(payment["TotalAmt"]) == sent["total"]
    _home_amount_is_the_settled_amount(payment, txn)
    purchase = b.one("Purchase")
    assert purchase["CurrencyRef"]["value"] == "GBP"
    assert minor(purchase["TotalAmt"]) == txn["fee"]
    assert b.one("Invoice")["Balance"] == 0
    fee = b.rows(sent["id"])["fee"]
    assert (fee.amount, fee.currency) == (txn["fee"], "GBP")
    assert fee.details["exchange_rate"] == str(Decimal(str(txn["exchange_rate"])))


def test_multicurrency_off_fails_clearly_then_retry_after_turning_it_on_posts(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b: Books = books(stripe_app, connect_quickbooks, db, run_tasks)
    sent = foreign_invoice(b, "EUR")
    b.run_tasks()
    row = b.rows(sent["id"])["invoice"]
    assert row.state == "failed"
    assert "multicurrency is off" in (row.last_error or "") and "EUR" in (row.last_error or "")
    assert "Retry" in (row.last_error or "")
    assert b.objects("Customer") == [] and b.objects("Invoice") == []
    with db.session() as s:
        failed = s.query(AuditEvent).filter_by(action="quickbooks.posting_failed").one()
        assert failed.details["kind"] == "invoice"
    # Paid meanwhile: the payment and the fee wait for the mirror.
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "failed", "payment": "pending", "fee": "pending"}

    with QuickBooks(b.org_id) as qbo:
        prefs = qbo.preferences()
        qbo.update(
            "Preferences",
            {
                "Id": prefs["Id"],
                "SyncToken": prefs["SyncToken"],
                "sparse": True,
                "CurrencyPrefs": {"MultiCurrencyEnabled": True},
            },
        )
    with db.session() as s:
        postings.retry(s, org_id=b.org_id, posting_id=row.id, actor=Actor.of(b.billing.kit.admin))
        s.commit()
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
    mirrored = b.one("Invoice")
    assert mirrored["CurrencyRef"]["value"] == "EUR" and mirrored["ExchangeRate"] == 1.08
    txn = b.balance_transaction(sent["stripe_invoice_id"])
    payment = b.one("Payment")
    assert payment["CurrencyRef"]["value"] == "EUR" and minor(payment["TotalAmt"]) == sent["total"]
    _home_amount_is_the_settled_amount(payment, txn)
    purchase = b.one("Purchase")
    assert purchase["CurrencyRef"]["value"] == "USD" and minor(purchase["TotalAmt"]) == txn["fee"]
    assert b.one("Invoice")["Balance"] == 0


@pytest.mark.parametrize("paid_from", ["Company Card"])
def test_a_fee_paid_from_a_credit_card_is_a_credit_card_purchase(
    stripe_app: StripeApp,
    connect_quickbooks: Connect,
    db: Any,
    run_tasks: Callable[..., Any],
    paid_from: str,
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    b.set_connection(fee_paid_from_account_id=b.accounts[paid_from], mapping_labels={})
    sent = b.billing.sent_invoice()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    purchase = b.one("Purchase")
    assert purchase["PaymentType"] == "CreditCard"
    assert purchase["AccountRef"]["value"] == b.accounts[paid_from]


def test_a_fee_in_another_settlement_currency_fails_clearly_without_multicurrency(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    """A USD company without multicurrency, paired with a GBP-settling Stripe account: the
    invoice and its payment are in USD and post; the fee is in GBP and fails saying what to
    do; the payment is not held up."""
    b = books(stripe_app, connect_quickbooks, db, run_tasks, key=_country_key(stripe_app, "GB"))
    sent = b.billing.sent_invoice()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    rows = b.rows(sent["id"])
    assert (rows["invoice"].state, rows["payment"].state) == ("posted", "posted")
    assert rows["fee"].state == "failed"
    message = rows["fee"].last_error or ""
    assert "multicurrency is off" in message and "GBP" in message and "USD" in message
    assert b.objects("Purchase") == []
    described = postings.describe(rows["fee"])
    assert described is not None and described["error"] == message


def test_a_fee_in_a_foreign_settlement_currency_is_paid_to_a_vendor_in_that_currency(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    """A USD multicurrency company paired with a GBP-settling Stripe account, the fee paid
    from a GBP bank account: the mapped vendor "Stripe" is in USD and a payee has one
    currency, so the GBP Purchase goes to "Stripe (GBP)", made once (and found after)."""
    b = books(
        stripe_app,
        connect_quickbooks,
        db,
        run_tasks,
        key=_country_key(stripe_app, "GB"),
        multicurrency=True,
    )
    with QuickBooks(b.org_id) as qbo:
        gbp = qbo.create(
            "Account",
            {"Name": "Stripe Clearing GBP", "AccountType": "Bank", "CurrencyRef": {"value": "GBP"}},
            request_id=uuid.uuid4().hex,
        )
    b.set_connection(
        fee_paid_from_account_id=str(gbp["Id"]),
        mapping_labels={"fee_paid_from_account": {"name": "Stripe Clearing GBP", "type": "Bank"}},
    )
    for _ in range(2):
        sent = b.billing.sent_invoice()
        b.pay(sent["stripe_invoice_id"])
        b.reconcile()
        b.run_tasks()
        assert b.states(sent["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
    twins = [v for v in b.objects("Vendor") if v["DisplayName"] == "Stripe (GBP)"]
    assert len(twins) == 1 and twins[0]["CurrencyRef"]["value"] == "GBP"
    txn = b.balance_transaction(sent["stripe_invoice_id"])
    purchases = b.objects("Purchase")
    assert len(purchases) == 2
    for purchase in purchases:
        assert purchase["CurrencyRef"]["value"] == "GBP"
        assert purchase["EntityRef"]["value"] == twins[0]["Id"]
    assert minor(purchases[-1]["TotalAmt"]) == txn["fee"]
