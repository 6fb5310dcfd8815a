"""Stripe's webhooks for an org: `POST /api/webhooks/stripe/{token}`.

Receiving is three steps, so that nothing slow runs inside a write transaction:

1. `lookup`: the token in the URL finds the org (by its SHA-256) and its stored signing
   secret, in one read outside any transaction, so it takes no write lock (`db.read_scope`),
   closed before anything else runs.
2. `check`: no database. The secret is decrypted through the per-process cache
   (`secrets.reveal`, keyed by the stored ciphertext, so a new secret is used at once), the
   `Stripe-Signature` header verified by the SDK (`client.construct_event`, 300 s tolerance)
   and the JSON parsed; a body that is not UTF-8, nests too deep, is signed with a timestamp
   in the future or has no boolean `livemode` is refused there (`payload_checks`, called by
   `client.construct_event`); then the event's shape and mode are checked.
3. One short write transaction: a rejection is recorded on the org's connection (shown in
   Settings → Integrations; a rejected delivery stores nothing), or the accepted event is
   stored under its unique (org, event id) before anything else and handed to `handlers`
   (`handlers.ingest`), and the time of the last accepted event set (to the minute); it
   commits before the answer, so Stripe retries anything not committed. A duplicate (a
   redelivery, or the same delivery reaching another server at once) finds the row and does
   nothing. On PostgreSQL the common delivery, a first `invoice.paid` for an open invoice, and
   any redelivery of one, is a single statement in autocommit instead
   (`handlers.ingest_paid`: no BEGIN and COMMIT round trips); whatever it does not settle
   goes to `ingest` as above. A thin (v2) event, signed but not a snapshot event, is refused
   too. Every rejection's reason goes only on the card: the (unauthenticated) caller gets a
   generic message. No Stripe call is made here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from regentra.db import read_scope, session_scope
from regentra.errors import NotFound, RegentraError
from regentra.integrations.stripe import client, connection_test, handlers
from regentra.kit.time import utcnow
from regentra.models import OrgSecret, SecretPurpose, StripeConnection
from regentra.orgs import secrets
from regentra.orgs.service import webhook_token_hash

SIGNING_MISSING = (
    "no webhook signing secret is saved for this org: copy the endpoint's signing secret "
    "(whsec_…) from the Stripe Dashboard into Settings → Integrations → Stripe"
)


THIN_EVENT = (
    "a thin event ({type}) arrived: Regentra reads snapshot events only. In the Stripe "
    "Dashboard (Developers → Webhooks), send this organization's webhook URL the Snapshot "
    "payload style for events from Your account (the events listed in step 3)"
)
REJECTED = "webhook rejected"


def _thin(event: dict[str, Any]) -> bool:
    """A thin (v2) event: `object: "v2.core.event"`, a `related_object` and no
    `data.object` (https://docs.stripe.com/event-destinations#thin-events). A snapshot
    event has `object: "event"` and the object in `data.object`."""
    if event.get("object") == "v2.core.event":
        return True
    data = event.get("data")
    return "related_object" in event and not (isinstance(data, dict) and "object" in data)


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    """What the token finds: the org's connection and its stored signing secret (encrypted)."""

    connection_id: uuid.UUID
    org_id: uuid.UUID
    mode: str | None  # the org's key mode, "test" | "live" (None: no keys saved)
    secret_key_id: str | None
    secret_ciphertext: str | None
    last_webhook_at: datetime | None


@dataclass(frozen=True)
class Rejection:
    reason: str  # recorded on the org's card; the caller is only told REJECTED


_CONNECTIONS: Table = StripeConnection.__table__  # type: ignore[assignment]
_SECRETS: Table = OrgSecret.__table__  # type: ignore[assignment]
# Built once (Core, bound parameters): they run for every delivery.
_LOOKUP = (
    select(
        _CONNECTIONS.c.id.label("connection_id"),
        _CONNECTIONS.c.org_id,
        _CONNECTIONS.c.mode,
        _SECRETS.c.key_id.label("secret_key_id"),
        _SECRETS.c.ciphertext.label("secret_ciphertext"),
        _CONNECTIONS.c.last_webhook_at,
    )
    .select_from(
        _CONNECTIONS.outerjoin(
            _SECRETS,
            and_(
                _SECRETS.c.org_id == _CONNECTIONS.c.org_id,
                _SECRETS.c.purpose == SecretPurpose.stripe_webhook_secret.value,
            ),
        )
    )
    .where(_CONNECTIONS.c.webhook_token_hash == bindparam("b_token_hash"))
)
# The time of the last accepted event, shown to the minute: written when the one read by the
# lookup is a minute old (and still is: the UPDATE checks again), so concurrent deliveries do
# not all write, nor queue for, the connection's row.
LAST_WEBHOOK_STEP = timedelta(minutes=1)
_NOTE_ACCEPTED = (
    update(_CONNECTIONS)
    .where(
        _CONNECTIONS.c.id == bindparam("b_id"),
        or_(
            _CONNECTIONS.c.last_webhook_at.is_(None),
            _CONNECTIONS.c.last_webhook_at < bindparam("b_stale_before"),
        ),
    )
    .values(last_webhook_at=bindparam("b_now"))
)
_NOTE_REJECTED = (
    update(_CONNECTIONS)
    .where(_CONNECTIONS.c.id == bindparam("b_id"))
    .values(
        last_webhook_rejected_at=bindparam("b_now"), last_webhook_rejection=bindparam("b_reason")
    )
)


def lookup(token: str, bind: Engine | None = None) -> Endpoint | None:
    """The org a webhook URL's token names, and its signing secret, in one read that takes
    no write lock. None for an unknown token."""
    with read_scope(bind) as connection:
        row = connection.execute(_LOOKUP, {"b_token_hash": webhook_token_hash(token)}).first()
    return Endpoint(**row._mapping) if row is not None else None


def check(endpoint: Endpoint, payload: bytes, signature: str | None) -> dict[str, Any] | Rejection:
    """Decrypt, verify and parse (no database, no transaction): the event, or why not."""
    if endpoint.secret_ciphertext is None or endpoint.secret_key_id is None:
        return Rejection(SIGNING_MISSING)
    if not signature:
        return Rejection("the Stripe-Signature header is missing")
    secret = secrets.reveal(
        org_id=endpoint.org_id,
        purpose=SecretPurpose.stripe_webhook_secret.value,
        key_id=endpoint.secret_key_id,
        ciphertext=endpoint.secret_ciphertext,
    )
    try:
        event = client.construct_event(payload, signature, secret)
    except RegentraError as exc:
        return Rejection(exc.message)
    # Checks of the parsed event's input go here, before anything is written.
    if _thin(event):
        return Rejection(THIN_EVENT.format(type=str(event.get("type"))[:100]))
    livemode = event.get("livemode")
    mode = endpoint.mode
    if mode is not None and isinstance(livemode, bool) and livemode != (mode == "live"):
        sent = "live" if livemode else "test"
        return Rejection(
            f"a {sent}-mode event reached an org connected with {mode} keys: point the "
            f"{sent}-mode endpoint at the org whose keys are {sent} keys, or save {sent} keys"
        )
    return event


def _note_accepted(session: Session, endpoint: Endpoint) -> None:
    """The time of the last accepted event, when the one the lookup read is a minute old; last
    in the transaction, so the connection row is locked after the invoice row (one lock
    order)."""
    now = utcnow()
    stale_before = now - LAST_WEBHOOK_STEP
    last = endpoint.last_webhook_at
    if last is None or last < stale_before:
        session.execute(
            _NOTE_ACCEPTED,
            {"b_id": endpoint.connection_id, "b_now": now, "b_stale_before": stale_before},
        )


def receive(
    *, token: str, payload: bytes, signature: str | None, bind: Engine | None = None
) -> Outcome:
    """Verify, store and handle one delivery; each step opens its own session (see the
    module doc), on `bind` if given (`db.async_engine`'s, from the event loop). Unknown token
    → NotFound (404); a rejection is recorded and answered 400; an accepted event answers 200,
    committed."""
    endpoint = lookup(token, bind)
    if endpoint is None:
        raise NotFound("unknown webhook URL")
    checked = check(endpoint, payload, signature)
    if isinstance(checked, Rejection):
        reason = connection_test.clean_message(checked.reason)
        with session_scope(bind) as session:
            session.execute(
                _NOTE_REJECTED,
                {"b_id": endpoint.connection_id, "b_now": utcnow(), "b_reason": reason},
            )
        return Outcome(400, {"error": {"code": "webhook_rejected", "message": REJECTED}})
    raw = payload.decode()  # UTF-8: `check` refused anything else
    # On PostgreSQL a first delivery of an invoice.paid for an open invoice is one statement
    # (`handlers.ingest_paid`); anything else, or SQLite, is `ingest`'s transaction.
    with session_scope(bind, one_statement=True) as session:
        at_once = handlers.ingest_paid(session, org_id=endpoint.org_id, event=checked, raw=raw)
        if at_once.done:
            _note_accepted(session, endpoint)
    outcome = at_once.outcome
    if not at_once.done:
        with session_scope(bind) as session:
            outcome = handlers.ingest(
                session, org_id=endpoint.org_id, event=checked, source="webhook", raw=raw
            )
            _note_accepted(session, endpoint)
    if outcome is None:
        return Outcome(200, {"received": True, "duplicate": True})
    return Outcome(200, {"received": True})
