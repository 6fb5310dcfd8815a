"""What a verified Stripe event does here. Shared by the webhook and by reconciliation.

`ingest(session, org_id=, event=, source=, raw=)` stores the event under its unique (org, event
id) first (`INSERT … ON CONFLICT DO NOTHING`, race-safe across processes on SQLite and
PostgreSQL; a webhook's payload as the JSON text Stripe signed, `raw`) and, only when this call
stored it, hands it to `handle` in the same transaction and writes the outcome on the stored
row. A duplicate (a redelivery, a concurrent delivery to
another server, or an event reconciliation already read) returns None and does nothing.

`handle(session, org_id=, event=, source=)` acts on one event and returns the outcome (a
short sentence stored on the event). It relies only on fields present in every API version
(`id`, `type`, `livemode`, `created`, `data.object.id`, `data.object.status`); any other field
is used only when present with the right type, with a fallback otherwise. It never calls
Stripe: what needs Stripe (the invoice of a PaymentIntent, which newer API versions no longer
put on the PaymentIntent) is enqueued as a task that looks it up through the pinned client.

- `invoice.paid`: the org's invoice with that Stripe id moves sent|overdue → paid
  (`invoices.transitions.mark_paid`, one conditional UPDATE, which also writes the audit entry and
  hands the payment to bookkeeping). No such invoice in this org → ignored.
- `invoice.payment_succeeded`, `invoice.payment_failed`: audit entries (the status stays).
  A failed payment also clears the "bank payment processing" note a bank payment started
  before it left, and notes the decline reason on the invoice (shown until it is paid): from
  the payload when an older API version carries the PaymentIntent, else the
  `stripe.payment_failure` task reads the PaymentIntent's `last_payment_error` after commit
  (`declines.resolve_failure`).
- `charge.refunded`, `refund.*`, `charge.dispute.*`, `payout.*`: the `stripe.sync_movement`
  task reads the refund, dispute or payout again after commit and mirrors it
  (`movements.sync`).
- `payment_intent.processing`: "bank payment processing" noted on the invoice (its status
  stays). Older API versions name the invoice on the PaymentIntent; newer ones do not, and
  then the `stripe.payment_processing` task finds it through `invoice_payments.list`.
- anything else: stored only.

The transitions are conditional, so a duplicate, a reordered delivery or a race with
reconciliation can never apply one twice.

Also here, the bodies of the tasks this flow enqueues (they run in a worker, open their own
sessions and call Stripe with no transaction open): `resolve_processing` for
`stripe.payment_processing`, and `requeue_pending`, the periodic sweep that enqueues again a
lookup a crash or a long outage dropped (the event stays `processed_at IS NULL` until done).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

import structlog
from sqlalchemy import (
    JSON,
    String,
    Table,
    Text,
    bindparam,
    cast,
    exists,
    func,
    literal,
    null,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from regentra import queue
from regentra.db import session_scope
from regentra.errors import RegentraError
from regentra.integrations.stripe import client
from regentra.integrations.stripe.amounts import amount_of
from regentra.integrations.stripe.errors import StripeUnavailable
from regentra.invoices import service as invoices
from regentra.invoices import transitions
from regentra.kit.ids import new_id
from regentra.kit.time import utcnow
from regentra.models import ActorType, AuditEvent, Invoice, StripeEvent
from regentra.orgs.errors import StripeNotConnected

log = structlog.get_logger(__name__)

SOURCES = ("webhook", "reconciliation")
PAYMENT_PROCESSING_TASK = "stripe.payment_processing"
PAYMENT_FAILURE_TASK = "stripe.payment_failure"  # body: `declines.resolve_failure`
MOVEMENT_TASK = "stripe.sync_movement"  # body: `movements.sync`
# The events that name a refund, a dispute or a payout, by what their `data.object` is
# (`charge.refunded` names the charge: its refunds are read).
MOVEMENT_EVENTS: dict[str, str] = {
    "charge.refunded": "charge",
    "refund.created": "refund",
    "refund.updated": "refund",
    "refund.failed": "refund",
    "charge.dispute.created": "dispute",
    "charge.dispute.updated": "dispute",
    "charge.dispute.closed": "dispute",
    "charge.dispute.funds_withdrawn": "dispute",
    "charge.dispute.funds_reinstated": "dispute",
    "payout.created": "payout",
    "payout.updated": "payout",
    "payout.paid": "payout",
    "payout.failed": "payout",
    "payout.canceled": "payout",
}
# An outcome that starts with this is not final: a task finishes the event and then sets
# `processed_at` (until then a sweep can find it).
PENDING = "pending: "
PAID_OUTCOME = "paid: invoice "  # + the number
OUTCOME_MAX = 500


# ---- reading a payload of any API version -------------------------------------------------------


def _str(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value else None


def _int(obj: dict[str, Any], name: str) -> int | None:
    value = obj.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(obj: dict[str, Any], name: str) -> dict[str, Any]:
    value = obj.get(name)
    return value if isinstance(value, dict) else {}


def ref_id(value: Any) -> str | None:
    """The id of a referenced object: an id string, or the object itself when expanded."""
    if isinstance(value, dict):
        return _str(value, "id")
    return value if isinstance(value, str) and value else None


def from_epoch(value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Event:
    """The parts of an event every API version has, read defensively."""

    org_id: uuid.UUID
    id: str
    type: str
    source: str
    created: datetime | None
    obj: dict[str, Any]  # data.object ({} when absent)

    @classmethod
    def of(cls, org_id: uuid.UUID, event: dict[str, Any], source: str) -> Event:
        return cls(
            org_id=org_id,
            id=str(event.get("id") or ""),
            type=str(event.get("type") or ""),
            source=source,
            created=from_epoch(_int(event, "created")),
            obj=_dict(_dict(event, "data"), "object"),
        )

    @property
    def object_id(self) -> str | None:
        return _str(self.obj, "id")

    @property
    def at(self) -> datetime:
        """When it happened: the event's `created`, else now."""
        return self.created or utcnow()

    def log(self) -> Any:
        return log.bind(
            org_id=str(self.org_id), event_id=self.id, event_type=self.type, source=self.source
        )


