"""Browser sessions stored server-side: logout really ends them, on every process."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from regentra.config import get_settings
from regentra.kit.time import utcnow
from regentra.models import User, WebSession


def _digest(raw: str) -> str:
    key = get_settings().session_secret.encode()
    return hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()


def start(session: Session, *, user: User) -> str:
    raw = secrets.token_urlsafe(32)
    max_age = get_settings().session_max_age_seconds
    session.add(
        WebSession(
            org_id=user.org_id,
            user_id=user.id,
            token_hash=_digest(raw),
            expires_at=utcnow() + timedelta(seconds=max_age),
        )
    )
    # Opportunistic cleanup of this user's expired sessions.
    session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at < utcnow())
    )
    return raw


def user_for(session: Session, raw: str | None) -> User | None:
    if not raw or len(raw) > 200:
        return None
    row = session.execute(
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_hash == _digest(raw), WebSession.expires_at > utcnow())
    ).first()
    if row is None:
        return None
    user = row[0]
    return user if user.is_active else None


def end(session: Session, raw: str | None) -> None:
    if raw:
        session.execute(delete(WebSession).where(WebSession.token_hash == _digest(raw)))
