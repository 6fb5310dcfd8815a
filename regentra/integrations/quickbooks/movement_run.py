"""Running a refund's, dispute's or payout's postings: `sync_movement(subject, subject_id)`,
the body of the `quickbooks.sync_movement` task.

From the row it decides what is due (a refund pending, requiring action or succeeded whose
balance transaction is known: `refund`; a dispute's withdrawal: `dispute`, and when won
`reinstatement`; a payout not canceled: `payout`, and when it failed `payout_return`, as
when it was canceled after its Transfer was posted; a refund that failed after its
RefundReceipt was posted (or begun), or was canceled then: `refund_return`, the money back
into the clearing account), makes
the rows (insert-if-absent, whether or not QuickBooks is connected: without a connection or
a mapping they wait), closes open rows that are no longer due (a refund that failed, a payout
canceled) as skipped, then runs them in `movements.ORDER`, one short transaction per step,
none open while QuickBooks answers. A posting that is not done stops the ones after it.

Exactly once, as for the invoice postings (`posting_run`): every create carries
`movements.request_id(row)`; a posting whose earlier attempt may have reached QuickBooks
(`attempts > 0`) first looks its object up by its memo's reference and adopts it; the outcome
is recorded with one conditional UPDATE. Errors: `QuickBooksRejected` → failed (audited);
`QuickBooksUnavailable` → stays pending (the task retries); reconnect needed, not connected,
no mapping → waiting (resumed by `quickbooks.resume` and the hourly sweep).
"""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from regentra.db import session_scope
from regentra.integrations.quickbooks import movement_rows as rows
from regentra.integrations.quickbooks import movements, posting_facts
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.integrations.quickbooks.errors import (
    QuickBooksNotConfigured,
    QuickBooksNotConnected,
    QuickBooksRejected,
    QuickBooksUnavailable,
    ReconnectNeeded,
)
from regentra.integrations.quickbooks.movement_kinds import (
    RUNNERS,
    MoveRun,
    NotMappedYet,
    Subject,
)
from regentra.integrations.quickbooks.posting_context import NotYet
from regentra.integrations.quickbooks.posting_facts import HOME_UNKNOWN
from regentra.integrations.quickbooks.posting_run import _describe_company
from regentra.models import (
    REFUND_COUNTED,
    Dispute,
    Invoice,
    MovementKind,
    Org,
    Payout,
    Refund,
)

log = structlog.get_logger(__name__)
K = MovementKind
NOT_CONNECTED = "waiting for QuickBooks to be connected (Settings → Integrations → QuickBooks)"
# A refund in these states gave its money back to the Stripe balance (Stripe: a failed or a
# canceled refund has a `failure_balance_transaction` reversing the first).
REFUND_RETURNED = ("failed", "canceled")
NO_LONGER_DUE = {
    "refund": "not posted: the refund did not take money out of Stripe (it is {status})",
    "dispute": "not posted: nothing was withdrawn for the dispute",
    "payout": "not posted: the payout was {status}",
}