# ---- storing ----------------------------------------------------------------------------------

# Statements built once (Core, on the table, with bound parameters): the webhook runs them for
# every delivery, and building and compiling an ORM statement each time cost more than the
# database's own work. Both databases speak INSERT … ON CONFLICT DO NOTHING.
_EVENTS: Table = StripeEvent.__table__  # type: ignore[assignment]
# The payload goes in as JSON text: a delivery's exactly as Stripe sent and signed it (no
# parsing back into text), an event read from the API as we serialize it.
_STORE = {
    name: make(_EVENTS)
    .values(payload=text_as_json)
    .on_conflict_do_nothing(index_elements=["org_id", "event_id"])
    .returning(_EVENTS.c.id)
    for name, make, text_as_json in (
        ("postgresql", postgresql.insert, cast(bindparam("b_payload", type_=Text), JSON)),
        ("sqlite", sqlite.insert, type_coerce(bindparam("b_payload", type_=Text), Text)),
    )
}
_FINISH = update(_EVENTS).where(
    _EVENTS.c.org_id == bindparam("b_org_id"), _EVENTS.c.event_id == bindparam("b_event_id")
)
_FINISH_PENDING = _FINISH.where(_EVENTS.c.processed_at.is_(None))


def store(
    session: Session,
    *,
    org_id: uuid.UUID,
    event: dict[str, Any],
    source: str,
    raw: str | None = None,
) -> bool:
    """Insert the event under its unique (org, event id). False when it is already stored (by
    this or another process: the insert waits for a concurrent one and then does nothing).
    `raw`: the JSON text `event` was parsed from, stored as it is."""
    values = _stored_values(Event.of(org_id, event, source), event, raw)
    return session.execute(_STORE[session.get_bind().dialect.name], values).first() is not None


def _stored_values(parsed: Event, event: dict[str, Any], raw: str | None) -> dict[str, Any]:
    """The stored event's columns (`b_payload`: its JSON text), for `store` and
    `ingest_paid`."""
    if parsed.source not in SOURCES:
        raise ValueError(f"unknown event source {parsed.source!r}")
    if not parsed.id:
        raise ValueError("a Stripe event needs an id")
    livemode = event.get("livemode")
    api_version = _str(event, "api_version")
    object_id = parsed.object_id
    return {
        "id": new_id(),
        "org_id": parsed.org_id,
        "event_id": parsed.id,
        "type": _clip(parsed.type, 100),
        "livemode": livemode if isinstance(livemode, bool) else False,
        "api_version": api_version[:64] if api_version else None,
        "object_id": object_id[:255] if object_id else None,
        "created": parsed.created,
        "received_at": utcnow(),
        "source": parsed.source,
        "b_payload": raw if raw is not None else json.dumps(event),
    }


