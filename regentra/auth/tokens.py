"""Personal access tokens: random, shown once, stored as SHA-256, sent as Bearer."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.kit.time import utcnow
from regentra.models import ApiToken, User

TOKEN_PREFIX = "rgt_"  # noqa: S105 (a prefix, not a secret)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(session: Session, *, user: User, name: str = "") -> tuple[ApiToken, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        org_id=user.org_id,
        user_id=user.id,
        name=name[:100],
        token_hash=_digest(raw),
        prefix=raw[:10],
    )
    session.add(token)
    session.flush()
    return token, raw


def authenticate(session: Session, raw: str) -> User | None:
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(raw), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    token, user = row.tuple()
    if not user.is_active:
        return None
    now = utcnow()
    # Record use at most once a minute: a read request should not always write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return user


def revoke(session: Session, *, org_id: uuid.UUID, token_id: uuid.UUID) -> bool:
    token = session.scalar(
        select(ApiToken).where(ApiToken.org_id == org_id, ApiToken.id == token_id)
    )
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    return True
