"""Shared helpers of the postings tests: an org connected to both sandboxes (Stripe: its own
account; QuickBooks: its own company) with a mapping saved the way the card saves it (the
connection row's mapping columns, from the company's seeded accounts), and the steps a
client's payment goes through."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sandbox.quickbooks.conftest import QboSandbox
from sqlalchemy import select, update
from support.qbo_fixtures import QboOrg, app_for, connector

from integrations.conftest import Billing, StripeApp, connect_billing
from regentra.integrations.quickbooks import postings
from regentra.integrations.stripe import reconcile as reconciliation
from regentra.kit.time import utcnow
from regentra.models import Invoice, QuickBooksConnection, QuickBooksPosting


@dataclass
class Books:
    """An org with Stripe (`billing`) and QuickBooks (`qbo`) connected and mapped."""

    billing: Billing
    qbo: QboOrg
    db: Any
    run_tasks: Callable[..., list[str]]
    accounts: dict[str, str]

    @property
    def org_id(self) -> uuid.UUID:
        return self.billing.kit.org.id

    def objects(self, entity: str) -> list[dict[str, Any]]:
        return self.qbo.objects(entity)

    def one(self, entity: str) -> dict[str, Any]:
        found = self.objects(entity)
        assert len(found) == 1, (entity, found)
        return found[0]

    def rows(self, invoice_id: str) -> dict[str, QuickBooksPosting]:
        with self.db.session() as s:
            return postings.for_invoice(s, org_id=self.org_id, invoice_id=uuid.UUID(invoice_id))

    def states(self, invoice_id: str) -> dict[str, str]:
        return {k: r.state for k, r in self.rows(invoice_id).items()}

    def set_connection(self, **values: Any) -> None:
        with self.db.session() as s:
            s.execute(
                update(QuickBooksConnection)
                .where(QuickBooksConnection.org_id == self.org_id)
                .values(**values)
            )
            s.commit()

    def pay(self, stripe_invoice_id: str, **form: str) -> None:
        with self.billing.control() as control:
            r = control.post(f"/_sandbox/invoices/{stripe_invoice_id}/pay", data=form)
            assert r.status_code == 200, r.text

    def settle(self, stripe_invoice_id: str) -> None:
        with self.billing.control() as control:
            r = control.post(f"/_sandbox/invoices/{stripe_invoice_id}/settle")
            assert r.status_code == 200, r.text

    def reconcile(self) -> None:
        """Learn of payments as the hourly reconciliation does (in-process: the sandbox
        cannot deliver webhooks to the app under test)."""
        reconciliation.reconcile_org(self.org_id)

    def invoice_row(self, invoice_id: str) -> Invoice:
        with self.db.session() as s:
            found = s.get(Invoice, uuid.UUID(invoice_id))
            assert found is not None
            return found

    def balance_transaction(self, stripe_invoice_id: str) -> dict[str, Any]:
        return balance_transaction(self.billing, stripe_invoice_id)


def balance_transaction(billing: Billing, stripe_invoice_id: str) -> dict[str, Any]:
    """The Stripe sandbox's balance transaction of the invoice's charge (with `charge`,
    `payment_intent` and the invoice payment's `amount_paid` added)."""
    stripe = billing.stripe
    payments = stripe.v1.invoice_payments.list(params={"invoice": stripe_invoice_id}).data
    paid = next(p for p in payments if p.status == "paid")
    intent = stripe.v1.payment_intents.retrieve(
        paid.payment.payment_intent, params={"expand": ["latest_charge.balance_transaction"]}
    )
    txn: dict[str, Any] = intent.latest_charge.balance_transaction.to_dict()
    txn["charge"] = intent.latest_charge.id
    txn["payment_intent"] = intent.id
    txn["amount_paid"] = paid.amount_paid
    return txn


def accounts_of(qbo: QboOrg) -> dict[str, str]:
    found = {a["Name"]: str(a["Id"]) for a in qbo.objects("Account")}
    found["vendor:Stripe"] = next(
        str(v["Id"]) for v in qbo.objects("Vendor") if v["DisplayName"] == "Stripe"
    )
    found["item:Services"] = next(
        str(i["Id"]) for i in qbo.objects("Item") if i["Name"] == "Services"
    )
    return found


def save_mapping(db: Any, org_id: uuid.UUID, accounts: dict[str, str], **over: Any) -> None:
    values: dict[str, Any] = {
        "deposit_account_id": accounts["Stripe Clearing"],
        "other_deposit_account_id": accounts["Undeposited Funds"],
        "fee_account_id": accounts["Merchant Fees"],
        "fee_paid_from_account_id": accounts["Stripe Clearing"],
        "fee_vendor_id": accounts["vendor:Stripe"],
        "income_item_id": accounts["item:Services"],
        "post_from": None,
        "mapping_saved_at": utcnow(),
        "mapping_labels": {"fee_paid_from_account": {"name": "Stripe Clearing", "type": "Bank"}},
    }
    values.update(over)
    with db.session() as s:
        s.execute(
            update(QuickBooksConnection)
            .where(QuickBooksConnection.org_id == org_id)
            .values(**values)
        )
        s.commit()


def books(
    stripe_app: StripeApp,
    connect_quickbooks: Callable[..., QboOrg],
    db: Any,
    run_tasks: Callable[..., list[str]],
    *,
    key: str | None = None,
    currency: str = "USD",
    multicurrency: bool = False,
    mapped: bool = True,
    **mapping: Any,
) -> Books:
    billing = connect_billing(stripe_app, key=key)
    run_tasks()  # the first Save's catalog sync
    qbo = connect_quickbooks(billing.kit, currency=currency, multicurrency=multicurrency)
    accounts = accounts_of(qbo)
    if mapped:
        save_mapping(db, billing.kit.org.id, accounts, **mapping)
    return Books(billing, qbo, db, run_tasks, accounts)


def foreign_invoice(b: Books, currency: str, *, rate: int = 12000) -> dict[str, Any]:
    """A sent invoice for a new client billed in `currency`."""
    kit = b.billing.kit
    client = kit.client(hourly_rate=rate, currency=currency)
    ticket = kit.ticket(client)
    tech = kit.add_user("technician")
    approver = kit.add_user("approver")
    kit.entry(tech, ticket=ticket, minutes=90, status="approved", approver=approver)
    with kit.api() as api:
        draft = api.post("/invoices", json={"client_id": str(client.id)})
        assert draft.status_code == 201, draft.text
        sent = api.post(f"/invoices/{draft.json()['id']}/send")
        assert sent.status_code == 200, sent.text
    body: dict[str, Any] = sent.json()
    return body


def money(value: Any) -> str:
    """A QuickBooks amount as text with two decimals (the sandbox answers floats)."""
    return f"{float(value):.2f}"


def minor(value: Any) -> int:
    return round(float(value) * 100)


def day(value: str) -> date:
    return date.fromisoformat(value[:10])


def count_rows(db: Any, org_id: uuid.UUID) -> int:
    with db.session() as s:
        return len(
            s.scalars(select(QuickBooksPosting).where(QuickBooksPosting.org_id == org_id)).all()
        )


def own_quickbooks(
    sandbox: QboSandbox, monkeypatch: pytest.MonkeyPatch, db: Any, **env: str
) -> Callable[..., QboOrg]:
    """Point the app at `sandbox` (a QuickBooks sandbox of the test's own, with its own
    limits and faults) and return a `connect_quickbooks` for it."""
    return connector(app_for(monkeypatch, sandbox, **env), db)


def control(sandbox: QboSandbox, path: str, **values: Any) -> dict[str, Any]:
    with sandbox.control() as c:
        r = c.post(f"/_sandbox/{path}", json=values)
        r.raise_for_status()
        answer: dict[str, Any] = r.json()
        return answer


def requests_of(sandbox: QboSandbox, realm: str) -> list[dict[str, Any]]:
    with sandbox.control() as c:
        r = c.get(f"/_sandbox/companies/{realm}/requests")
        r.raise_for_status()
        body = r.json()
    return list(body["data"] if isinstance(body, dict) else body)