def end_failed(org_id: uuid.UUID, event_id: str, exc: RegentraError, bound: Any) -> str:
    """A pending event whose lookup Stripe refused (not an outage): finished with a "failed"
    outcome in Stripe's words, logged on `bound`. The outcome."""
    outcome = f"failed: {exc.message}"
    with session_scope() as session:
        finish(session, org_id=org_id, event_id=event_id, outcome=outcome, if_pending=True)
    bound.warning("stripe event lookup failed", outcome=outcome)
    return outcome


def finish(
    session: Session,
    *,
    org_id: uuid.UUID,
    event_id: str,
    outcome: str,
    final: bool = True,
    if_pending: bool = False,
) -> None:
    """Write the outcome on the stored event (`processed_at` too when it is final);
    `if_pending`: only on an event not processed yet (a task run twice keeps the first)."""
    session.execute(
        _FINISH_PENDING if if_pending else _FINISH,
        {
            "b_org_id": org_id,
            "b_event_id": event_id,
            "outcome": _clip(outcome, OUTCOME_MAX),
            "processed_at": utcnow() if final else None,
        },
    )


def ingest(
    session: Session,
    *,
    org_id: uuid.UUID,
    event: dict[str, Any],
    source: str,
    raw: str | None = None,
) -> str | None:
    """Store the event (`raw`: the JSON text it was parsed from), then handle it, in the
    caller's transaction. The outcome, or None for an event already stored (nothing is done
    then)."""
    if not store(session, org_id=org_id, event=event, source=source, raw=raw):
        Event.of(org_id, event, source).log().info("stripe event already received")
        return None
    outcome = handle(session, org_id=org_id, event=event, source=source)
    finish(
        session,
        org_id=org_id,
        event_id=str(event["id"]),
        outcome=outcome,
        final=not outcome.startswith(PENDING),
    )
    return outcome


# ---- invoice.paid in one statement (PostgreSQL) -------------------------------------------------
#
# The webhook's common case, a first delivery of `invoice.paid` for an open invoice, is one
# statement that commits on its own (no BEGIN and COMMIT round trips): `transitions.PAY`, the
# paid transition, guarded so that an event already stored moves nothing; the "invoice.paid"
# audit entry and the stored event (with its outcome) written from what it moved. Atomic as one
# statement; the invoice row is locked before the event's key, as reconciliation locks them.
# Any other case (the event stored before, no open invoice with that id) moves and writes
# nothing, and `ingest` then runs as for every other event.
_AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]
_B_ORG = bindparam("b_org_id", type_=_EVENTS.c.org_id.type)
_B_EVENT = bindparam("b_event_id", type_=String)
_B_NOW = bindparam("b_now", type_=_AUDIT.c.created_at.type)
_KNOWN = exists().where(_EVENTS.c.org_id == _B_ORG, _EVENTS.c.event_id == _B_EVENT)
_PAID = transitions.PAY.where(~_KNOWN).cte("paid")
_PAID_AUDIT = (
    postgresql.insert(_AUDIT)
    .from_select(
        [
            "id",
            "org_id",
            "actor_type",
            "actor_user_id",
            "actor_label",
            "action",
            "subject_type",
            "subject_id",
            "details",
            "created_at",
        ],
        select(
            bindparam("b_audit_id", type_=_AUDIT.c.id.type),
            _B_ORG,
            literal(ActorType.stripe.value, String),
            null(),
            literal(f"Stripe ({'webhook'})", String),
            literal("invoice.paid", String),
            literal("invoice", String),
            cast(_PAID.c.id, String),
            func.json_build_object(
                *chain.from_iterable(
                    (literal(key, String), value)
                    for key, value in transitions.paid_details(
                        message=literal(transitions.PAID_BY["webhook"], String),
                        number=_PAID.c.number,
                        amount_paid=_PAID.c.amount_paid,
                        stripe_invoice_id=bindparam("b_stripe_invoice_id", type_=String),
                        stripe_event_id=_B_EVENT,
                    ).items()
                ),
                type_=JSON,
            ),
            _B_NOW,
        ),
    )
    .cte("paid_audit")
)
_STORED_COLUMNS = (
    *("id", "org_id", "event_id", "type", "livemode"),
    *("api_version", "object_id", "created", "received_at", "source"),
)
_PAID_STORED = (
    postgresql.insert(_EVENTS)
    .from_select(
        [*_STORED_COLUMNS, "payload", "outcome", "processed_at"],
        select(
            *(
                bindparam(f"b_ev_{name}", type_=_EVENTS.c[name].type)
                if name not in ("org_id", "event_id")
                else {"org_id": _B_ORG, "event_id": _B_EVENT}[name]
                for name in _STORED_COLUMNS
            ),
            cast(bindparam("b_payload", type_=Text), JSON),
            literal(PAID_OUTCOME, String) + _PAID.c.number,
            _B_NOW,
        ).select_from(_PAID),
    )
    .on_conflict_do_nothing(index_elements=["org_id", "event_id"])
    .returning(_EVENTS.c.id)
    .cte("paid_stored")
)
# One row whatever happened: what was paid (if anything), and whether the event was stored
# before the statement began (a redelivery).
_PAY_AT_ONCE = select(
    *(select(column).scalar_subquery().label(column.name) for column in _PAID.c),
    select(_PAID_STORED.c.id).scalar_subquery().label("stored"),
    _KNOWN.label("known"),
).add_cte(_PAID_AUDIT)


