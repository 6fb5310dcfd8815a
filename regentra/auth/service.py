"""Sign-in with throttling (auth/throttle.py): by default 10 failures per 15 minutes per
(account, client address), and 50 per account across all addresses."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.auth import throttle
from regentra.auth.passwords import verify_password
from regentra.kit.time import utcnow
from regentra.models import User


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None
    status: int = 200


def normalize_email(email: str) -> str:
    return email.strip().lower()


def login(session: Session, *, email: str, password: str, ip: str) -> LoginResult:
    """Check credentials. The attempt is counted first, in a transaction of its own
    (auth/throttle.py), so call this before `session` has begun a transaction; a failure stays
    counted, a success gives its count back in `session` (the caller commits)."""
    email = normalize_email(email)[:254]
    ip = ip[:64]
    refused = throttle.take(email=email, ip=ip)
    if refused is not None:
        minutes = refused.minutes
        return LoginResult(
            None,
            f"Too many failed sign-in attempts for this account. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            429,
        )
    user = session.scalar(select(User).where(User.email == email))
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
        return LoginResult(None, "Email or password is incorrect.", 401)
    throttle.release(session, email=email, ip=ip)
    now = utcnow()
    user.last_login_at = now
    record(
        session,
        org_id=user.org_id,
        actor=Actor.of(user),
        action="user.signed_in",
        subject_type="user",
        subject_id=user.id,
        details={"ip": ip},
    )
    return LoginResult(user)
