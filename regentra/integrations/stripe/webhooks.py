"""Stripe's webhooks for an org: `POST /api/webhooks/stripe/{token}`.

Receiving is three steps, so that nothing slow runs inside a write transaction:

1. `lookup`: the token in the URL finds the org (by its SHA-256) and its stored signing
   secret, in one read that takes no write lock (`db.read_scope`: on SQLite a deferred
   BEGIN, not BEGIN IMMEDIATE), closed before anything else runs.
2. `check`: no database. The secret is decrypted through the per-process cache
   (`secrets.reveal`, keyed by the stored ciphertext, so a new secret is used at once), the
   `Stripe-Signature` header verified by the SDK (`client.construct_event`, 300 s tolerance)
   and the JSON parsed; a body that is not UTF-8, nests too deep, is signed with a timestamp
   in the future or has no boolean `livemode` is refused there (`payload_checks`, called by
   `client.construct_event`); then the event's shape and mode are checked.
3. One short write transaction: a rejection is recorded on the org's connection (shown in
   Settings → Integrations; a rejected delivery stores nothing), or the accepted event is
   stored under its unique (org, event id) before anything else and handed to `handlers`
   (`handlers.ingest`), and the time of the last accepted event set; it commits before the
   answer, so Stripe retries anything not committed. A duplicate (a redelivery, or the same
   delivery reaching another server at once) finds the row and does nothing. A thin (v2)
   event, signed but not a snapshot event, is refused too. Every rejection's reason goes only
   on the card: the (unauthenticated) caller gets a generic message. No Stripe call is made
   here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select, update

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


@dataclass(frozen=True)
class Rejection:
    reason: str  # recorded on the org's card; the caller is only told REJECTED


def lookup(token: str) -> Endpoint | None:
    """The org a webhook URL's token names, and its signing secret, in one read that takes
    no write lock. None for an unknown token."""
    purpose = SecretPurpose.stripe_webhook_secret.value
    with read_scope() as session:
        row = session.execute(
            select(
                StripeConnection.id,
                StripeConnection.org_id,
                StripeConnection.mode,
                OrgSecret.key_id,
                OrgSecret.ciphertext,
            )
            .outerjoin(
                OrgSecret,
                and_(OrgSecret.org_id == StripeConnection.org_id, OrgSecret.purpose == purpose),
            )
            .where(StripeConnection.webhook_token_hash == webhook_token_hash(token))
        ).first()
    return Endpoint(*row) if row is not None else None


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


def receive(*, token: str, payload: bytes, signature: str | None) -> Outcome:
    """Verify, store and handle one delivery; each step opens its own session (see the
    module doc). Unknown token → NotFound (404); a rejection is recorded and answered 400;
    an accepted event answers 200, committed."""
    endpoint = lookup(token)
    if endpoint is None:
        raise NotFound("unknown webhook URL")
    checked = check(endpoint, payload, signature)
    if isinstance(checked, Rejection):
        reason = connection_test.clean_message(checked.reason)
        with session_scope() as session:
            session.execute(
                update(StripeConnection)
                .where(StripeConnection.id == endpoint.connection_id)
                .values(last_webhook_rejected_at=utcnow(), last_webhook_rejection=reason)
                .execution_options(synchronize_session=False)
            )
        return Outcome(400, {"error": {"code": "webhook_rejected", "message": REJECTED}})
    with session_scope() as session:
        outcome = handlers.ingest(session, org_id=endpoint.org_id, event=checked, source="webhook")
        # Set last, so the connection row is locked after the invoice row (one lock order).
        session.execute(
            update(StripeConnection)
            .where(StripeConnection.id == endpoint.connection_id)
            .values(last_webhook_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    if outcome is None:
        return Outcome(200, {"received": True, "duplicate": True})
    return Outcome(200, {"received": True})
