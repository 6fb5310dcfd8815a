"""After the org connects a different QuickBooks company, nothing is posted into it against
the old company's objects: a void of an invoice mirrored in the old company, or its payment
and fee, are skipped and say why; the new company's own objects (whose ids may coincide with
the old one's) are left alone. The company's name and currency are cleared when the company
changes (read again from the new one). On SQLite and PostgreSQL, against both sandboxes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import accounts_of, books, save_mapping

Connect = Callable[..., QboOrg]


def test_postings_of_invoices_mirrored_in_the_old_company_never_touch_the_new_one(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    to_void = b.billing.sent_invoice()
    to_pay = b.billing.sent_invoice()
    b.run_tasks()
    old = b.qbo.realm
    in_old = b.objects("Invoice")
    assert len(in_old) == 2

    # The admin connects another company (through the OAuth callback's `complete`).
    new = connect_quickbooks(b.billing.kit)
    assert new.realm != old
    save_mapping(db, b.org_id, accounts_of(new))
    fresh = b.billing.sent_invoice()
    b.run_tasks()
    (mirrored_new,) = new.objects("Invoice")
    assert b.rows(fresh["id"])["invoice"].realm_id == new.realm
    assert b.rows(to_void["id"])["invoice"].realm_id == old

    with b.billing.kit.api() as api:
        r = api.post(f"/invoices/{to_void['id']}/void", json={"release_entries": True})
        assert r.status_code == 200, r.text
    b.pay(to_pay["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()

    # Nothing changed in the new company: its invoice is live, no payment, no fee.
    assert new.objects("Invoice") == [mirrored_new]
    assert new.objects("Payment") == [] and new.objects("Purchase") == []
    # Nor in the old one (not connected: nothing can be done there).
    assert b.objects("Invoice") == in_old and b.objects("Payment") == []

    why = f"mirrored in company {old}, which is not connected now"
    void = b.rows(to_void["id"])["void"]
    assert void.state == "skipped" and why in (void.last_error or ""), void.last_error
    paid = b.rows(to_pay["id"])
    assert (paid["payment"].state, paid["fee"].state) == ("skipped", "skipped")
    assert why in (paid["payment"].last_error or "") and why in (paid["fee"].last_error or "")
    assert paid["invoice"].state == "posted" and paid["invoice"].realm_id == old


def test_an_invoice_skipped_in_the_old_company_is_not_said_to_be_mirrored_there(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks, post_from=date.today() + timedelta(2))
    sent = b.billing.sent_invoice()
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "skipped"}  # before the old post-from date
    new = connect_quickbooks(b.billing.kit)
    save_mapping(db, b.org_id, accounts_of(new))
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    payment = b.rows(sent["id"])["payment"]
    assert payment.state == "skipped"
    assert "was not mirrored" in (payment.last_error or ""), payment.last_error
    assert new.objects("Payment") == []