@dataclass(frozen=True)
class AtOnce:
    """What `ingest_paid` did: `done` (else the caller runs `ingest`) and the outcome, as
    `ingest`'s (None for an event already stored)."""

    done: bool
    outcome: str | None = None


def ingest_paid(session: Session, *, org_id: uuid.UUID, event: dict[str, Any], raw: str) -> AtOnce:
    """A delivered `invoice.paid` on PostgreSQL, in one statement (see above; `session` from
    `session_scope(one_statement=True)`): done when it paid an open invoice or found the event
    stored before (a redelivery: nothing to do). Not done, having moved and written nothing, in
    any other case or on another database: the caller then calls `ingest`."""
    if session.get_bind().dialect.name != "postgresql":
        return AtOnce(done=False)
    ev = Event.of(org_id, event, "webhook")
    stripe_invoice_id = ev.object_id
    if ev.type != "invoice.paid" or stripe_invoice_id is None:
        return AtOnce(done=False)
    values = _stored_values(ev, event, raw)
    row = session.execute(
        _PAY_AT_ONCE,
        {
            # Not named as columns: a column's name among the parameters would make it part of
            # the SET and VALUES clauses of the statement's UPDATE and INSERTs.
            **{f"b_ev_{name}": value for name, value in values.items() if name != "b_payload"},
            "b_payload": values["b_payload"],
            "b_org_id": org_id,
            "b_event_id": ev.id,
            "b_stripe_invoice_id": stripe_invoice_id,
            "b_paid_at": _paid_at(ev),
            "b_amount_paid": amount_of(ev.obj, "amount_paid"),
            "b_now": values["received_at"],
            "b_audit_id": new_id(),
        },
    ).one()
    if row.known:
        ev.log().info("stripe event already received")
        return AtOnce(done=True)
    if row.id is None:
        return AtOnce(done=False)
    outcome = PAID_OUTCOME + str(row.number)
    if row.stored is None:  # stored by another delivery after this one's snapshot
        ev.log().warning("stripe event stored meanwhile by another delivery")
    transitions.hand_to_bookkeeping(
        session,
        org_id=org_id,
        invoice_id=row.id,
        task=transitions.PAYMENT_BRIDGE_TASK,
        connected=row.quickbooks,
    )
    ev.log().info("stripe event handled", outcome=outcome)
    return AtOnce(done=True, outcome=outcome)


# ---- acting -----------------------------------------------------------------------------------


def handle(session: Session, *, org_id: uuid.UUID, event: dict[str, Any], source: str) -> str:
    """Act on one verified event of `org_id` (see the module doc); the outcome. Never calls
    Stripe; never commits."""
    if source not in SOURCES:
        raise ValueError(f"unknown event source {source!r}")
    parsed = Event.of(org_id, event, source)
    handler = _HANDLERS.get(parsed.type)
    outcome = handler(session, parsed) if handler is not None else "stored"
    parsed.log().info("stripe event handled", outcome=outcome)
    return outcome


