"""Postings: what Regentra puts in QuickBooks for each invoice, one state row per (invoice,
kind), each exactly once.

A posting's `request_id` is derived from (org, invoice, kind, generation) and is the same on
every attempt, so QuickBooks replays its first answer to a retry instead of creating a second
object, whatever crashed in between. `generation` moves on only when Retry follows a
validation failure (QuickBooks created nothing then, and would replay its refusal).

This module holds the rows' life (find, retry, counts); running a posting is in the
postings flow that the tasks call.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.errors import Conflict, NotFound
from regentra.models import PostingKind, PostingState, QuickBooksPosting

SYNC_TASK = "quickbooks.sync_invoice"
RESUME_TASK = "quickbooks.resume"
ORDER = (
    PostingKind.invoice,
    PostingKind.credit,
    PostingKind.payment,
    PostingKind.fee,
    PostingKind.void,
)


class Keyed(Protocol):
    """What a posting's `requestid` derives from (a row, or a snapshot of one)."""

    @property
    def org_id(self) -> uuid.UUID: ...
    @property
    def invoice_id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> str: ...
    @property
    def generation(self) -> int: ...


def stable_id(*parts: object) -> str:
    """A QuickBooks `requestid` derived from `parts` (the same parts, the same id): 40 hex
    characters of SHA-256 over "regentra:<part>:<part>…" (Intuit allows 50). The one place
    such ids are made (postings, customers, the mapping's vendor)."""
    basis = "regentra:" + ":".join(str(part) for part in parts)
    return hashlib.sha256(basis.encode()).hexdigest()[:40]


def request_id(posting: Keyed) -> str:
    """QuickBooks' `requestid` for this posting, the same on every attempt of one
    generation."""
    return stable_id(posting.org_id, posting.invoice_id, posting.kind, posting.generation)


def for_invoice(
    session: Session, *, org_id: uuid.UUID, invoice_id: uuid.UUID
) -> dict[str, QuickBooksPosting]:
    """The invoice's postings by kind."""
    rows = session.scalars(
        select(QuickBooksPosting).where(
            QuickBooksPosting.org_id == org_id, QuickBooksPosting.invoice_id == invoice_id
        )
    )
    return {row.kind: row for row in rows}


def summary(session: Session, *, org_id: uuid.UUID) -> dict[str, int]:
    """How many of the org's postings are in each state (every state, zeros included)."""
    counts = dict(
        session.execute(
            select(QuickBooksPosting.state, func.count())
            .where(QuickBooksPosting.org_id == org_id)
            .group_by(QuickBooksPosting.state)
        ).all()
    )
    return {state.value: int(counts.get(state.value, 0)) for state in PostingState}


def get(session: Session, *, org_id: uuid.UUID, posting_id: uuid.UUID) -> QuickBooksPosting:
    found = session.scalar(
        select(QuickBooksPosting).where(
            QuickBooksPosting.org_id == org_id, QuickBooksPosting.id == posting_id
        )
    )
    if found is None:
        raise NotFound("no such QuickBooks posting")
    return found


def retry(
    session: Session, *, org_id: uuid.UUID, posting_id: uuid.UUID, actor: Actor
) -> QuickBooksPosting:
    """Try a failed (or waiting) posting again: pending, with a new generation after a
    failure (a new `requestid`: QuickBooks would replay its refusal to the old one). 409 for
    a posting that is done."""
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
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="quickbooks.posting_retried",
        subject_type="invoice",
        subject_id=posting.invoice_id,
        details={"kind": posting.kind, "was": before, "last_error": posting.last_error},
    )
    session.flush()
    queue.enqueue(session, SYNC_TASK, str(posting.invoice_id))
    return posting


def describe(posting: QuickBooksPosting | None) -> dict[str, Any] | None:
    """A posting as the API and pages show it."""
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
    }
