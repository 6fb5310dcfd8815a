"""The Payment an earlier attempt made is found by fields Intuit documents as filterable
(CustomerRef and TxnDate) and matched by its memo, not by a PaymentRefNum filter (Intuit's
pages do not say it is filterable). Against both sandboxes, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import books, day
from regentra.integrations.quickbooks import posting_kinds, posting_run
from regentra.integrations.quickbooks.client import QuickBooks

Connect = Callable[..., QboOrg]


def test_the_payment_is_found_by_customer_and_date_and_its_memo(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    first, second = b.billing.sent_invoice(), b.billing.sent_invoice()
    for sent in (first, second):
        b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    payments = {p["Id"]: p for p in b.objects("Payment")}
    assert len(payments) == 2
    loaded = posting_run.load(uuid.UUID(second["id"]))
    assert loaded is not None
    facts, mapping = loaded
    posted = b.rows(second["id"])["payment"]
    made = payments[str(posted.qbo_id)]
    with QuickBooks(b.org_id) as qbo:
        run = posting_run.Run(facts, mapping, qbo)
        found = posting_kinds._find_payment(
            run, made["CustomerRef"]["value"], day(made["TxnDate"]), facts.number
        )
        missing = posting_kinds._find_payment(
            run, made["CustomerRef"]["value"], day(made["TxnDate"]), "INV-999999"
        )
    assert found is not None and found["Id"] == made["Id"]
    assert missing is None