def _invoice_of(session: Session, ev: Event) -> tuple[str | None, Invoice | None]:
    stripe_invoice_id = ev.object_id
    if stripe_invoice_id is None:
        return None, None
    found = invoices.find_by_stripe_id(
        session, org_id=ev.org_id, stripe_invoice_id=stripe_invoice_id
    )
    return stripe_invoice_id, found


def _unknown(ev: Event, stripe_invoice_id: str | None) -> str:
    if stripe_invoice_id is None:
        ev.log().warning("stripe invoice event without data.object.id: ignored")
        return "ignored: the event names no invoice (data.object.id)"
    ev.log().info("stripe event for an invoice this org does not have: ignored")
    return f"ignored: no invoice of this org has Stripe id {stripe_invoice_id}"


def _paid_at(ev: Event) -> datetime:
    """When an invoice.paid event says the invoice was paid, else when the event happened."""
    return from_epoch(_int(_dict(ev.obj, "status_transitions"), "paid_at")) or ev.at


def _invoice_paid(session: Session, ev: Event) -> str:
    stripe_invoice_id = ev.object_id
    if stripe_invoice_id is None:
        return _unknown(ev, None)
    # The transition first (the common case, one statement); the invoice is looked up only
    # to say why nothing moved.
    moved = transitions.mark_paid(
        session,
        org_id=ev.org_id,
        stripe_invoice_id=stripe_invoice_id,
        paid_at=_paid_at(ev),
        amount_paid=amount_of(ev.obj, "amount_paid"),
        source=ev.source,
        stripe_event_id=ev.id,
    )
    if moved is not None:
        return PAID_OUTCOME + str(moved.number)
    _, invoice = _invoice_of(session, ev)
    if invoice is None:
        return _unknown(ev, stripe_invoice_id)
    session.refresh(invoice)
    return f"no change: invoice {invoice.number} is {invoice.status}"


def decline_reason(error: dict[str, Any]) -> str | None:
    """Why a payment failed, from a PaymentIntent's `last_payment_error` (its `message`, and
    the `decline_code` when it adds something), or None when it says nothing."""
    message = _str(error, "message")
    code = _str(error, "decline_code") or _str(error, "code")
    if message and code and code.replace("_", " ") not in message.lower():
        return f"{message} ({code.replace('_', ' ')})"
    return message or (code.replace("_", " ") if code else None)


def _failure_message(obj: dict[str, Any]) -> str | None:
    """Why a payment failed, when the payload says: only older API versions put the invoice's
    PaymentIntent (expanded) on it. (`last_finalization_error` is about finalizing, not
    paying.)"""
    return decline_reason(_dict(_dict(obj, "payment_intent"), "last_payment_error"))


def _payment_succeeded(session: Session, ev: Event) -> str:
    stripe_invoice_id, invoice = _invoice_of(session, ev)
    if stripe_invoice_id is None or invoice is None:
        return _unknown(ev, stripe_invoice_id)
    amount = amount_of(ev.obj, "amount_paid")
    transitions.note_stripe_event(
        session,
        invoice=invoice,
        action="invoice.payment_succeeded",
        message="payment succeeded in Stripe",
        details={
            "stripe_event_id": ev.id,
            "stripe_invoice_id": stripe_invoice_id,
            **({"amount_paid": amount} if amount is not None else {}),
        },
        source=ev.source,
    )
    return f"noted: payment succeeded for invoice {invoice.number}"


