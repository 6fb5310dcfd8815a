"""Settings → Integrations → QuickBooks: Connect, the OAuth callback, Disconnect, status.

Connect makes a `QuickBooksOAuthState` (a random `state`, kept only as its SHA-256, bound to
the org and the user who pressed Connect, single use, expiring after ten minutes) and sends
the admin to Intuit's authorize page. The callback refuses any `state` that is missing,
unknown, of another org or user, expired or used, consumes it with a conditional UPDATE (so
a replayed or raced callback loses) and commits that before trading the code, then completes
the connection (`connection.complete`) and asks postings waiting for it to resume.

Disconnect revokes the grant at Intuit, wipes the tokens and forgets the company and its
mapping; postings already made stay recorded. The flows that call Intuit end the caller's
transaction before the network call (on SQLite it holds the write lock).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import requests
import structlog
from intuitlib.exceptions import AuthClientError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.errors import RegentraError
from regentra.integrations.quickbooks import connection, oauth, postings, tokens
from regentra.integrations.quickbooks.errors import (
    QuickBooksNotConfigured,
    QuickBooksUnavailable,
)
from regentra.kit.time import as_utc, utcnow
from regentra.models import QuickBooksConnection, QuickBooksOAuthState, User

log = structlog.get_logger(__name__)

STATE_TTL = timedelta(minutes=10)
_AGAIN = "Press Connect on Settings → Integrations → QuickBooks to start again."


class ConnectRefused(RegentraError):
    """The OAuth callback cannot be accepted (a bad, used or expired state; cancelled)."""

    status = 400
    code = "quickbooks_connect_refused"


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


# ---- Connect --------------------------------------------------------------------------------


def start_connect(session: Session, *, org_id: uuid.UUID, user: User) -> str:
    """Remember a new `state` for this org and user; return Intuit's authorize URL. 409 in
    words when the server has no QuickBooks app keys. Request-boundary flow: commits what
    came before, so no lock is held while Intuit's discovery document is read."""
    missing = oauth.missing_settings()
    if missing:
        raise QuickBooksNotConfigured(
            "QuickBooks is not set up on this server: the operator must set "
            + ", ".join(missing)
            + " (see the README, QuickBooks Online)"
        )
    session.commit()
    client = oauth.auth_client()
    state = secrets.token_urlsafe(32)
    now = utcnow()
    # Old attempts of this org are of no use any more: keep the table small.
    session.execute(
        delete(QuickBooksOAuthState).where(
            QuickBooksOAuthState.org_id == org_id, QuickBooksOAuthState.expires_at < now
        )
    )
    session.add(
        QuickBooksOAuthState(
            org_id=org_id,
            state_hash=_hash(state),
            user_id=user.id,
            created_at=now,
            expires_at=now + STATE_TTL,
        )
    )
    session.flush()
    url: str = client.get_authorization_url(oauth.SCOPES, state_token=state)
    return url


def _refuse(message: str, *, status: int = 400, why: str, org_id: uuid.UUID) -> ConnectRefused:
    log.warning("quickbooks callback refused", org_id=str(org_id), why=why)
    return ConnectRefused(message, status=status)


