"""What the mapping and postings-view tests share: an invoice to hang postings on, posting
rows made directly, the tasks waiting in the queue, and the QuickBooks tasks' names.

The tasks `quickbooks.resume` and `quickbooks.sync_invoice` are declared by the postings
slice (`integrations/quickbooks/tasks.py`). Where that module is not there yet, the names
are declared here with a body that fails if run, so `queue.enqueue` accepts them and the
tests check what was enqueued (never what ran). Once tasks.py exists, it is imported
instead and nothing is declared here.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from regentra import queue, task_registry
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.invoices import service as invoicing
from regentra.invoices.schemas import InvoiceCreate
from regentra.models import Org, QuickBooksConnection, QuickBooksPosting, User

RESUME = "quickbooks.resume"
SYNC = "quickbooks.sync_invoice"


def declare_quickbooks_tasks() -> None:
    """The task modules loaded (the QuickBooks tasks among them), as in a server."""
    queue.load_tasks()
    assert task_registry.find(RESUME) is not None and task_registry.find(SYNC) is not None


def queued() -> list[tuple[str, tuple[Any, ...]]]:
    """(task name, args) of every task waiting in the queue."""
    return [(m.name, tuple(m.args)) for m in queue.get_huey().pending()]


def draft_invoice(db: Any, kit: Any) -> Any:
    """A draft invoice of one approved entry (never sent: sending would enqueue the mirror)."""
    tech = kit.add_user("technician")
    client = kit.client()
    entry = kit.entry(tech, ticket=kit.ticket(client), status="approved")
    with db.session() as s:
        org = s.get(Org, kit.org.id)
        admin = s.get(User, kit.admin.id)
        data = InvoiceCreate(client_id=client.id, entry_ids=[entry.id])
        invoice = invoicing.generate(s, org=org, user=admin, data=data)
        s.commit()
        return invoice


def add_posting(db: Any, kit: Any, invoice: Any, kind: str, state: str, **kw: Any) -> uuid.UUID:
    with db.session() as s:
        row = QuickBooksPosting(
            org_id=kit.org.id, invoice_id=invoice.id, kind=kind, state=state, details={}, **kw
        )
        s.add(row)
        s.commit()
        return row.id


def connection(db: Any, kit: Any) -> QuickBooksConnection:
    with db.session() as s:
        conn = s.scalar(
            select(QuickBooksConnection).where(QuickBooksConnection.org_id == kit.org.id)
        )
        assert conn is not None
        return conn


def company_ids(kit: Any) -> dict[str, str]:
    """Ids of the seeded company's objects by name (accounts, vendors, items)."""
    with QuickBooks(kit.org.id) as qbo:
        found = {a["Name"]: str(a["Id"]) for a in qbo.query("select * from Account")}
        found.update({v["DisplayName"]: str(v["Id"]) for v in qbo.query("select * from Vendor")})
        found.update({f"item:{i['Name']}": str(i["Id"]) for i in qbo.query("select * from Item")})
    return found


def valid_body(ids: dict[str, str], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "deposit_account_id": ids["Stripe Clearing"],
        "other_deposit_account_id": ids["Undeposited Funds"],
        "fee_account_id": ids["Merchant Fees"],
        "fee_paid_from_account_id": ids["Stripe Clearing"],
        "fee_vendor_id": ids["Stripe"],
        "income_item_id": ids["item:Services"],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}
