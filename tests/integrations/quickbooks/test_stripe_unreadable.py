"""A Stripe problem never books a card payment as paid outside Stripe: with Stripe not
connected (or its key refused) the payment and the fee wait, saying why, and post as card
payments (to the Stripe deposit account, with the fee) once Stripe is connected again (the
keys' save resumes them). On SQLite and PostgreSQL, against both sandboxes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import books, minor
from regentra.integrations.quickbooks import postings, tasks
from regentra.models import SecretPurpose
from regentra.orgs import secrets

Connect = Callable[..., QboOrg]


def test_stripe_disconnected_makes_the_payment_wait_then_it_posts_as_a_card_payment(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    sent = b.billing.sent_invoice()
    b.run_tasks()
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()  # paid here; then Stripe is disconnected before the postings run
    purpose = SecretPurpose.stripe_secret_key.value
    with db.session() as s:
        assert secrets.delete(s, org_id=b.org_id, purpose=purpose)
        s.commit()
    b.run_tasks()
    rows = b.rows(sent["id"])
    assert (rows["payment"].state, rows["fee"].state) == ("waiting", "waiting"), rows
    assert "Stripe" in (rows["payment"].last_error or "")
    assert "not connected" in (rows["payment"].last_error or "")
    assert b.objects("Payment") == [] and b.objects("Purchase") == []
    tasks.postings_sweep(older_than_s=0)  # the hourly sweep picks waiting rows up too
    b.run_tasks()
    assert b.states(sent["id"])["payment"] == "waiting"

    # The admin saves the Stripe key again: the waiting postings resume.
    key = b.billing.key
    with b.billing.kit.api() as api:
        saved = api.put(
            "/integrations/stripe",
            json={"publishable_key": "pk_test_" + key[8:], "secret_key": key},
        )
        assert saved.status_code == 200, saved.text
    assert postings.RESUME_TASK in b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
    payment = b.one("Payment")
    assert payment["DepositToAccountRef"]["value"] == b.accounts["Stripe Clearing"]
    assert "outside Stripe" not in payment["PrivateNote"]
    txn = b.balance_transaction(sent["stripe_invoice_id"])
    assert minor(b.one("Purchase")["TotalAmt"]) == txn["fee"]
