"""Sign-in with throttling: 10 failures per 15 minutes per (account, IP) by default."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.auth.passwords import verify_password
from regentra.config import get_settings
from regentra.kit.time import utcnow
from regentra.models import LoginFailure, User


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None
    status: int = 200


def normalize_email(email: str) -> str:
    return email.strip().lower()


def login(session: Session, *, email: str, password: str, ip: str) -> LoginResult:
    """Check credentials. Failures are recorded in `session`: the caller commits either way."""
    settings = get_settings()
    email = normalize_email(email)[:254]
    now = utcnow()
    window_start = now - timedelta(seconds=settings.login_window_seconds)
    recent = select(LoginFailure).where(
        LoginFailure.email == email, LoginFailure.ip == ip, LoginFailure.created_at >= window_start
    )
    failures = session.scalar(select(func.count()).select_from(recent.subquery())) or 0
    if failures >= settings.login_max_failures:
        oldest = session.scalar(
            select(func.min(LoginFailure.created_at)).where(
                LoginFailure.email == email,
                LoginFailure.ip == ip,
                LoginFailure.created_at >= window_start,
            )
        )
        wait = settings.login_window_seconds
        if oldest is not None:
            wait = max(1, int((oldest - window_start).total_seconds()))
        minutes = max(1, math.ceil(wait / 60))
        return LoginResult(
            None,
            f"Too many failed sign-in attempts for this account. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            429,
        )
    user = session.scalar(select(User).where(User.email == email))
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
        session.add(LoginFailure(email=email, ip=ip))
        session.execute(
            delete(LoginFailure).where(
                LoginFailure.email == email, LoginFailure.created_at < now - timedelta(days=1)
            )
        )
        return LoginResult(None, "Email or password is incorrect.", 401)
    session.execute(delete(LoginFailure).where(LoginFailure.email == email, LoginFailure.ip == ip))
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
