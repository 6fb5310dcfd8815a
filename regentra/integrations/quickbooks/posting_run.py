"""Running an invoice's postings: `sync_invoice(invoice_id)`, the body of every QuickBooks
posting task.

From the invoice's status it makes the due rows (sent: the mirror; paid: the mirror if it was
never made, the credit memo when Stripe applied a credit balance, the payment, the fee; void:
the void), then runs them in `postings.ORDER`. Each step is a short transaction of its own;
none is open while QuickBooks or Stripe answers. A posting that is not posted or skipped
stops the ones after it (they wait for it).

Exactly once: every create carries `postings.request_id(row)` (QuickBooks replays the first
answer to a repeated id); a posting whose earlier attempt may have reached QuickBooks
(`attempts > 0`) first looks its object up by its stable reference (`DocNumber`, or
`PaymentRefNum` for the Payment) and adopts it; the outcome is recorded with one conditional
UPDATE (`posting_rows.posted`), so two workers end with one object and one `posted` row.

Errors: `QuickBooksRejected` → failed (QuickBooks' words, audited); `QuickBooksUnavailable` or
`StripeUnavailable` → stays pending (the task retries with back-off); `ReconnectNeeded`, no
connection or no mapping, Stripe not connected or its key refused → waiting (resumed by
`quickbooks.resume`, and by the hourly sweep).
"""

from __future__ import annotations

import uuid

import structlog

from regentra.db import session_scope
from regentra.errors import RegentraError
from regentra.integrations.quickbooks import connection, postings
from regentra.integrations.quickbooks import posting_rows as rows
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.integrations.quickbooks.errors import (
    QuickBooksNotConfigured,
    QuickBooksNotConnected,
    QuickBooksRejected,
    QuickBooksUnavailable,
    ReconnectNeeded,
)
from regentra.integrations.quickbooks.posting_context import NotYet, Run, StripeUnreadable
from regentra.integrations.quickbooks.posting_facts import HOME_UNKNOWN, Facts, due_kinds, load
from regentra.integrations.quickbooks.posting_kinds import RUNNERS, void_if_voided_meanwhile
from regentra.integrations.stripe.errors import StripeUnavailable
from regentra.models import PostingKind as K

__all__ = ["RUNNERS", "NotYet", "Run", "load", "sync_invoice"]

log = structlog.get_logger(__name__)


# ---- the run --------------------------------------------------------------------------------


def sync_invoice(invoice_id: uuid.UUID) -> dict[str, str]:
    """Make and run the invoice's due postings (see the module doc); their states after."""
    loaded = load(invoice_id)
    if loaded is None:
        return {}
    facts, mapping = loaded
    if mapping.why_not == HOME_UNKNOWN and _describe_company(facts.org_id):
        loaded = load(invoice_id)  # the company's currency, read just now
        if loaded is None:
            return {}
        facts, mapping = loaded
    due = due_kinds(facts)
    rows.ensure(facts.org_id, invoice_id, due, mapping.realm_id)
    if not mapping.ready:
        rows.wait(facts.org_id, invoice_id, mapping.why_not or "waiting")
        return _states(facts)
    try:
        with QuickBooks(facts.org_id) as qbo:
            if qbo.realm_id != mapping.realm_id:  # reconnected to another company just now
                raise NotYet("the QuickBooks connection changed company during the run")
            run = Run(facts, mapping, qbo)
            for kind in postings.ORDER:
                if kind.value in due and not _step(run, kind.value):
                    break
    except (ReconnectNeeded, QuickBooksNotConnected, QuickBooksNotConfigured) as exc:
        # Postings wait (they do not fail) until an admin reconnects or the operator sets
        # the server's QuickBooks keys again.
        rows.wait(facts.org_id, invoice_id, exc.message)
    return _states(facts)


def _describe_company(org_id: uuid.UUID) -> bool:
    """Read the company's name, home currency and multicurrency switch again (they could not
    be read when it was connected). False when QuickBooks cannot answer now (the postings
    wait; the task's retries and the hourly sweep try again)."""
    try:
        company = connection.read_company(org_id)  # no transaction open meanwhile
    except (
        QuickBooksUnavailable,
        QuickBooksRejected,
        ReconnectNeeded,
        QuickBooksNotConnected,
        QuickBooksNotConfigured,
    ) as exc:
        log.warning("quickbooks company details not read", org_id=str(org_id), error=exc.message)
        return False
    with session_scope() as session:
        conn = connection.find(session, org_id=org_id)
        if conn is None:
            return False
        connection.apply_company(conn, company)
    return True


def _states(facts: Facts) -> dict[str, str]:
    return {k: r.state for k, r in rows.read_all(facts.org_id, facts.invoice_id).items()}


def _step(run: Run, kind: str) -> bool:
    """Run one posting; True when it is done (posted or skipped) and the next may run."""
    row = rows.read_all(run.facts.org_id, run.facts.invoice_id).get(kind)
    if row is None:
        return False
    if row.done:
        run.posted[kind] = row
        return True
    if row.state == "failed":
        return False  # Retry first; the later postings wait for it
    earlier = row.attempts > 0  # an earlier attempt may have reached QuickBooks
    if not rows.begin(row, run.realm):
        return _step_done(run, kind)  # another worker got there
    number = run.facts.number
    try:
        outcome = RUNNERS[kind](run, row, earlier)
    except QuickBooksRejected as exc:
        rows.failed(row, exc.message, number=number, fault_code=exc.fault_code)
        log.warning("quickbooks posting failed", kind=kind, number=number, error=exc.message)
        return False
    except (QuickBooksUnavailable, StripeUnavailable) as exc:
        rows.note_error(row, exc.message)
        raise
    except NotYet as exc:
        rows.note_error(row, str(exc))
        raise
    except (ReconnectNeeded, QuickBooksNotConnected, QuickBooksNotConfigured):
        raise
    except StripeUnreadable as exc:
        rows.wait(run.facts.org_id, run.facts.invoice_id, exc.message)
        return False
    except RegentraError as exc:  # Stripe refused a read (e.g. a key without a permission)
        rows.failed(row, exc.message, number=number)
        return False
    if isinstance(outcome, str):
        rows.skipped(row, outcome)
    else:
        recorded = rows.posted(row, number=number, realm_id=run.realm, **outcome)
        if not recorded and kind == K.invoice.value:
            void_if_voided_meanwhile(run, outcome)
    return _step_done(run, kind)


def _step_done(run: Run, kind: str) -> bool:
    row = rows.read_all(run.facts.org_id, run.facts.invoice_id).get(kind)
    if row is not None and row.done:
        run.posted[kind] = row
        return True
    return False
