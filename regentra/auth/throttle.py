"""Sign-in throttling that holds under concurrency, across processes.

Two keys per attempt: the account from one client address, and the account from all
addresses (`ANY_ADDRESS`). Each key is one row, counted up by an atomic upsert (INSERT …
ON CONFLICT DO UPDATE … WHERE under the limit … RETURNING) that takes a slot only while the
key is under its limit: 200 concurrent wrong passwords get exactly the limit of slots, on
SQLite and PostgreSQL alike (no count-then-insert race). An attempt takes its slots before
the password is checked, in a short transaction of its own committed at once, so concurrent
attempts see it and no lock is held through the password hash; a successful sign-in gives
its slots back (`release`), so only failures stay counted. A key's window starts at its
first failure and lasts `login_window_seconds`; after that the row starts again at 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from regentra.config import get_settings
from regentra.db import session_scope
from regentra.kit.time import utcnow
from regentra.models import LoginThrottle
from regentra.models.login_throttle import ANY_ADDRESS

SWEEP_BATCH = 200


@dataclass(frozen=True)
class Refused:
    """The attempt was not even checked: a key is at its limit until its window passes."""

    retry_after_seconds: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_seconds / 60))


def take(*, email: str, ip: str) -> Refused | None:
    """Count an attempt on both keys, or refuse it (counting nothing) when either is full.

    Runs in its own transaction, committed before returning: call it before the caller's
    session has started one (on SQLite a second writer would wait for the first)."""
    settings = get_settings()
    now = utcnow()
    window = timedelta(seconds=settings.login_window_seconds)
    new_window = False
    with session_scope() as session:
        # Always (account, address) first, then the account: one lock order for everyone.
        taken = _count(session, email, ip, settings.login_max_failures, now, window)
        if isinstance(taken, Refused):
            return taken
        new_window = taken == 1
        across = _count(
            session, email, ANY_ADDRESS, settings.login_max_failures_per_account, now, window
        )
        if isinstance(across, Refused):
            _give_back(session, email, ip)
            return across
    if new_window:
        _sweep(now - window)
    return None


def release(session: Session, *, email: str, ip: str) -> None:
    """A successful sign-in: its address starts afresh; the account gives back this attempt."""
    session.execute(
        delete(LoginThrottle).where(LoginThrottle.email == email, LoginThrottle.ip == ip)
    )
    _give_back(session, email, ANY_ADDRESS)


def _count(
    session: Session, email: str, ip: str, limit: int, now: datetime, window: timedelta
) -> int | Refused:
    """The key's failures including this one, or `Refused` (nothing counted) at the limit."""
    row = LoginThrottle
    expired = row.window_started_at <= now - window
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new = insert(row).values(email=email, ip=ip, failures=1, window_started_at=now)
    stmt = new.on_conflict_do_update(
        index_elements=[row.email, row.ip],
        set_={
            "failures": case((expired, 1), else_=row.failures + 1),
            "window_started_at": case(
                (expired, new.excluded.window_started_at), else_=row.window_started_at
            ),
        },
        where=or_(expired, row.failures < limit),
    ).returning(row.failures)
    failures = session.execute(stmt).scalar()
    if failures is not None:
        return int(failures)
    started = session.scalar(
        select(LoginThrottle.window_started_at).where(
            LoginThrottle.email == email, LoginThrottle.ip == ip
        )
    )
    wait = window if started is None else started + window - now
    return Refused(max(1, math.ceil(wait.total_seconds())))


def _give_back(session: Session, email: str, ip: str) -> None:
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.email == email, LoginThrottle.ip == ip, LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1)
    )


def _sweep(cutoff: datetime) -> None:
    """Drop rows whose window has passed (a sprayed list of addresses must not pile up), in
    a transaction of its own that never waits: rows another attempt holds are skipped."""
    stale = (
        select(LoginThrottle.email, LoginThrottle.ip)
        .where(LoginThrottle.window_started_at <= cutoff)
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)
    )
    with session_scope() as session:
        session.execute(
            delete(LoginThrottle).where(tuple_(LoginThrottle.email, LoginThrottle.ip).in_(stale)),
            execution_options={"synchronize_session": False},
        )
