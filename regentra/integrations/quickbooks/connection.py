"""An org's QuickBooks connection row: made on demand, completed by the OAuth callback.

`complete` is the end of Connect: it trades Intuit's code for tokens (stored through the
keyring by `tokens.store`), then reads the company's name, home currency and whether
multicurrency is on. The Connect button, the `state` checks and Disconnect are in
`settings.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import requests
import structlog
from intuitlib.exceptions import AuthClientError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.errors import RegentraError
from regentra.integrations.quickbooks import oauth, tokens
from regentra.integrations.quickbooks.client import QuickBooks
from regentra.integrations.quickbooks.errors import QuickBooksUnavailable
from regentra.kit.time import utcnow
from regentra.models import QuickBooksConnection

log = structlog.get_logger(__name__)


def find(session: Session, *, org_id: uuid.UUID) -> QuickBooksConnection | None:
    return session.scalar(select(QuickBooksConnection).where(QuickBooksConnection.org_id == org_id))


def ensure(session: Session, *, org_id: uuid.UUID) -> QuickBooksConnection:
    """The org's row, made the first time (racing requests agree)."""
    found = find(session, org_id=org_id)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(QuickBooksConnection(org_id=org_id, mapping_labels={}))
    except IntegrityError:
        pass
    found = find(session, org_id=org_id)
    assert found is not None
    return found


def is_connected(conn: QuickBooksConnection | None) -> bool:
    return conn is not None and conn.realm_id is not None and conn.connected_at is not None


def ready(conn: QuickBooksConnection | None) -> bool:
    """Postings may run: connected, no reconnect needed, a mapping saved."""
    return (
        is_connected(conn)
        and conn is not None
        and conn.reconnect_needed_at is None
        and conn.mapping_saved_at is not None
    )


def complete(
    session: Session, *, org_id: uuid.UUID, actor: Actor, code: str, realm_id: str
) -> QuickBooksConnection:
    """Trade the authorization `code` for tokens and keep them with the realm (request-
    boundary flow: commits before reading the company; when QuickBooks cannot answer that
    read, an outage, the connection stands without the company's name and currency).
    Connecting another company than the one connected before clears the mapping (its ids
    belong to the old company)."""
    client = oauth.auth_client()
    try:
        client.get_bearer_token(code, realm_id=realm_id)
    except (AuthClientError, requests.RequestException) as exc:
        if isinstance(exc, AuthClientError) and oauth.is_invalid_grant(exc):
            raise RegentraError(
                "Intuit refused the sign-in's authorization code (already used, or more than "
                "a few minutes old). Press Connect to start again.",
                code="quickbooks_code_refused",
            ) from None
        raise oauth.translate(exc, doing="connecting") from None
    conn = ensure(session, org_id=org_id)
    previous = conn.realm_id
    if previous is not None and previous != realm_id:
        clear_mapping(conn)
        # The old company's name and currency are not the new one's (read below; until
        # then the postings wait for the home currency rather than assume one).
        conn.company_name = None
        conn.home_currency = None
        conn.multicurrency = None
    conn.realm_id = realm_id
    conn.connected_at = utcnow()
    conn.connected_by_id = actor.user_id
    tokens.store_answer(session, conn=conn, client=client)
    record(
        session,
        org_id=org_id,
        actor=actor,
        action="quickbooks.connected",
        subject_type="quickbooks_connection",
        subject_id=conn.id,
        details={"realm_id": realm_id, **({"previous_realm_id": previous} if previous else {})},
    )
    session.commit()  # the tokens are kept; hold no lock while QuickBooks answers
    try:
        describe_company(session, conn=conn)
    except QuickBooksUnavailable as exc:
        # Connected all the same: the name and currency are read at the next connect.
        log.warning("quickbooks company details not read", org_id=str(org_id), error=exc.message)
    return conn


@dataclass(frozen=True)
class Company:
    realm_id: str
    name: str | None
    home_currency: str | None
    multicurrency: bool


def read_company(org_id: uuid.UUID) -> Company:
    """The connected company's name, home currency and multicurrency switch, from
    QuickBooks (call it with no transaction open)."""
    with QuickBooks(org_id) as qbo:
        realm_id = qbo.realm_id
        info = qbo.company_info()
        prefs = qbo.preferences()
    currency_prefs = prefs.get("CurrencyPrefs") or {}
    home = (currency_prefs.get("HomeCurrency") or {}).get("value")
    return Company(
        realm_id=realm_id,
        name=str(info.get("CompanyName") or info.get("LegalName") or "")[:255] or None,
        home_currency=str(home).upper()[:3] if home else None,
        multicurrency=bool(currency_prefs.get("MultiCurrencyEnabled")),
    )


def apply_company(conn: QuickBooksConnection, company: Company) -> None:
    """Keep what was read, unless another company was connected meanwhile."""
    if conn.realm_id != company.realm_id:
        return
    conn.company_name = company.name
    conn.home_currency = company.home_currency
    conn.multicurrency = company.multicurrency


def describe_company(session: Session, *, conn: QuickBooksConnection) -> None:
    """Read the company's name, home currency and multicurrency switch onto the row (the
    caller has committed: no transaction is open while QuickBooks answers)."""
    apply_company(conn, read_company(conn.org_id))
    session.flush()


def clear_mapping(conn: QuickBooksConnection) -> None:
    conn.deposit_account_id = None
    conn.other_deposit_account_id = None
    conn.fee_account_id = None
    conn.fee_paid_from_account_id = None
    conn.fee_vendor_id = None
    conn.income_item_id = None
    conn.post_from = None
    conn.mapping_saved_at = None
    conn.mapping_labels = {}