def load(subject: str, subject_id: uuid.UUID) -> Subject | None:
    """The refund, dispute or payout (None: no such row)."""
    if subject not in movements.SUBJECTS:
        raise ValueError(f"unknown movement subject {subject!r}")
    with session_scope() as session:
        row: Refund | Dispute | Payout | None
        if subject == "refund":
            row = session.get(Refund, subject_id)
        elif subject == "dispute":
            row = session.get(Dispute, subject_id)
        else:
            row = session.get(Payout, subject_id)
        if row is None:
            return None
        org = session.get(Org, row.org_id)
        base: dict[str, Any] = {
            "org_id": row.org_id,
            "subject": subject,
            "subject_id": row.id,
            "tz": ZoneInfo(org.timezone if org else "UTC"),
            "status": row.status,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
        if isinstance(row, Payout):
            return Subject(
                **base,
                stripe_id=row.stripe_payout_id,
                amount=row.amount,
                currency=row.currency.upper(),
                arrival_date=row.arrival_date,
                failed_at=row.failed_at,
                automatic=row.automatic,
            )
        invoice = session.get(Invoice, row.invoice_id)
        common: dict[str, Any] = {
            **base,
            "invoice_id": row.invoice_id,
            "invoice_number": invoice.number if invoice else None,
            "amount": row.amount,
            "currency": row.currency.upper(),
            "settlement_currency": (row.settlement_currency or "").upper() or None,
        }
        if isinstance(row, Refund):
            return Subject(
                **common,
                stripe_id=row.stripe_refund_id or str(row.id),
                settled_amount=row.settled_amount,
                settled_fee=row.settled_fee,
                refunded_at=row.refunded_at,
            )
        return Subject(
            **common,
            stripe_id=row.stripe_dispute_id,
            withdrawn=row.withdrawn,
            withdrawal_fee=row.withdrawal_fee,
            withdrawn_at=row.withdrawn_at,
            reinstated=row.reinstated,
            reinstated_at=row.reinstated_at,
        )


def due_kinds(s: Subject) -> list[str]:
    """The postings the row calls for, in order."""
    if s.subject == "refund":
        counted = s.status in REFUND_COUNTED and s.settled_amount is not None
        return [K.refund.value] if counted else []
    if s.subject == "dispute":
        kinds = [K.dispute.value] if s.withdrawn is not None else []
        return kinds + ([K.reinstatement.value] if s.reinstated is not None else [])
    if s.status == "canceled":
        return []
    return [K.payout.value] + ([K.payout_return.value] if s.failed_at is not None else [])


def sync_movement(subject: str, subject_id: uuid.UUID) -> dict[str, str]:
    """Make and run the subject's due postings (see the module doc); their states after."""
    s = load(subject, subject_id)
    if s is None:
        return {}
    mapping = posting_facts.load_mapping(s.org_id)
    if mapping is not None and mapping.why_not == HOME_UNKNOWN and _describe_company(s.org_id):
        mapping = posting_facts.load_mapping(s.org_id)
    due = due_kinds(s)
    made = rows.read_all(s.org_id, subject, s.subject_id)

    def reached(kind: str) -> bool:
        """Posted, or begun (an attempt may have made its object): it runs to its end (the
        object adopted) even when no longer due, and its money then comes back."""
        row = made.get(kind)
        return row is not None and (row.state == "posted" or (not row.done and row.attempts > 0))

    if subject == "payout" and s.status == "canceled" and reached(K.payout.value):
        due = [K.payout.value, K.payout_return.value]  # Stripe returned the funds
    if subject == "refund" and s.status in REFUND_RETURNED and reached(K.refund.value):
        due = [K.refund.value, K.refund_return.value]  # the money came back to Stripe
    rows.ensure(s.org_id, s.subject_id, s.invoice_id, due, mapping.realm_id if mapping else None)
    for kind, row in rows.read_all(s.org_id, subject, s.subject_id).items():
        if kind not in due and not row.done and row.state != "failed":
            rows.skipped(row, NO_LONGER_DUE[subject].format(status=s.status))
    if mapping is None or not mapping.ready:
        why = NOT_CONNECTED if mapping is None else (mapping.why_not or "waiting")
        rows.wait(s.org_id, s.subject_id, why)
        return _states(s)
    invoice = None
    if subject == "refund" and s.invoice_id is not None:
        loaded = posting_facts.load(s.invoice_id)
        invoice = loaded[0] if loaded else None
    try:
        with QuickBooks(s.org_id) as qbo:
            if qbo.realm_id != mapping.realm_id:
                raise NotYet("the QuickBooks connection changed company during the run")
            run = MoveRun(s, mapping, qbo, invoice)
            for kind in movements.ORDER:
                if kind.value in due and not _step(run, kind.value):
                    break
    except (ReconnectNeeded, QuickBooksNotConnected, QuickBooksNotConfigured) as exc:
        rows.wait(s.org_id, s.subject_id, exc.message)
    return _states(s)


def _states(s: Subject) -> dict[str, str]:
    return {k: r.state for k, r in rows.read_all(s.org_id, s.subject, s.subject_id).items()}


def _step(run: MoveRun, kind: str) -> bool:
    """Run one posting; True when it is done (posted or skipped) and the next may run."""
    s = run.subject
    row = rows.read_all(s.org_id, s.subject, s.subject_id).get(kind)
    if row is None or row.state == "failed":
        return False  # Retry first; the later postings wait for it
    if row.done:
        run.posted[kind] = row
        return True
    earlier = row.attempts > 0  # an earlier attempt may have reached QuickBooks
    if not rows.begin(row, run.realm):
        return _step_done(run, kind)
    try:
        if kind == K.refund.value and run.invoice is None:
            raise QuickBooksRejected("the refunded invoice is not in Regentra any more")
        outcome = RUNNERS[kind](run, row, earlier)
    except QuickBooksRejected as exc:
        rows.failed(row, exc.message, reference=s.stripe_id, fault_code=exc.fault_code)
        log.warning(
            "quickbooks movement failed", kind=kind, stripe_id=s.stripe_id, error=exc.message
        )
        return False
    except NotMappedYet as exc:
        rows.wait(s.org_id, s.subject_id, exc.message)
        return False
    except (QuickBooksUnavailable, NotYet) as exc:
        rows.note_error(row, str(getattr(exc, "message", exc)))
        raise
    if isinstance(outcome, str):
        rows.skipped(row, outcome)
    else:
        rows.posted(row, reference=s.stripe_id, realm_id=run.realm, **outcome)
    return _step_done(run, kind)


def _step_done(run: MoveRun, kind: str) -> bool:
    s = run.subject
    row = rows.read_all(s.org_id, s.subject, s.subject_id).get(kind)
    if row is not None and row.done:
        run.posted[kind] = row
        return True
    return False
