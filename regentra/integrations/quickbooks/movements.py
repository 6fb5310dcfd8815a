"""Movement postings: what Regentra puts in QuickBooks when a paid invoice's money moves in
Stripe (a refund, a dispute and its reinstatement, a payout and its return), one state row
per (subject, kind), each exactly once, so that the mapped Stripe clearing account follows
the Stripe balance.

The Stripe side fills `refunds`, `disputes` and `payouts` and enqueues
`quickbooks.sync_movement(subject, subject_id)` (subject: refund, dispute or payout) whenever
something may be due; `movement_run.sync_movement` decides what is due from the row and
posts it. A posting's `requestid` is `postings.stable_id(org, subject, kind, generation)`,
the same on every attempt; `generation` moves on only when Retry follows a failure.

This module holds the rows' life for the pages and the API: `for_subjects`, `describe`,
`summary`, `recent_failures`, `get`, `retry`.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.errors import Conflict, NotFound
from regentra.integrations.quickbooks import postings
from regentra.models import MovementKind, PostingState, QuickBooksMovementPosting

SYNC_TASK = "quickbooks.sync_movement"
SUBJECTS = ("refund", "dispute", "payout")
# The order a subject's postings run in (a reinstatement after its dispute, a payout's
# return after the payout).
ORDER = (
    MovementKind.refund,
    MovementKind.refund_return,
    MovementKind.dispute,
    MovementKind.reinstatement,
    MovementKind.payout,
    MovementKind.payout_return,
)
SUBJECT_OF = {
    MovementKind.refund.value: "refund",
    MovementKind.refund_return.value: "refund",
    MovementKind.dispute.value: "dispute",
    MovementKind.reinstatement.value: "dispute",
    MovementKind.payout.value: "payout",
    MovementKind.payout_return.value: "payout",
}


class Keyed(Protocol):
    @property
    def org_id(self) -> uuid.UUID: ...
    @property
    def subject_id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> str: ...
    @property
    def generation(self) -> int: ...


def request_id(posting: Keyed, part: str | None = None) -> str:
    """QuickBooks' `requestid` for this posting (or for its second object, `part`), the same
    on every attempt of one generation."""
    kind = posting.kind if part is None else f"{posting.kind}:{part}"
    return postings.stable_id(posting.org_id, posting.subject_id, kind, posting.generation)


def for_subjects(
    session: Session, *, org_id: uuid.UUID, subject_ids: list[uuid.UUID] | set[uuid.UUID]
) -> dict[uuid.UUID, dict[str, QuickBooksMovementPosting]]:
    """The postings of each refund, dispute or payout (by its id), by kind. Subjects with no
    posting are absent."""
    out: dict[uuid.UUID, dict[str, QuickBooksMovementPosting]] = {}
    ids = list(subject_ids)
    if not ids:
        return out
    rows = session.scalars(
        select(QuickBooksMovementPosting).where(
            QuickBooksMovementPosting.org_id == org_id,
            QuickBooksMovementPosting.subject_id.in_(ids),
        )
    )
    for row in rows:
        out.setdefault(row.subject_id, {})[row.kind] = row
    return out


def summary(session: Session, *, org_id: uuid.UUID) -> dict[str, int]:
    """How many of the org's movement postings are in each state (zeros included)."""
    counts = dict(
        session.execute(
            select(QuickBooksMovementPosting.state, func.count())
            .where(QuickBooksMovementPosting.org_id == org_id)
            .group_by(QuickBooksMovementPosting.state)
        ).all()
    )
    return {state.value: int(counts.get(state.value, 0)) for state in PostingState}


def recent_failures(
    session: Session, *, org_id: uuid.UUID, limit: int = 10
) -> list[QuickBooksMovementPosting]:
    """The org's failed movement postings, most recently changed first."""
    return list(
        session.scalars(
            select(QuickBooksMovementPosting)
            .where(
                QuickBooksMovementPosting.org_id == org_id,
                QuickBooksMovementPosting.state == PostingState.failed.value,
            )
            .order_by(
                QuickBooksMovementPosting.updated_at.desc(), QuickBooksMovementPosting.id.desc()
            )
            .limit(limit)
        )
    )


def get(session: Session, *, org_id: uuid.UUID, posting_id: uuid.UUID) -> QuickBooksMovementPosting:
    found = session.scalar(
        select(QuickBooksMovementPosting).where(
            QuickBooksMovementPosting.org_id == org_id, QuickBooksMovementPosting.id == posting_id
        )
    )
    if found is None:
        raise NotFound("no such QuickBooks posting")
    return found


def retry(
    session: Session, *, org_id: uuid.UUID, posting_id: uuid.UUID, actor: Actor
) -> QuickBooksMovementPosting:
    """Try a failed (or waiting) movement posting again: pending, with a new generation after
    a failure (QuickBooks would replay its refusal to the old `requestid`), audited, and its
    subject synced. 409 for a posting that is done."""
    posting = get(session, org_id=org_id, posting_id=posting_id)
    if posting.state in (PostingState.posted.value, PostingState.skipped.value):
        raise Conflict(
            f"this QuickBooks posting is already {posting.state}: there is nothing to retry",
            code="posting_done",
        )
    before = posting.state
    if posting.state == PostingState.failed.value:
        posting.generation += 1
    posting.state = PostingState.pending.value
    subject = SUBJECT_OF[posting.kind]
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="quickbooks.posting_retried",
        subject_type=subject,
        subject_id=posting.subject_id,
        details={"kind": posting.kind, "was": before, "last_error": posting.last_error},
    )
    session.flush()
    queue.enqueue(session, SYNC_TASK, subject, str(posting.subject_id))
    return posting


def describe(posting: QuickBooksMovementPosting | None) -> dict[str, Any] | None:
    """A movement posting as the API and pages show it (the shape of `postings.describe`,
    plus the subject)."""
    if posting is None:
        return None
    return {
        "id": str(posting.id),
        "kind": posting.kind,
        "state": posting.state,
        "quickbooks_id": posting.qbo_id,
        "quickbooks_type": posting.qbo_type,
        "amount": posting.amount,
        "currency": posting.currency,
        "attempts": posting.attempts,
        "error": posting.last_error,
        "posted_at": posting.posted_at.isoformat() if posting.posted_at else None,
        "updated_at": posting.updated_at.isoformat() if posting.updated_at else None,
        "subject": SUBJECT_OF.get(posting.kind),
        "subject_id": str(posting.subject_id),
        "invoice_id": str(posting.invoice_id) if posting.invoice_id else None,
    }
