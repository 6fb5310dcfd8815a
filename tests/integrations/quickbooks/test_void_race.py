"""A void racing the mirror that is talking to QuickBooks, interleaved by hand: the void
waits for an attempt in flight (never closes it as skipped while its Invoice may be landing),
adopts and voids an Invoice the attempt already made, and an attempt that outlived the void
voids the Invoice it made. Never a live Invoice in QuickBooks for a void invoice. On SQLite
and PostgreSQL, against both sandboxes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from support.qbo_fixtures import QboOrg

from integrations.conftest import StripeApp
from integrations.quickbooks.posting_helpers import Books, books
from regentra import queue
from regentra.integrations.quickbooks import posting_kinds, posting_rows, posting_run
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.kit.time import utcnow
from regentra.models import QuickBooksPosting

Connect = Callable[..., QboOrg]


@pytest.fixture
def b(
    stripe_app: StripeApp, connect_quickbooks: Connect, db: Any, run_tasks: Callable[..., list[str]]
) -> Books:
    return books(stripe_app, connect_quickbooks, db, run_tasks)


def _void(b: Books, invoice_id: str) -> None:
    with b.billing.kit.api() as api:
        r = api.post(f"/invoices/{invoice_id}/void", json={"release_entries": True})
        assert r.status_code == 200, r.text
    queue.get_huey().flush()  # this test runs the void by hand


def _mirror_begun(b: Books) -> tuple[uuid.UUID, posting_rows.Row, Any, Any]:
    """A sent invoice whose mirror's worker has counted its attempt and is about to call
    QuickBooks (the task the send enqueued is played by hand)."""
    sent = b.billing.sent_invoice()
    queue.get_huey().flush()
    invoice_id = uuid.UUID(sent["id"])
    loaded = posting_run.load(invoice_id)
    assert loaded is not None
    facts, mapping = loaded
    posting_rows.ensure(facts.org_id, invoice_id, ["invoice"], mapping.realm_id)
    row = posting_rows.read_all(facts.org_id, invoice_id)["invoice"]
    assert posting_rows.begin(row, mapping.realm_id)
    return invoice_id, row, facts, mapping


def _create(facts: Any, mapping: Any, row: posting_rows.Row) -> dict[str, Any]:
    with QuickBooks(facts.org_id) as qbo:
        outcome = posting_run.RUNNERS["invoice"](posting_run.Run(facts, mapping, qbo), row, False)
    assert isinstance(outcome, dict)
    return outcome


def test_a_void_waits_for_a_mirror_in_flight_then_voids_what_it_made(b: Books) -> None:
    invoice_id, row, facts, mapping = _mirror_begun(b)
    _void(b, str(invoice_id))
    with pytest.raises(posting_run.NotYet):  # the void: the mirror may be landing
        posting_run.sync_invoice(invoice_id)
    assert b.states(str(invoice_id)) == {"invoice": "pending", "void": "pending"}
    # The mirror's create lands and is recorded (the row was left open for it).
    outcome = _create(facts, mapping, row)
    assert posting_rows.posted(row, number=facts.number, realm_id=mapping.realm_id, **outcome)
    posting_run.sync_invoice(invoice_id)  # the void's retry
    assert b.states(str(invoice_id)) == {"invoice": "posted", "void": "posted"}
    assert b.one("Invoice")["PrivateNote"] == "Voided"


def test_a_void_finding_the_mirror_just_made_records_and_voids_it(b: Books) -> None:
    invoice_id, row, facts, mapping = _mirror_begun(b)
    outcome = _create(facts, mapping, row)  # QuickBooks made it; the row is not written yet
    _void(b, str(invoice_id))
    posting_run.sync_invoice(invoice_id)
    assert b.states(str(invoice_id)) == {"invoice": "posted", "void": "posted"}
    # The mirror's worker then records the same object: it lost, and nothing else happens.
    assert not posting_rows.posted(row, number=facts.number, realm_id=mapping.realm_id, **outcome)
    assert b.rows(str(invoice_id))["invoice"].qbo_id == outcome["qbo_id"]
    assert b.one("Invoice")["PrivateNote"] == "Voided"


def test_a_mirror_that_outlived_the_void_voids_the_invoice_it_made(
    b: Books, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = b.billing.sent_invoice()
    queue.get_huey().flush()
    invoice_id = uuid.UUID(sent["id"])
    real = posting_kinds.RUNNERS["invoice"]

    def slow_mirror(run: Any, row: posting_rows.Row, earlier: bool) -> Any:
        # While this attempt hangs (longer than an attempt can: the void no longer waits),
        # the invoice is voided here and the void runs.
        with b.db.session() as s:
            s.execute(
                update(QuickBooksPosting)
                .where(QuickBooksPosting.id == row.id)
                .values(last_attempt_at=utcnow() - timedelta(hours=1))
            )
            s.commit()
        _void(b, sent["id"])
        posting_run.sync_invoice(invoice_id)
        assert b.states(sent["id"]) == {"invoice": "skipped", "void": "skipped"}
        return real(run, row, earlier)

    monkeypatch.setitem(posting_kinds.RUNNERS, "invoice", slow_mirror)
    posting_run.sync_invoice(invoice_id)  # the mirror's run: its create lands after the void
    made = b.one("Invoice")
    assert made["PrivateNote"] == "Voided" and made["TotalAmt"] == 0
    mirror = b.rows(sent["id"])["invoice"]
    assert mirror.state == "skipped" and f"Invoice {made['Id']}" in (mirror.last_error or "")