def _payment_failed(session: Session, ev: Event) -> str:
    stripe_invoice_id, invoice = _invoice_of(session, ev)
    if stripe_invoice_id is None or invoice is None:
        return _unknown(ev, stripe_invoice_id)
    reason = _failure_message(ev.obj)
    attempts = _int(ev.obj, "attempt_count")
    message = f"payment failed: {reason}" if reason else "payment failed"
    transitions.note_stripe_event(
        session,
        invoice=invoice,
        action="invoice.payment_failed",
        message=message,
        details={
            "stripe_event_id": ev.id,
            "stripe_invoice_id": stripe_invoice_id,
            **({"reason": reason} if reason else {}),
            **({"attempt_count": attempts} if attempts is not None else {}),
        },
        source=ev.source,
    )
    if ev.created is not None:
        # A bank payment noted as processing before this failure has failed with it (one
        # that started in the same second or later is kept: the order is not known then).
        transitions.clear_payment_processing(
            session, org_id=ev.org_id, stripe_invoice_id=stripe_invoice_id, before=ev.created
        )
    if reason is not None:
        transitions.note_payment_failure(
            session, org_id=ev.org_id, stripe_invoice_id=stripe_invoice_id, reason=reason, at=ev.at
        )
        return f"noted: {message} for invoice {invoice.number}"
    # Current API versions put no PaymentIntent on the invoice: a task asks Stripe for the
    # decline reason after commit (no Stripe call on the webhook's request).
    created = int(ev.created.timestamp()) if ev.created is not None else None
    queue.enqueue(session, PAYMENT_FAILURE_TASK, str(ev.org_id), stripe_invoice_id, ev.id, created)
    return f"{PENDING}noted: {message} for invoice {invoice.number}; looking up the reason"


def _payment_processing(session: Session, ev: Event) -> str:
    intent_id = ev.object_id
    if intent_id is None:
        ev.log().warning("payment_intent.processing without data.object.id: ignored")
        return "ignored: the event names no PaymentIntent (data.object.id)"
    # Older API versions: the invoice's id (or the expanded invoice) is on the PaymentIntent.
    stripe_invoice_id = ref_id(ev.obj.get("invoice"))
    if stripe_invoice_id is not None:
        return mark_processing(
            session, org_id=ev.org_id, stripe_invoice_id=stripe_invoice_id, at=ev.at
        )
    if "invoice" in ev.obj:  # an older version saying it is not an invoice's payment
        return "ignored: not an invoice's payment"
    created = int(ev.created.timestamp()) if ev.created is not None else None
    queue.enqueue(session, PAYMENT_PROCESSING_TASK, str(ev.org_id), intent_id, ev.id, created)
    return f"{PENDING}looking up the invoice of {intent_id} in Stripe"


def mark_processing(
    session: Session, *, org_id: uuid.UUID, stripe_invoice_id: str, at: datetime
) -> str:
    """Note "bank payment processing" on the org's open invoice with this Stripe id."""
    moved = transitions.mark_payment_processing(
        session, org_id=org_id, stripe_invoice_id=stripe_invoice_id, at=at
    )
    if moved is not None:
        return f"processing noted: invoice {moved.number}"
    found = invoices.find_by_stripe_id(session, org_id=org_id, stripe_invoice_id=stripe_invoice_id)
    if found is None:
        log.info(
            "bank payment processing for an invoice this org does not have: ignored",
            org_id=str(org_id),
            stripe_invoice_id=stripe_invoice_id,
        )
        return f"ignored: no invoice of this org has Stripe id {stripe_invoice_id}"
    session.refresh(found)
    if found.payment_processing_at is not None and found.status in invoices.OPEN:
        return f"no change: invoice {found.number} already noted as processing"
    return f"no change: invoice {found.number} is {found.status}"


def _movement(session: Session, ev: Event) -> str:
    """A refund, dispute or payout event: `MOVEMENT_TASK` reads the object again through the
    pinned client after commit and mirrors it (`movements.sync`)."""
    object_id = ev.object_id
    if object_id is None:
        return "ignored: the event names no object (data.object.id)"
    created = int(ev.created.timestamp()) if ev.created is not None else None
    kind = MOVEMENT_EVENTS[ev.type]
    queue.enqueue(session, MOVEMENT_TASK, str(ev.org_id), object_id, ev.id, created, kind)
    return f"{PENDING}reading {kind} {object_id} from Stripe"


_HANDLERS: dict[str, Callable[[Session, Event], str]] = {
    "invoice.paid": _invoice_paid,
    "invoice.payment_succeeded": _payment_succeeded,
    "invoice.payment_failed": _payment_failed,
    "payment_intent.processing": _payment_processing,
    **dict.fromkeys(MOVEMENT_EVENTS, _movement),
}
# The events an org's webhook endpoint must send (the setup text lists them): those acted on.
WEBHOOK_EVENTS: tuple[str, ...] = tuple(_HANDLERS)