def _consume_state(session: Session, *, user: User, state: str | None) -> None:
    """Check the callback's `state` and mark it used (once, even under a race)."""
    org_id = user.org_id
    if not state or len(state) > 200:
        raise _refuse(
            "QuickBooks sent the browser back without the sign-in's state, so it cannot be "
            f"accepted. {_AGAIN}",
            why="missing",
            org_id=org_id,
        )
    row = session.scalar(
        select(QuickBooksOAuthState).where(QuickBooksOAuthState.state_hash == _hash(state))
    )
    if row is None or row.org_id != org_id:
        raise _refuse(
            f"This QuickBooks sign-in was not started from this organization. {_AGAIN}",
            why="unknown" if row is None else "other_org",
            org_id=org_id,
        )
    if row.user_id != user.id:
        raise _refuse(
            "This QuickBooks sign-in was started by another user; only they can finish it. "
            + _AGAIN,
            status=403,
            why="other_user",
            org_id=org_id,
        )
    if row.used_at is not None:
        raise _refuse(
            f"This QuickBooks sign-in was already used. {_AGAIN}",
            status=409,
            why="used",
            org_id=org_id,
        )
    now = utcnow()
    if as_utc(row.expires_at) <= now:
        raise _refuse(
            "This QuickBooks sign-in expired (it lasts "
            f"{int(STATE_TTL.total_seconds() // 60)} minutes). {_AGAIN}",
            why="expired",
            org_id=org_id,
        )
    consumed = session.execute(
        update(QuickBooksOAuthState)
        .where(QuickBooksOAuthState.id == row.id, QuickBooksOAuthState.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(consumed, "rowcount", 0) != 1:  # another request took it first
        raise _refuse(
            f"This QuickBooks sign-in was already used. {_AGAIN}",
            status=409,
            why="used",
            org_id=org_id,
        )
    # Used for good, whatever happens next (a cancel, Intuit refusing the code, an outage).
    session.commit()


_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")


def finish_connect(
    session: Session,
    *,
    user: User,
    state: str | None,
    code: str | None,
    realm_id: str | None,
    error: str | None,
) -> QuickBooksConnection:
    """The OAuth callback (request-boundary flow: commits). Raises `ConnectRefused` (4xx in
    words; nothing stored) or Intuit's failures (`ReconnectNeeded`, `QuickBooksUnavailable`).
    On success the connection is complete and `quickbooks.resume` is enqueued."""
    _consume_state(session, user=user, state=state)
    if error:
        if error == "access_denied":
            raise ConnectRefused(
                "You cancelled connecting QuickBooks; nothing was changed. Press Connect to "
                "try again.",
                code="quickbooks_connect_cancelled",
            )
        shown = error if _ERROR_CODE.match(error) else "an error"
        raise ConnectRefused(f"Intuit did not connect QuickBooks ({shown}). {_AGAIN}")
    if not code or not realm_id or len(code) > 512 or not re.fullmatch(r"[0-9]{1,64}", realm_id):
        raise ConnectRefused(
            "QuickBooks sent the browser back without an authorization code and company. " + _AGAIN
        )
    conn = connection.complete(
        session, org_id=user.org_id, actor=Actor.of(user), code=code, realm_id=realm_id
    )
    # Postings that waited (for a reconnect, or for this first connection) run again.
    _resume(session, org_id=user.org_id)
    return conn


def _resume(session: Session, *, org_id: uuid.UUID) -> None:
    queue.enqueue(session, postings.RESUME_TASK, str(org_id))


# ---- Disconnect -----------------------------------------------------------------------------


def _revoke(refresh_token: str) -> str:
    """Revoke the grant at Intuit; returns what happened, in words for the audit entry."""
    try:
        oauth.auth_client().revoke(token=refresh_token)
    except QuickBooksNotConfigured:
        return "not revoked at Intuit: this server has no QuickBooks app keys"
    except QuickBooksUnavailable:
        return "not revoked at Intuit: its sign-in service could not be reached"
    except AuthClientError as exc:
        if exc.status_code in (400, 401, 403):
            return f"Intuit refused the revocation (HTTP {exc.status_code}): already revoked"
        return f"not revoked at Intuit: its sign-in service failed (HTTP {exc.status_code})"
    except requests.RequestException as exc:
        return f"not revoked at Intuit: {type(exc).__name__}"
    return "revoked at Intuit"


def disconnect(session: Session, *, org_id: uuid.UUID, actor: Actor) -> None:
    """Revoke at Intuit (tolerating an outage or a grant already revoked), wipe the tokens,
    forget the company and its mapping (the ids belong to that company). Posting rows stay.
    Audited `quickbooks.disconnected` when there was something to disconnect. Request-
    boundary flow: commits before calling Intuit; the caller commits the rest."""
    conn = connection.find(session, org_id=org_id)
    _, refresh_token = tokens.saved(session, org_id=org_id)
    if conn is None or (not connection.is_connected(conn) and refresh_token is None):
        return
    realm_id = conn.realm_id
    session.commit()
    revoked = _revoke(refresh_token) if refresh_token else "no saved authorization to revoke"
    conn = connection.find(session, org_id=org_id)
    assert conn is not None
    removed = tokens.wipe(session, org_id=org_id)
    conn.realm_id = None
    conn.company_name = None
    conn.home_currency = None
    conn.multicurrency = None
    conn.connected_at = None
    conn.connected_by_id = None
    conn.access_expires_at = None
    conn.refresh_expires_at = None
    conn.reconnect_needed_at = None
    conn.reconnect_reason = None
    connection.clear_mapping(conn)
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="quickbooks.disconnected",
        subject_type="quickbooks_connection",
        subject_id=conn.id,
        details={"realm_id": realm_id, "revocation": revoked, "authorization_deleted": removed},
    )
    log.info("quickbooks disconnected", org_id=str(org_id), realm_id=realm_id, revocation=revoked)
    session.flush()


# ---- status ---------------------------------------------------------------------------------


def company_link(realm_id: str) -> str:
    """Where a person sees the company: Intuit's QuickBooks Online app, or the company page
    of the sandbox named by a discovery URL."""
    intuit = oauth.intuit_environment()
    if intuit:
        return oauth.INTUIT_APP[intuit]
    return f"{oauth.local_origin()}/company/{realm_id}"


def status(session: Session, *, org_id: uuid.UUID) -> dict[str, Any]:
    """The card's and the API's view (a plain dict: other parts add their keys). Never a
    token: only when they expire."""
    missing = oauth.missing_settings()
    conn = connection.find(session, org_id=org_id)
    connected = connection.is_connected(conn)
    shown = conn if connected else None
    return {
        "configured": not missing,
        "missing_settings": missing,
        "redirect_uri": oauth.redirect_uri(),
        "connected": connected,
        "realm_id": shown.realm_id if shown else None,
        "company_name": shown.company_name if shown else None,
        "home_currency": shown.home_currency if shown else None,
        "multicurrency": shown.multicurrency if shown else None,
        "connected_at": _iso(shown.connected_at) if shown else None,
        "reconnect_needed": bool(shown and shown.reconnect_needed_at is not None),
        "reconnect_reason": shown.reconnect_reason if shown else None,
        "reconnect_needed_at": _iso(shown.reconnect_needed_at) if shown else None,
        "access_expires_at": _iso(shown.access_expires_at) if shown else None,
        "refresh_expires_at": _iso(shown.refresh_expires_at) if shown else None,
        "link": company_link(shown.realm_id) if shown and shown.realm_id else None,
    }
