"""Shared helpers of the movement postings tests: a paid invoice mirrored in QuickBooks (the
existing flow, against both sandboxes), and refund, dispute and payout rows made directly as
the Stripe side would fill them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import update
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import Books, books
from regentra import queue
from regentra.integrations.quickbooks import movements
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.kit.time import utcnow
from regentra.models import Dispute, Payout, QuickBooksMovementPosting, Refund

Connect = Callable[..., QboOrg]


def movement_books(
    stripe_app: StripeApp,
    connect_quickbooks: Connect,
    db: Any,
    run_tasks: Callable[..., list[str]],
    *,
    key: str | None = None,
    currency: str = "USD",
    multicurrency: bool = False,
    **mapping: Any,
) -> Books:
    """`books`, with a "Chargebacks" (Other Expense) account made in the company and mapped
    as the account for disputed amounts, and Checking as the payout bank account (unless
    `mapping` says otherwise)."""
    b = books(
        stripe_app,
        connect_quickbooks,
        db,
        run_tasks,
        key=key,
        currency=currency,
        multicurrency=multicurrency,
        mapped=False,
    )
    with QuickBooks(b.org_id) as qbo:
        made = qbo.create(
            "Account",
            {"Name": "Chargebacks", "AccountType": "Other Expense"},
            request_id=uuid.uuid4().hex,
        )
    b.accounts["Chargebacks"] = str(made["Id"])
    from integrations.quickbooks.posting_helpers import save_mapping

    values = {
        "payout_account_id": b.accounts["Checking"],
        "dispute_account_id": b.accounts["Chargebacks"],
        **mapping,
    }
    save_mapping(db, b.org_id, b.accounts, **values)
    return b


def paid_invoice(b: Books, **kw: Any) -> dict[str, Any]:
    """A sent invoice, paid by card in Stripe and learned of; its postings run (mirror,
    payment, fee)."""
    sent = b.billing.sent_invoice(**kw)
    b.pay(sent["stripe_invoice_id"])
    b.reconcile()
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted", "payment": "posted", "fee": "posted"}
    return sent


def _add(db: Any, row: Any) -> uuid.UUID:
    with db.session() as s:
        s.add(row)
        s.commit()
        return uuid.UUID(str(row.id))


def refund(b: Books, invoice: dict[str, Any], amount: int, **kw: Any) -> uuid.UUID:
    values: dict[str, Any] = {
        "org_id": b.org_id,
        "invoice_id": uuid.UUID(invoice["id"]),
        "stripe_refund_id": f"re_{uuid.uuid4().hex[:20]}",
        "amount": amount,
        "currency": invoice["currency"].lower(),
        "status": "succeeded",
        "settled_amount": amount,
        "settled_fee": 0,
        "settlement_currency": "usd",
        "refunded_at": utcnow(),
    }
    values.update(kw)
    return _add(b.db, Refund(**values))


def dispute(b: Books, invoice: dict[str, Any], **kw: Any) -> uuid.UUID:
    values: dict[str, Any] = {
        "org_id": b.org_id,
        "invoice_id": uuid.UUID(invoice["id"]),
        "stripe_dispute_id": f"dp_{uuid.uuid4().hex[:20]}",
        "amount": invoice["total"],
        "currency": invoice["currency"].lower(),
        "status": "needs_response",
        "settlement_currency": "usd",
        "withdrawn": invoice["total"],
        "withdrawal_fee": 1500,
        "withdrawn_at": utcnow(),
    }
    values.update(kw)
    return _add(b.db, Dispute(**values))


def payout(b: Books, amount: int, **kw: Any) -> uuid.UUID:
    values: dict[str, Any] = {
        "org_id": b.org_id,
        "stripe_payout_id": f"po_{uuid.uuid4().hex[:20]}",
        "amount": amount,
        "currency": "usd",
        "status": "paid",
        "arrival_date": utcnow().date(),
    }
    values.update(kw)
    return _add(b.db, Payout(**values))


def change(b: Books, model: Any, row_id: uuid.UUID, **values: Any) -> None:
    with b.db.session() as s:
        s.execute(update(model).where(model.id == row_id).values(**values))
        s.commit()


def enqueue(b: Books, subject: str, subject_id: uuid.UUID) -> None:
    """What the Stripe side does when the row changed."""
    with b.db.session() as s:
        queue.enqueue(s, movements.SYNC_TASK, subject, str(subject_id))
        s.commit()


def moved(b: Books, subject_id: uuid.UUID) -> dict[str, QuickBooksMovementPosting]:
    with b.db.session() as s:
        return movements.for_subjects(s, org_id=b.org_id, subject_ids=[subject_id]).get(
            subject_id, {}
        )


def states(b: Books, subject_id: uuid.UUID) -> dict[str, str]:
    return {k: r.state for k, r in moved(b, subject_id).items()}


def balance(b: Books, name: str) -> int:
    """The account's CurrentBalance in QuickBooks, in cents."""
    with QuickBooks(b.org_id) as qbo:
        found = qbo.read("Account", b.accounts[name])
    return round(float(found["CurrentBalance"]) * 100)


def today() -> date:
    return utcnow().date()


def at(day: date) -> datetime:
    from datetime import UTC, time

    return datetime.combine(day, time(12), UTC)
