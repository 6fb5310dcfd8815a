"""Password reset links: an admin makes one for a user (there is no mail server, so the link
is shown to the admin once); the user sets a new password through it. Single use, valid for
`RESET_TTL`, stored only as a SHA-256; using it ends all of the user's sessions."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.auth.passwords import hash_password
from regentra.config import get_settings
from regentra.errors import Conflict, Invalid, NotFound
from regentra.kit.time import utcnow
from regentra.models import PasswordReset, User, WebSession

RESET_TTL = timedelta(minutes=30)
RESET_PATH = "/password-reset"
INVALID_LINK = "This password reset link is invalid, used or expired; ask an admin for a new one."


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def link_for(raw: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}{RESET_PATH}?{urlencode({'token': raw})}"


def issue(
    session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID, actor: Actor
) -> tuple[str, datetime]:
    """A new reset link for a user of the org (replacing any unused one): (link, expiry)."""
    user = session.scalar(select(User).where(User.org_id == org_id, User.id == user_id))
    if user is None:
        raise NotFound("user not found")
    if not user.is_active:
        raise Conflict(f"{user.email} is deactivated; reactivate them before resetting a password")
    session.execute(
        delete(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
        )
    )
    raw = secrets.token_urlsafe(32)
    expires_at = utcnow() + RESET_TTL
    session.add(
        PasswordReset(
            org_id=org_id, user_id=user.id, token_hash=_digest(raw), expires_at=expires_at
        )
    )
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="user.password_reset_issued",
        subject_type="user",
        subject_id=user.id,
        details={"email": user.email, "expires_at": expires_at.isoformat()},
    )
    session.flush()
    return link_for(raw), expires_at


def user_for(session: Session, raw: str | None) -> User | None:
    """The active user a still-valid link is for, else None."""
    if not raw or len(raw) > 200:
        return None
    row = session.execute(
        select(User)
        .join(PasswordReset, PasswordReset.user_id == User.id)
        .where(
            PasswordReset.token_hash == _digest(raw),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > utcnow(),
            User.is_active.is_(True),
        )
    ).first()
    return row[0] if row else None


def complete(session: Session, *, raw: str, password: str) -> User:
    """Set the new password through a link, once: the link is spent by a conditional update
    (two uses at once: one wins), and every session of the user ends."""
    user = user_for(session, raw)
    if user is None:
        raise Invalid(INVALID_LINK, code="invalid_reset_link")
    # The policy check comes before the link is spent.
    new_hash = hash_password(password, context=(user.email, user.name))
    now = utcnow()
    spent = session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == _digest(raw),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) != 1:
        raise Invalid(INVALID_LINK, code="invalid_reset_link")
    user.password_hash = new_hash
    ended = session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    record(
        session,
        org_id=user.org_id,
        actor=Actor.of(user),
        action="user.password_reset_completed",
        subject_type="user",
        subject_id=user.id,
        details={"sessions_ended": getattr(ended, "rowcount", 0)},
    )
    session.flush()
    return user
