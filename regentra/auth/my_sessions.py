"""A user's own signed-in browser sessions: listed (the one asking marked) and revoked one by
one, from the tokens page or the API (`/api/v1/me/sessions`)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.auth import sessions
from regentra.errors import NotFound
from regentra.kit.time import utcnow
from regentra.models import User, WebSession


def list_for(session: Session, *, user: User) -> list[WebSession]:
    """The user's unexpired sessions, newest first."""
    stmt = (
        select(WebSession)
        .where(
            WebSession.org_id == user.org_id,
            WebSession.user_id == user.id,
            WebSession.expires_at > utcnow(),
        )
        .order_by(WebSession.created_at.desc(), WebSession.id.desc())
    )
    return list(session.scalars(stmt).all())


def current_id(session: Session, raw: str | None) -> uuid.UUID | None:
    """The id of the session a cookie holds (to mark "this browser")."""
    if not raw or len(raw) > 200:
        return None
    return session.scalar(
        select(WebSession.id).where(WebSession.token_hash == sessions._digest(raw))
    )


def revoke(session: Session, *, user: User, session_id: uuid.UUID) -> None:
    """End one of the user's own sessions; another user's is not found."""
    found = session.scalar(
        select(WebSession.id).where(
            WebSession.org_id == user.org_id,
            WebSession.user_id == user.id,
            WebSession.id == session_id,
        )
    )
    if found is None:
        raise NotFound("session not found")
    session.execute(delete(WebSession).where(WebSession.id == session_id))
    record(
        session,
        org_id=user.org_id,
        actor=Actor.of(user),
        action="web_session.revoked",
        subject_type="user",
        subject_id=user.id,
        details={"session_id": str(session_id)},
    )
