"""The QuickBooks Customer of a client (`integrations/quickbooks/customers.py`) against the
QuickBooks sandbox: remembered once found or made; found by name in the right currency; a
name taken by a vendor or by a customer in another currency gives "<name> (<CUR>)"; a
repeated create is the same Customer. Also: the mirrored invoice has one line per our line,
amounts exact. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import books, minor
from regentra.integrations.quickbooks import customers
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.models import QuickBooksCustomer

Connect = Callable[..., QboOrg]


def _find(q: QboOrg, client_id: uuid.UUID, name: str, currency: str = "USD") -> str:
    with QuickBooks(q.kit.org.id) as qbo:
        return customers.find_or_create(
            qbo,
            org_id=q.kit.org.id,
            client_id=client_id,
            name=name,
            email="ap@client.example.com",
            currency=currency,
        )


def test_a_client_becomes_one_customer_remembered(
    make_org: Any, connect_quickbooks: Connect, db: Any
) -> None:
    q = connect_quickbooks(make_org())
    client_id = uuid.uuid4()
    first = _find(q, client_id, "Contoso Ltd")
    assert _find(q, client_id, "Contoso Ltd") == first
    (made,) = q.objects("Customer")
    assert made["Id"] == first and made["DisplayName"] == "Contoso Ltd"
    assert made["PrimaryEmailAddr"] == {"Address": "ap@client.example.com"}
    with db.session() as s:
        row = s.scalar(select(QuickBooksCustomer).where(QuickBooksCustomer.client_id == client_id))
        assert row is not None and (row.customer_id, row.realm_id) == (first, q.realm)


def test_an_existing_customer_of_that_name_and_currency_is_used(
    make_org: Any, connect_quickbooks: Connect
) -> None:
    q = connect_quickbooks(make_org())
    with QuickBooks(q.kit.org.id) as qbo:
        theirs = qbo.create("Customer", {"DisplayName": "Fabrikam"}, request_id=uuid.uuid4().hex)
    assert _find(q, uuid.uuid4(), "Fabrikam") == theirs["Id"]
    assert len(q.objects("Customer")) == 1


def test_a_name_taken_by_the_vendor_or_in_another_currency_gets_the_currency(
    make_org: Any, connect_quickbooks: Connect
) -> None:
    q = connect_quickbooks(make_org(), currency="GBP", multicurrency=True)
    stripe_client = _find(q, uuid.uuid4(), "Stripe", "GBP")  # the seeded vendor's name
    with QuickBooks(q.kit.org.id) as qbo:
        qbo.create("Customer", {"DisplayName": "Northwind"}, request_id=uuid.uuid4().hex)
    dollars = _find(q, uuid.uuid4(), "Northwind", "USD")
    by_id = {c["Id"]: c for c in q.objects("Customer")}
    assert by_id[stripe_client]["DisplayName"] == "Stripe (GBP)"
    assert by_id[dollars]["DisplayName"] == "Northwind (USD)"
    assert by_id[dollars]["CurrencyRef"]["value"] == "USD"


def test_the_mirror_has_one_line_per_our_line_to_the_cent(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks)
    sent = b.billing.sent_invoice(entries=3, minutes=37, rate=13333)
    b.run_tasks()
    mirrored = b.one("Invoice")
    ours = [line["amount"] for line in sent["lines"]]
    assert [minor(line["Amount"]) for line in mirrored["Line"]] == ours
    assert minor(mirrored["TotalAmt"]) == sent["total"] == sum(ours)
    item = {line["SalesItemLineDetail"]["ItemRef"]["value"] for line in mirrored["Line"]}
    assert item == {b.accounts["item:Services"]}


def test_two_clients_of_one_name_stay_two_customers(
    make_org: Any, connect_quickbooks: Connect
) -> None:
    q = connect_quickbooks(make_org())
    clients = [uuid.uuid4() for _ in range(3)]
    made = [_find(q, client, "Acme") for client in clients]
    assert len(set(made)) == 3
    names = {c["Id"]: c["DisplayName"] for c in q.objects("Customer")}
    assert names[made[0]] == "Acme" and names[made[1]] == "Acme (USD)"
    assert names[made[2]] == f"Acme (USD {str(clients[2])[:8]})"
    assert [_find(q, client, "Acme") for client in clients] == made  # remembered


def test_a_create_losing_a_race_adopts_the_customer_the_other_worker_made(
    make_org: Any, connect_quickbooks: Connect, monkeypatch: Any
) -> None:
    """Two workers make the same client's customer: this one looked the name up before the
    other created it, so its create is refused as a duplicate name (6240). It adopts the
    other's customer instead of making an orphan "<name> (USD)"."""
    q = connect_quickbooks(make_org())
    client_id = uuid.uuid4()
    real = customers._by_name
    looked: list[str] = []

    def lookup_then_other_worker_creates(qbo: QuickBooks, name: str) -> Any:
        found = real(qbo, name)
        if not looked:
            looked.append(name)
            qbo.create("Customer", {"DisplayName": name}, request_id=uuid.uuid4().hex)
        return found

    monkeypatch.setattr(customers, "_by_name", lookup_then_other_worker_creates)
    first = _find(q, client_id, "Globex")
    (only,) = q.objects("Customer")
    assert only["Id"] == first and only["DisplayName"] == "Globex"
