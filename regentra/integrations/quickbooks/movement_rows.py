"""The movement posting rows' writes during a run (refunds, disputes, payouts), as
`posting_rows` does them for an invoice's: each in its own short transaction, each a
conditional UPDATE, so two workers running the same posting agree (only a row still
`pending`/`waiting` in the same `generation` moves, and only the mover audits).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from regentra.audit.service import Actor, record
from regentra.db import session_scope
from regentra.integrations.quickbooks.posting_rows import DONE_STATES, OPEN_STATES
from regentra.kit.ids import new_id
from regentra.kit.time import utcnow
from regentra.models import PostingState, QuickBooksMovementPosting

M = QuickBooksMovementPosting


@dataclass(frozen=True)
class Row:
    """A movement posting as read at one moment (no session attached)."""

    id: uuid.UUID
    org_id: uuid.UUID
    subject: str  # refund, dispute or payout (the audit's subject type)
    subject_id: uuid.UUID
    kind: str
    state: str
    generation: int
    attempts: int
    qbo_id: str | None
    amount: int | None
    realm_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, p: QuickBooksMovementPosting, subject: str) -> Row:
        return cls(
            id=p.id,
            org_id=p.org_id,
            subject=subject,
            subject_id=p.subject_id,
            kind=p.kind,
            state=p.state,
            generation=p.generation,
            attempts=p.attempts,
            qbo_id=p.qbo_id,
            amount=p.amount,
            realm_id=p.realm_id,
            details=dict(p.details or {}),
        )

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES


def ensure(
    org_id: uuid.UUID,
    subject_id: uuid.UUID,
    invoice_id: uuid.UUID | None,
    kinds: list[str],
    realm_id: str | None,
) -> None:
    """Make the subject's posting rows of `kinds` that do not exist yet (race-safe: an insert
    that does nothing on the unique (org, subject, kind))."""
    if not kinds:
        return
    with session_scope() as session:
        dialect = session.get_bind().dialect.name
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        now = utcnow()
        for kind in kinds:
            session.execute(
                make(M)
                .values(
                    id=new_id(),
                    org_id=org_id,
                    subject_id=subject_id,
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
                .on_conflict_do_nothing(index_elements=["org_id", "subject_id", "kind"])
            )


def read_all(org_id: uuid.UUID, subject: str, subject_id: uuid.UUID) -> dict[str, Row]:
    with session_scope() as session:
        rows = session.scalars(
            select(M)
            .where(M.org_id == org_id, M.subject_id == subject_id)
            .execution_options(populate_existing=True)
        )
        return {r.kind: Row.of(r, subject) for r in rows}


def _where(row: Row) -> list[Any]:
    return [
        M.id == row.id,
        M.org_id == row.org_id,
        M.state.in_(OPEN_STATES),
        M.generation == row.generation,
    ]


def _move(
    row: Row, values: dict[str, Any], *, audit: tuple[str, dict[str, Any]] | None = None
) -> bool:
    """One conditional UPDATE (open, same generation) in its own short transaction, audited
    as `audit` when it moved. False when another worker moved the row first."""
    with session_scope() as session:
        moved = (
            session.execute(
                update(M)
                .where(*_where(row))
                .values(**values, updated_at=utcnow())
                .returning(M.id)
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
                subject_type=row.subject,
                subject_id=row.subject_id,
                details={"kind": row.kind, **details},
            )
    return moved


def begin(row: Row, realm_id: str) -> bool:
    """Count an attempt in company `realm_id` before QuickBooks is called (a crash still
    counts). False when another worker finished the row."""
    return _move(
        row,
        {
            "attempts": M.attempts + 1,
            "last_attempt_at": utcnow(),
            "state": PostingState.pending.value,
            "realm_id": realm_id,
        },
    )


def posted(
    row: Row,
    *,
    reference: str,
    realm_id: str,
    qbo_id: str,
    sync_token: str | None,
    qbo_type: str,
    amount: int | None,
    currency: str | None,
    details: dict[str, Any],
) -> bool:
    """The object exists in company `realm_id`: record it (False: another worker did)."""
    del sync_token  # movement objects are never changed afterwards
    return _move(
        row,
        {
            "state": PostingState.posted.value,
            "realm_id": realm_id,
            "qbo_id": qbo_id,
            "qbo_type": qbo_type,
            "amount": amount,
            "currency": currency,
            "details": details,
            "last_error": None,
            "posted_at": utcnow(),
        },
        audit=(
            "quickbooks.posted",
            {"reference": reference, "type": qbo_type, "id": qbo_id, "realm_id": realm_id},
        ),
    )


def skipped(row: Row, reason: str) -> bool:
    return _move(row, {"state": PostingState.skipped.value, "last_error": reason[:1000]})


def failed(row: Row, message: str, *, reference: str, fault_code: str | None = None) -> bool:
    return _move(
        row,
        {"state": PostingState.failed.value, "last_error": message[:1000]},
        audit=(
            "quickbooks.posting_failed",
            {
                "reference": reference,
                "message": message[:500],
                **({"fault_code": fault_code} if fault_code else {}),
            },
        ),
    )


def note_error(row: Row, message: str) -> None:
    """A transient failure: the row stays pending, with the error shown."""
    with session_scope() as session:
        session.execute(
            update(M)
            .where(*_where(row))
            .values(last_error=message[:1000], updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def wait(org_id: uuid.UUID, subject_id: uuid.UUID, reason: str) -> None:
    """Every open posting of the subject waits (no connection, no mapping, reconnect)."""
    with session_scope() as session:
        session.execute(
            update(M)
            .where(M.org_id == org_id, M.subject_id == subject_id, M.state.in_(OPEN_STATES))
            .values(state=PostingState.waiting.value, last_error=reason[:1000], updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