# ---- the `stripe.payment_processing` task's body (calls Stripe; opens its own sessions) --------


def _invoice_ids(payments: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for payment in payments:
        stripe_invoice_id = ref_id(payment.get("invoice"))
        if stripe_invoice_id and stripe_invoice_id not in found:
            found.append(stripe_invoice_id)
    return found


def resolve_processing(
    org_id: uuid.UUID, payment_intent_id: str, event_id: str, created: int | None
) -> str:
    """Find the invoice a processing PaymentIntent pays (newer API versions do not say it on
    the PaymentIntent) through the org's pinned client, and note it as processing. Idempotent.
    Stripe outages raise `StripeUnavailable` (transient: the task retries); anything else
    Stripe refuses ends the event with a "failed" outcome."""
    bound = log.bind(org_id=str(org_id), event_id=event_id, payment_intent=payment_intent_id)
    at = from_epoch(created) or utcnow()
    with session_scope() as session:
        try:
            stripe = client.for_org(session, org_id)
        except StripeNotConnected:
            outcome = "ignored: Stripe is no longer connected"
            finish(session, org_id=org_id, event_id=event_id, outcome=outcome, if_pending=True)
            bound.info("payment processing not looked up", outcome=outcome)
            return outcome
    # No transaction is open while Stripe answers.
    try:
        intent = stripe.call(
            lambda c: c.v1.payment_intents.retrieve(payment_intent_id),
            op="payment_intents.retrieve",
        ).to_dict()
        status = _str(intent, "status")
        payments: list[dict[str, Any]] = []
        if status == "processing":
            payments = list(
                stripe.iterate(
                    lambda c: c.v1.invoice_payments.list(
                        params={
                            "payment": {
                                "type": "payment_intent",
                                "payment_intent": payment_intent_id,
                            },
                            "limit": 10,
                        }
                    ),
                    op="invoice_payments.list",
                )
            )
    except StripeUnavailable:
        raise
    except RegentraError as exc:
        return end_failed(org_id, event_id, exc, bound.bind(lookup="payment processing"))
    with session_scope() as session:
        if status != "processing":
            outcome = f"no change: {payment_intent_id} is no longer processing ({status})"
        else:
            found = _invoice_ids(payments)
            outcomes = [
                mark_processing(session, org_id=org_id, stripe_invoice_id=i, at=at) for i in found
            ]
            outcome = "; ".join(outcomes) or "ignored: not an invoice's payment"
        finish(session, org_id=org_id, event_id=event_id, outcome=outcome, if_pending=True)
    bound.info("payment processing looked up", outcome=outcome)
    return outcome


# The events a task finishes (it asks Stripe), by the task that does.
_LOOKUPS = {
    "payment_intent.processing": PAYMENT_PROCESSING_TASK,
    "invoice.payment_failed": PAYMENT_FAILURE_TASK,
    **dict.fromkeys(MOVEMENT_EVENTS, MOVEMENT_TASK),
}


def requeue_pending(
    *, older_than_s: float = 600, within_s: float = 86_400, limit: int = 500
) -> int:
    """Enqueue again the lookups of events still pending after `older_than_s` seconds (a crash
    or an outage outlasting the retries dropped them), for events under `within_s` old."""
    now = utcnow()
    with session_scope() as session:
        rows = session.execute(
            select(
                StripeEvent.org_id,
                StripeEvent.event_id,
                StripeEvent.object_id,
                StripeEvent.created,
                StripeEvent.type,
            )
            .where(
                StripeEvent.processed_at.is_(None),
                StripeEvent.type.in_(tuple(_LOOKUPS)),
                StripeEvent.outcome.startswith(PENDING),
                StripeEvent.received_at < now - timedelta(seconds=older_than_s),
                StripeEvent.received_at > now - timedelta(seconds=within_s),
            )
            .order_by(StripeEvent.received_at)
            .limit(limit)
        ).all()
        for org_id, event_id, object_id, created, type_ in rows:
            if object_id:
                epoch = int(created.timestamp()) if created is not None else None
                kind = (MOVEMENT_EVENTS[type_],) if type_ in MOVEMENT_EVENTS else ()
                task = _LOOKUPS[type_]
                queue.enqueue(session, task, str(org_id), object_id, event_id, epoch, *kind)
    return len(rows)
