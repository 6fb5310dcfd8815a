"""The migrations build exactly the models' schema, on both databases, and the audit log
cannot be rewritten."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError

from regentra.models import AuditEvent, Base


def test_models_match_migrations(database: Any) -> None:
    engine = database.sessions.kw["bind"]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_audit_log_is_append_only(database: Any, make_org: Any) -> None:
    kit = make_org()
    with database.session() as s:
        event = s.query(AuditEvent).filter(AuditEvent.org_id == kit.org.id).first()
        assert event is not None
        event_id: uuid.UUID = event.id
    for stmt in (
        update(AuditEvent).where(AuditEvent.id == event_id).values(action="forged"),
        delete(AuditEvent).where(AuditEvent.id == event_id),
    ):
        with database.session() as s, pytest.raises(DatabaseError, match="append-only"):
            s.execute(stmt)
            s.commit()
