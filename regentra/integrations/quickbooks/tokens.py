"""An org's QuickBooks OAuth tokens: stored through the keyring, refreshed before expiry, the
rotated refresh token never lost.

Intuit rotates the refresh token on refresh and refuses the superseded one (`invalid_grant`),
so two workers refreshing with the same token at once is the classic way to lose the
connection. Here one worker at a time refreshes: it takes a lease on the org's connection row
(a conditional UPDATE of `refresh_lease_until` for the `token_version` it saw, in a short
transaction), spends the refresh token at Intuit with no transaction open (on SQLite a
transaction is the database's write lock), then stores the new pair and the next version only
if the version is still the one it leased. The others wait for the new version and use its
token instead of refreshing again. A lease left by a worker that died expires.

A refresh Intuit refuses for good marks the connection "reconnect needed" (audited) and
raises `ReconnectNeeded`; postings wait until an admin connects again.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
import structlog
from intuitlib.exceptions import AuthClientError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.config import get_settings
from regentra.db import session_scope
from regentra.integrations.quickbooks import oauth
from regentra.integrations.quickbooks.errors import (
    QuickBooksNotConfigured,
    QuickBooksNotConnected,
    QuickBooksUnavailable,
    ReconnectNeeded,
)
from regentra.kit.time import utcnow
from regentra.models import QuickBooksConnection, SecretPurpose
from regentra.orgs import secrets

log = structlog.get_logger(__name__)

# Refresh this long before the access token expires (Intuit's last one hour).
REFRESH_MARGIN = timedelta(minutes=5)
ACCESS = SecretPurpose.quickbooks_access_token.value
REFRESH = SecretPurpose.quickbooks_refresh_token.value


@dataclass(frozen=True)
class Access:
    """A usable access token for one company, and the token version it belongs to."""

    realm_id: str
    token: str
    version: int

    def __repr__(self) -> str:  # never the token
        return f"Access(realm_id={self.realm_id!r}, version={self.version})"


def store(
    session: Session,
    *,
    conn: QuickBooksConnection,
    access_token: str,
    refresh_token: str,
    expires_in: int | None,
    refresh_expires_in: int | None,
) -> None:
    """Keep a new token pair (encrypted) and move the version on; clears "reconnect
    needed". The caller holds the row (or just made it) and commits."""
    now = utcnow()
    secrets.put(session, org_id=conn.org_id, purpose=ACCESS, value=access_token)
    secrets.put(session, org_id=conn.org_id, purpose=REFRESH, value=refresh_token)
    conn.access_expires_at = now + timedelta(seconds=int(expires_in or 3600))
    conn.refresh_expires_at = (
        now + timedelta(seconds=int(refresh_expires_in)) if refresh_expires_in else None
    )
    conn.token_version = (conn.token_version or 0) + 1
    conn.refresh_lease_until = None
    conn.last_refreshed_at = now
    conn.reconnect_needed_at = None
    conn.reconnect_reason = None
    session.flush()


def store_answer(session: Session, *, conn: QuickBooksConnection, client: Any) -> None:
    """`store` what Intuit just answered an intuit-oauth `AuthClient` (a code exchange or a
    refresh)."""
    store(
        session,
        conn=conn,
        access_token=client.access_token,
        refresh_token=client.refresh_token,
        expires_in=client.expires_in,
        refresh_expires_in=client.x_refresh_token_expires_in,
    )


def wipe(session: Session, *, org_id: uuid.UUID) -> bool:
    """Delete both tokens; True when there was one."""
    removed = [secrets.delete(session, org_id=org_id, purpose=p) for p in (ACCESS, REFRESH)]
    return any(removed)


def saved(session: Session, *, org_id: uuid.UUID) -> tuple[str | None, str | None]:
    """(access token, refresh token) as stored, for revoking on disconnect."""
    return (
        secrets.get(session, org_id=org_id, purpose=ACCESS),
        secrets.get(session, org_id=org_id, purpose=REFRESH),
    )


def _usable(conn: QuickBooksConnection, now: datetime) -> bool:
    return conn.access_expires_at is not None and conn.access_expires_at - REFRESH_MARGIN > now


def _check_connected(conn: QuickBooksConnection | None) -> QuickBooksConnection:
    if conn is None or conn.realm_id is None or conn.connected_at is None:
        raise QuickBooksNotConnected("QuickBooks is not connected")
    if conn.reconnect_needed_at is not None:
        raise ReconnectNeeded(
            conn.reconnect_reason
            or "QuickBooks needs to be connected again (Settings → Integrations → QuickBooks)"
        )
    return conn


def access(org_id: uuid.UUID, *, stale: Access | None = None) -> Access:
    """An access token for the org's company: the stored one while it has more than
    `REFRESH_MARGIN` left (and is not `stale`, i.e. refused with a 401), else a refreshed one.
    Opens its own session and commits a refresh before returning."""
    with session_scope() as session:
        conn = _check_connected(
            session.scalar(
                select(QuickBooksConnection).where(QuickBooksConnection.org_id == org_id)
            )
        )
        token = secrets.get(session, org_id=org_id, purpose=ACCESS)
        fresh = stale is None or stale.version != conn.token_version
        if token is not None and fresh and _usable(conn, utcnow()):
            assert conn.realm_id is not None
            return Access(conn.realm_id, token, conn.token_version)
        seen = conn.token_version
    return refresh(org_id, seen_version=seen)


