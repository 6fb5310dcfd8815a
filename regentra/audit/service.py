"""Audit log: append-only record of who did what to which object. Never holds secrets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from regentra.errors import Invalid
from regentra.kit.ids import new_id
from regentra.kit.pagination import Page, paginate
from regentra.kit.time import utcnow
from regentra.models import ActorType, AuditEvent, User

_SECRET_MARKERS = ("secret", "password", "token", "key")


@dataclass(frozen=True)
class Actor:
    """Who acted: a user, or one of the system actors."""

    type: ActorType
    user_id: uuid.UUID | None = None
    label: str = ""

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(type=ActorType.user, user_id=user.id, label=user.email)

    @classmethod
    def system(cls) -> Actor:
        return cls(type=ActorType.system, label="system")


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if any(marker in key.lower() for marker in _SECRET_MARKERS) and not key.endswith(
            ("_hint", "_configured", "_id")
        ):
            raise ValueError(f"audit details must not carry secrets (field {key!r})")
        clean[key] = value
    return clean


_AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]
_APPEND = insert(_AUDIT)  # built once: the webhook appends an entry for every payment


def record(
    session: Session,
    *,
    org_id: uuid.UUID,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an entry in the caller's transaction, written at once (one INSERT; what the
    session holds is flushed first, so what the entry names exists before it)."""
    clean = _scrub(details or {})
    session.flush()
    session.execute(
        _APPEND,
        {
            "id": new_id(),
            "org_id": org_id,
            "actor_type": actor.type.value,
            "actor_user_id": actor.user_id,
            "actor_label": actor.label,
            "action": action,
            "subject_type": subject_type,
            "subject_id": str(subject_id),
            "details": clean,
            "created_at": utcnow(),
        },
    )


# The dates the log can be filtered by: wide, and clear of the ends of Python's datetime (a
# bound near year 1 or 9999 would overflow once moved to UTC or a day on).
FIRST_YEAR, LAST_YEAR = 1900, 9998
OUT_OF_RANGE = "{label}: use a date between the years 1900 and 9998"


def check_year(year: int, label: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid(OUT_OF_RANGE.format(label=label))


def instant(value: datetime | None, *, tz: str, label: str) -> datetime | None:
    """A filter bound in UTC: one without a zone is read in the org's time zone `tz`."""
    if value is None:
        return None
    check_year(value.year, label)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.astimezone(UTC)


def list_events(
    session: Session,
    *,
    org_id: uuid.UUID,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor_user_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.org_id == org_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if subject_type:
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    if subject_id:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    if actor_user_id:
        stmt = stmt.where(AuditEvent.actor_user_id == actor_user_id)
    if since:
        stmt = stmt.where(AuditEvent.created_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.created_at < until)
    return paginate(session, stmt, AuditEvent.id, limit=limit, cursor=cursor)


def list_actions(session: Session, *, org_id: uuid.UUID) -> list[str]:
    stmt = select(AuditEvent.action).where(AuditEvent.org_id == org_id).distinct()
    return sorted(session.scalars(stmt).all())
