"""The company's home currency is never guessed: while it is unknown (its details could not
be read at connect) the postings wait and the run reads it again; a USD invoice in a GBP
company is then mirrored as foreign, with QuickBooks' rate. Connecting another company
clears the old one's name and currency (not kept when the new one's cannot be read). On
SQLite and PostgreSQL, against both sandboxes (a QuickBooks sandbox of the test's own where
it fails)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sandbox.quickbooks.conftest import QboSandbox, start_sandbox, stop_sandbox
from sqlalchemy import select
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import Books, books, control, own_quickbooks
from regentra.models import QuickBooksConnection

Connect = Callable[..., QboOrg]


@pytest.fixture
def own_qbo() -> Iterator[QboSandbox]:
    sandbox = start_sandbox("--rate-limit", "0")
    yield sandbox
    stop_sandbox(sandbox)


def _conn(b: Books) -> QuickBooksConnection:
    with b.db.session() as s:
        found = s.scalar(
            select(QuickBooksConnection).where(QuickBooksConnection.org_id == b.org_id)
        )
        assert found is not None
        return found


def test_an_unknown_home_currency_is_read_again_not_taken_as_the_invoices(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., Any]
) -> None:
    b = books(stripe_app, connect_quickbooks, db, run_tasks, currency="GBP", multicurrency=True)
    b.set_connection(home_currency=None, company_name=None)  # not read at connect
    sent = b.billing.sent_invoice()
    assert sent["currency"] == "USD"
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted"}
    mirrored = b.one("Invoice")
    assert mirrored["CurrencyRef"]["value"] == "USD"
    assert Decimal(str(mirrored["ExchangeRate"])) == Decimal("0.787402")  # QuickBooks' rate
    assert _conn(b).home_currency == "GBP" and _conn(b).company_name


def test_postings_wait_while_the_home_currency_cannot_be_read_then_post(
    stripe_app: StripeApp,
    own_qbo: QboSandbox,
    monkeypatch: pytest.MonkeyPatch,
    db: Any,
    run_tasks: Callable[..., Any],
) -> None:
    connect = own_quickbooks(
        own_qbo, monkeypatch, db, qbo_retries="1", qbo_backoff_base_seconds="0.01"
    )
    b = books(stripe_app, connect, db, run_tasks, currency="GBP", multicurrency=True)
    b.set_connection(home_currency=None)
    control(own_qbo, "faults", rate_503=1)
    try:
        sent = b.billing.sent_invoice()
        b.run_tasks()
        row = b.rows(sent["id"])["invoice"]
        assert row.state == "waiting" and "home currency" in (row.last_error or "")
    finally:
        control(own_qbo, "faults", rate_503=0)
    assert b.objects("Invoice") == []
    from regentra.integrations.quickbooks import tasks

    tasks.postings_sweep(older_than_s=0)  # the hourly sweep tries again
    b.run_tasks()
    assert b.states(sent["id"]) == {"invoice": "posted"}
    assert b.one("Invoice")["CurrencyRef"]["value"] == "USD"
    assert _conn(b).home_currency == "GBP"


def test_connecting_another_company_clears_the_old_ones_name_and_currency(
    stripe_app: StripeApp,
    own_qbo: QboSandbox,
    monkeypatch: pytest.MonkeyPatch,
    db: Any,
    run_tasks: Callable[..., Any],
) -> None:
    connect = own_quickbooks(
        own_qbo, monkeypatch, db, qbo_retries="1", qbo_backoff_base_seconds="0.01"
    )
    b = books(stripe_app, connect, db, run_tasks, currency="GBP", multicurrency=True)
    assert _conn(b).home_currency == "GBP" and _conn(b).multicurrency
    control(own_qbo, "faults", rate_503=1)  # the new company's details cannot be read
    try:
        connect(b.billing.kit, currency="USD")
    finally:
        control(own_qbo, "faults", rate_503=0)
    conn = _conn(b)
    assert (conn.home_currency, conn.company_name, conn.multicurrency) == (None, None, None)
