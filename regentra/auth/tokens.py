"""Personal access tokens: random, shown once, stored as SHA-256, sent as Bearer."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.errors import Invalid, NotFound
from regentra.kit.time import utcnow
from regentra.models import ApiToken, User

TOKEN_PREFIX = "rgt_"  # noqa: S105 (a prefix, not a secret)
MAX_EXPIRY_DAYS = 3660


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    user: User,
    name: str = "",
    actor: Actor | None = None,
    expires_in_days: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user`; the raw value is returned once and never stored. It expires
    after `expires_in_days` when given (default: never)."""
    name = name.strip()[:100]
    expires_at = None
    if expires_in_days is not None:
        if isinstance(expires_in_days, bool) or not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise Invalid(f"a token expires after 1 to {MAX_EXPIRY_DAYS} days, or never")
        expires_at = utcnow() + timedelta(days=expires_in_days)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        org_id=user.org_id,
        user_id=user.id,
        name=name,
        token_hash=_digest(raw),
        prefix=raw[:10],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    record(
        session,
        org_id=user.org_id,
        actor=actor or Actor.of(user),
        action="api_token.created",
        subject_type="user",
        subject_id=user.id,
        details={
            "name": name,
            "prefix": token.prefix,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, raw


def authenticate(session: Session, raw: str) -> User | None:
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    now = utcnow()
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_hash == _digest(raw),
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
    ).first()
    if row is None:
        return None
    token, user = row
    if not user.is_active:
        return None
    # Record use at most once a minute: a read request should not always write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return user


def list_for(session: Session, *, user: User) -> list[ApiToken]:
    """The user's own tokens, newest first (revoked ones included, marked)."""
    stmt = (
        select(ApiToken)
        .where(ApiToken.org_id == user.org_id, ApiToken.user_id == user.id)
        .order_by(ApiToken.id.desc())
    )
    return list(session.scalars(stmt).all())


def revoke(session: Session, *, user: User, token_id: uuid.UUID) -> ApiToken:
    """Revoke one of the user's own tokens; another user's token is not found."""
    token = session.scalar(
        select(ApiToken).where(
            ApiToken.org_id == user.org_id,
            ApiToken.user_id == user.id,
            ApiToken.id == token_id,
        )
    )
    if token is None:
        raise NotFound("token not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(
            session,
            org_id=user.org_id,
            actor=Actor.of(user),
            action="api_token.revoked",
            subject_type="user",
            subject_id=user.id,
            details={"name": token.name, "prefix": token.prefix},
        )
    return token