def _lease_seconds() -> float:
    """Long enough for a refresh (the discovery document and the token call)."""
    return 2 * get_settings().qbo_timeout_seconds + 10


def _take_lease(org_id: uuid.UUID, seen_version: int) -> Access | _Lease | None:
    """One short transaction: the other worker's fresh token (the version moved on), or the
    lease to refresh (with the refresh token to spend), or None (another worker holds it)."""
    now = utcnow()
    with session_scope() as session:
        conn = _check_connected(
            session.scalar(
                select(QuickBooksConnection)
                .where(QuickBooksConnection.org_id == org_id)
                .execution_options(populate_existing=True)
            )
        )
        assert conn.realm_id is not None
        token = secrets.get(session, org_id=org_id, purpose=ACCESS)
        if conn.token_version != seen_version and token is not None and _usable(conn, now):
            return Access(conn.realm_id, token, conn.token_version)  # another worker did it
        taken = session.execute(
            update(QuickBooksConnection)
            .where(
                QuickBooksConnection.org_id == org_id,
                QuickBooksConnection.token_version == conn.token_version,
                or_(
                    QuickBooksConnection.refresh_lease_until.is_(None),
                    QuickBooksConnection.refresh_lease_until < now,
                ),
            )
            .values(refresh_lease_until=now + timedelta(seconds=_lease_seconds()))
            .returning(QuickBooksConnection.id)
            .execution_options(synchronize_session=False)
        ).first()
        if taken is None:
            return None
        return _Lease(
            conn.realm_id,
            conn.token_version,
            secrets.get(session, org_id=org_id, purpose=REFRESH),
        )


@dataclass(frozen=True)
class _Lease:
    realm_id: str
    version: int
    refresh_token: str | None

    def __repr__(self) -> str:  # never the token
        return f"_Lease(realm_id={self.realm_id!r}, version={self.version})"


def refresh(org_id: uuid.UUID, *, seen_version: int) -> Access:
    """Refresh the token pair, once across every worker: the worker that takes the lease
    (a conditional UPDATE on the connection row, in a short transaction) spends the refresh
    token at Intuit with no transaction open, then stores the new pair only if the version
    is still the one it leased (a reconnect meanwhile wins). The others wait for the new
    version and use it. If the version moved on from `seen_version` already, it is used."""
    deadline = time.monotonic() + _lease_seconds() + 5
    while True:
        got = _take_lease(org_id, seen_version)
        if isinstance(got, Access):
            return got
        if isinstance(got, _Lease):
            return _refresh_leased(org_id, got)
        if time.monotonic() > deadline:
            raise QuickBooksUnavailable(
                "another worker is still refreshing the QuickBooks authorization; it will be "
                "tried again"
            )
        time.sleep(0.1)


def _refresh_leased(org_id: uuid.UUID, lease: _Lease) -> Access:
    failure: Exception | None = None
    client = None
    if lease.refresh_token is None:
        failure = ReconnectNeeded("QuickBooks has no saved authorization: connect again")
    else:
        try:
            client = oauth.auth_client(realm_id=lease.realm_id)
            client.refresh(refresh_token=lease.refresh_token)
        except (AuthClientError, requests.RequestException) as exc:
            failure = oauth.translate(exc, doing="refreshing the access token")
        except (QuickBooksUnavailable, QuickBooksNotConfigured) as exc:
            failure = exc
    with session_scope() as session:
        conn = session.execute(
            select(QuickBooksConnection)
            .where(QuickBooksConnection.org_id == org_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        current = conn is not None and conn.token_version == lease.version
        if conn is not None and current:
            conn.refresh_lease_until = None
            if failure is None and client is not None:
                store_answer(session, conn=conn, client=client)
                log.info("quickbooks tokens refreshed", org_id=str(org_id), realm_id=lease.realm_id)
                return Access(lease.realm_id, client.access_token, conn.token_version)
            if isinstance(failure, ReconnectNeeded):
                mark_reconnect_needed(session, conn=conn, reason=failure.message)
    if not current:
        # Reconnected (or disconnected) while this refresh ran: the new connection's tokens
        # stand; what Intuit just answered belonged to the old authorization.
        return access(org_id)
    assert failure is not None
    if isinstance(failure, QuickBooksUnavailable):
        log.warning("quickbooks token refresh failed, will retry", org_id=str(org_id))
    raise failure


def mark_reconnect_needed(session: Session, *, conn: QuickBooksConnection, reason: str) -> None:
    """Stop postings until an admin connects again (audited once per occurrence)."""
    if conn.reconnect_needed_at is not None:
        return
    conn.reconnect_needed_at = utcnow()
    conn.reconnect_reason = reason[:500]
    record(
        session,
        org_id=conn.org_id,
        actor=Actor.system(),
        action="quickbooks.reconnect_needed",
        subject_type="quickbooks_connection",
        subject_id=conn.id,
        details={"message": reason[:500], "realm_id": conn.realm_id},
    )
    log.warning("quickbooks reconnect needed", org_id=str(conn.org_id), realm_id=conn.realm_id)
