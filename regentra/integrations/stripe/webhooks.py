"""Stripe's webhooks for an org: `POST /api/webhooks/stripe/{token}`.

The token in the URL finds the org (by its SHA-256); the org's signing secret verifies the
`Stripe-Signature` header through the SDK (`client.construct_event`, 300 s tolerance).
Rejections are recorded on the org's connection (shown in Settings → Integrations), and so
is the time of the last accepted event; a rejected delivery stores nothing, and its reason
goes only on the card: the caller gets a generic message. A body that is not UTF-8, nests
too deep, is signed with a timestamp in the future or has no boolean `livemode`
(`payload_checks`), or a thin (v2) event, signed but not a snapshot event, is refused too.

A verified event whose `livemode` matches the org's key mode is stored under its unique
(org, event id) before anything else and handed to `handlers` in the same transaction
(`handlers.ingest`); the caller commits and only then answers 2xx, so Stripe retries
anything not committed. A duplicate (a redelivery, or the same delivery reaching another
server at once) finds the row and does nothing. No Stripe call is made here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from regentra.errors import NotFound, RegentraError
from regentra.integrations.stripe import client, connection_test, handlers, settings
from regentra.kit.time import utcnow
from regentra.models import SecretPurpose, StripeConnection
from regentra.orgs import secrets

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


def _reject(conn: StripeConnection, reason: str) -> Outcome:
    """The reason goes on the org's Stripe card; the (unauthenticated) caller learns only
    that the delivery was refused."""
    conn.last_webhook_rejected_at = utcnow()
    conn.last_webhook_rejection = connection_test.clean_message(reason)
    return Outcome(400, {"error": {"code": "webhook_rejected", "message": REJECTED}})


def receive(session: Session, *, token: str, payload: bytes, signature: str | None) -> Outcome:
    """Verify, store and handle one delivery. Unknown token → NotFound (404); a rejection is
    recorded and answered 400 (the caller must commit it, so it is returned rather than
    raised); an accepted event answers 200 once the caller has committed."""
    conn = settings.find_by_webhook_token(session, token)
    if conn is None:
        raise NotFound("unknown webhook URL")
    secret = secrets.get(
        session, org_id=conn.org_id, purpose=SecretPurpose.stripe_webhook_secret.value
    )
    if secret is None:
        return _reject(conn, SIGNING_MISSING)
    if not signature:
        return _reject(conn, "the Stripe-Signature header is missing")
    try:
        event = client.construct_event(payload, signature, secret)
    except RegentraError as exc:
        return _reject(conn, exc.message)
    if _thin(event):
        return _reject(conn, THIN_EVENT.format(type=str(event.get("type"))[:100]))
    livemode = event.get("livemode")
    if conn.mode is not None and isinstance(livemode, bool) and livemode != (conn.mode == "live"):
        sent = "live" if livemode else "test"
        return _reject(
            conn,
            f"a {sent}-mode event reached an org connected with {conn.mode} keys: point the "
            f"{sent}-mode endpoint at the org whose keys are {sent} keys, or save {sent} keys",
        )
    outcome = handlers.ingest(session, org_id=conn.org_id, event=event, source="webhook")
    # Set last, so the connection row is locked after the invoice row (one lock order).
    conn.last_webhook_at = utcnow()
    if outcome is None:
        return Outcome(200, {"received": True, "duplicate": True})
    return Outcome(200, {"received": True})
