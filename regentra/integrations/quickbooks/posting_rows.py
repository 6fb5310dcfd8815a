"""The posting rows' writes during a run, each in its own short transaction, each a
conditional UPDATE so that two workers running the same posting at once agree: only a row
still `pending`/`waiting` in the same `generation` moves, and only the mover audits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from regentra.audit.service import Actor, record
from regentra.db import session_scope
from regentra.kit.ids import new_id
from regentra.kit.time import utcnow
from regentra.models import PostingState, QuickBooksPosting

OPEN_STATES = (PostingState.pending.value, PostingState.waiting.value)
DONE_STATES = (PostingState.posted.value, PostingState.skipped.value)


@dataclass(frozen=True)
class Row:
    """A posting as read at one moment (no session attached)."""

    id: uuid.UUID
    org_id: uuid.UUID
    invoice_id: uuid.UUID
    kind: str
    state: str
    generation: int
    attempts: int
    qbo_id: str | None
    qbo_sync_token: str | None
    amount: int | None
    realm_id: str | None = None  # the company it was posted (or last attempted) in
    last_attempt_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, p: QuickBooksPosting) -> Row:
        return cls(
            id=p.id,
            org_id=p.org_id,
            invoice_id=p.invoice_id,
            kind=p.kind,
            state=p.state,
            generation=p.generation,
            attempts=p.attempts,
            qbo_id=p.qbo_id,
            qbo_sync_token=p.qbo_sync_token,
            amount=p.amount,
            realm_id=p.realm_id,
            last_attempt_at=p.last_attempt_at,
            details=dict(p.details or {}),
        )

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES


def ensure(org_id: uuid.UUID, invoice_id: uuid.UUID, kinds: list[str], realm_id: str) -> None:
    """Make the invoice's posting rows of `kinds` that do not exist yet (race-safe)."""
    if not kinds:
        return
    with session_scope() as session:
        dialect = session.get_bind().dialect.name
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        now = utcnow()
        for kind in kinds:
            session.execute(
                make(QuickBooksPosting)
                .values(
                    id=new_id(),
                    org_id=org_id,
                    invoice_id=invoice_id,
                    kind=kind,
                    state=PostingState.pending.value,
                    realm_id=realm_id,
                    generation=0,
                    attempts=0,
                    details={},
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["org_id", "invoice_id", "kind"])
            )


def read_all(org_id: uuid.UUID, invoice_id: uuid.UUID) -> dict[str, Row]:
    with session_scope() as session:
        rows = session.scalars(
            select(QuickBooksPosting)
            .where(QuickBooksPosting.org_id == org_id, QuickBooksPosting.invoice_id == invoice_id)
            .execution_options(populate_existing=True)
        )
        return {r.kind: Row.of(r) for r in rows}


def _where(row: Row) -> list[Any]:
    return [
        QuickBooksPosting.id == row.id,
        QuickBooksPosting.org_id == row.org_id,
        QuickBooksPosting.state.in_(OPEN_STATES),
        QuickBooksPosting.generation == row.generation,
    ]


def _move(
    row: Row,
    values: dict[str, Any],
    *,
    where: list[Any] | None = None,
    audit: tuple[str, dict[str, Any]] | None = None,
) -> bool:
    """One conditional UPDATE of the row (open, same generation, unless `where` says
    otherwise) in its own short transaction, audited as `audit` (action, details) when it
    moved. False when another worker moved it first."""
    with session_scope() as session:
        moved = (
            session.execute(
                update(QuickBooksPosting)
                .where(*(where or _where(row)))
                .values(**values, updated_at=utcnow())
                .returning(QuickBooksPosting.id)
                .execution_options(synchronize_session=False)
            ).first()
            is not None
        )
        if moved and audit is not None:
            action, details = audit
            record(
                session,
                org_id=row.org_id,
                actor=Actor.system(),
                action=action,
                subject_type="invoice",
                subject_id=row.invoice_id,
                details={"kind": row.kind, **details},
            )
    return moved


def begin(row: Row, realm_id: str) -> bool:
    """Count an attempt in company `realm_id` (before QuickBooks is called, so a crash still
    counts, and the row says which company the attempt may have reached). False when the row
    is no longer open in this generation (another worker finished it)."""
    return _move(
        row,
        {
            "attempts": QuickBooksPosting.attempts + 1,
            "last_attempt_at": utcnow(),
            "state": PostingState.pending.value,
            "realm_id": realm_id,
        },
    )


def posted(
    row: Row,
    *,
    number: str,
    realm_id: str,
    qbo_id: str,
    sync_token: str | None,
    qbo_type: str,
    amount: int | None,
    currency: str | None,
    details: dict[str, Any],
) -> bool:
    """The object exists in company `realm_id`: record it. False when another worker did
    first (or a void closed the row meanwhile)."""
    return _move(
        row,
        {
            "state": PostingState.posted.value,
            "realm_id": realm_id,
            "qbo_id": qbo_id,
            "qbo_sync_token": sync_token,
            "qbo_type": qbo_type,
            "amount": amount,
            "currency": currency,
            "details": details,
            "last_error": None,
            "posted_at": utcnow(),
        },
        audit=(
            "quickbooks.posted",
            {"number": number, "type": qbo_type, "id": qbo_id, "realm_id": realm_id},
        ),
    )


def skipped(
    row: Row, reason: str, details: dict[str, Any] | None = None, *, was_failed: bool = False
) -> bool:
    """Nothing to post, and why. `was_failed`: a failed row may be closed this way too (the
    invoice it mirrors was voided)."""
    where = _where(row)
    if was_failed:
        where[2] = QuickBooksPosting.state.in_((*OPEN_STATES, PostingState.failed.value))
    return _move(
        row,
        {
            "state": PostingState.skipped.value,
            "last_error": reason[:1000],
            "details": details if details is not None else row.details,
        },
        where=where,
    )


def failed(row: Row, message: str, *, number: str, fault_code: str | None = None) -> bool:
    return _move(
        row,
        {"state": PostingState.failed.value, "last_error": message[:1000]},
        audit=(
            "quickbooks.posting_failed",
            {
                "number": number,
                "message": message[:500],
                **({"fault_code": fault_code} if fault_code else {}),
            },
        ),
    )


def note_closed(row: Row, message: str, *, qbo_id: str, realm_id: str) -> None:
    """Say on a closed (skipped) row what happened to it after all (e.g. the Invoice an
    attempt made after a void closed the row, voided in QuickBooks)."""
    values = {"last_error": message[:1000], "details": {**row.details, "voided": qbo_id}}
    _move(
        row,
        {**values, "realm_id": realm_id},
        where=[QuickBooksPosting.id == row.id, QuickBooksPosting.org_id == row.org_id],
    )


def note_error(row: Row, message: str) -> None:
    """A transient failure: the row stays pending, with the error shown."""
    with session_scope() as session:
        session.execute(
            update(QuickBooksPosting)
            .where(*_where(row))
            .values(last_error=message[:1000], updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def wait(org_id: uuid.UUID, invoice_id: uuid.UUID, reason: str) -> None:
    """Every open posting of the invoice waits (reconnect needed, no mapping, …)."""
    with session_scope() as session:
        session.execute(
            update(QuickBooksPosting)
            .where(
                QuickBooksPosting.org_id == org_id,
                QuickBooksPosting.invoice_id == invoice_id,
                QuickBooksPosting.state.in_(OPEN_STATES),
            )
            .values(state=PostingState.waiting.value, last_error=reason[:1000], updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
