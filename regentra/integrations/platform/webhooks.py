"""The platform account's webhook, `POST /api/webhooks/platform/stripe`: each org's
Regentra subscription as Stripe reports it.

A delivery is verified with the platform's signing secret
(`REGENTRA_PLATFORM_STRIPE_WEBHOOK_SECRET`) by the SDK, then, in one transaction, stored in
`platform_events` under its unique event id (a duplicate finds it and does nothing) and
handled:

- `checkout.session.completed`: the org (the session's `client_reference_id`, checked against
  the org's platform Customer) gets the subscription's id; "activating…" ends;
- `customer.subscription.created|updated|deleted`: the subscription's snapshot (status,
  plan, cancel at period end, period end) is applied to the org whose Customer it is, unless
  a later snapshot was applied already (Stripe does not order events: `created` decides);
- `invoice.paid`: a `past_due` subscription is active again; `invoice.payment_failed` and
  `invoice.payment_action_required`: an active one is `past_due` (the subscription's own
  update, when it comes, has the last word).

Events for a Customer that belongs to no org are stored and ignored. A rejected delivery
stores nothing and its caller gets a generic answer; the reason is logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from regentra.config import get_settings
from regentra.db import session_scope
from regentra.errors import NotFound, RegentraError
from regentra.integrations.platform.setup import PLANS, current
from regentra.integrations.stripe.client import construct_event, for_platform
from regentra.models import OrgBilling, PlatformEvent

log = structlog.get_logger(__name__)

REJECTED = "webhook rejected"
SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
PAYMENT_FAILED = ("invoice.payment_failed", "invoice.payment_action_required")
LIVE = ("active", "trialing")
OWING = ("past_due", "unpaid", "incomplete")


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def receive(*, payload: bytes, signature: str | None) -> Outcome:
    """Verify, store once and handle one delivery (module doc). Billing off: 404, as if
    there were no such URL."""
    settings = get_settings()
    if not settings.platform_billing:
        raise NotFound("not found")
    secret = settings.platform_stripe_webhook_secret
    if not secret:
        log.warning(
            "platform webhook rejected",
            reason="REGENTRA_PLATFORM_STRIPE_WEBHOOK_SECRET is not set "
            "(`regentra platform setup` prints it when it makes the endpoint)",
        )
        return _rejected()
    if not signature:
        log.warning("platform webhook rejected", reason="the Stripe-Signature header is missing")
        return _rejected()
    try:
        event = construct_event(payload, signature, secret)
    except RegentraError as exc:
        log.warning("platform webhook rejected", reason=exc.message)
        return _rejected()
    with session_scope() as session:
        stored = _store(session, event, source="webhook")
        if stored is None:
            return Outcome(200, {"received": True, "duplicate": True})
        outcome, org_id = handle(session, event)
        stored.outcome, stored.org_id = outcome[:500], org_id
    log.info(
        "platform event handled", event_id=event["id"], event_type=event["type"], outcome=outcome
    )
    return Outcome(200, {"received": True})


def _rejected() -> Outcome:
    return Outcome(400, {"error": {"code": "webhook_rejected", "message": REJECTED}})


def _store(session: Session, event: dict[str, Any], *, source: str) -> PlatformEvent | None:
    """INSERT the event unless its id is stored (then None): one row per event id, even
    when two deliveries race (the unique index decides)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row_id = uuid.uuid4()
    inserted = session.execute(
        insert(PlatformEvent)
        .values(
            id=row_id,
            event_id=event["id"],
            type=event["type"],
            created=int(event.get("created") or 0),
            source=source,
            payload=event,
            received_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(PlatformEvent.id)
    ).first()
    if inserted is None:
        return None
    return session.get(PlatformEvent, row_id)


def _billing_of_customer(session: Session, customer: Any) -> OrgBilling | None:
    if not isinstance(customer, str) or not customer:
        return None
    return session.scalar(
        select(OrgBilling).where(OrgBilling.stripe_customer_id == customer).with_for_update()
    )


def handle(session: Session, event: dict[str, Any]) -> tuple[str, uuid.UUID | None]:
    """Apply one event; its outcome in words and the org it concerned (None: no org)."""
    kind = event["type"]
    obj = (event.get("data") or {}).get("object") or {}
    created = int(event.get("created") or 0)
    row = _billing_of_customer(session, obj.get("customer"))
    if row is None:
        return "ignored: a customer that belongs to no organization", None
    if kind == "checkout.session.completed":
        reference = obj.get("client_reference_id")
        if reference != str(row.org_id):
            return "ignored: the session names another organization", None
        if row.checkout_session_id == obj.get("id"):
            row.checkout_session_id = None
        if obj.get("subscription") and row.stripe_subscription_id is None:
            row.stripe_subscription_id = str(obj["subscription"])
        return "checkout completed", row.org_id
    if kind in SUBSCRIPTION_EVENTS:
        return apply_subscription(session, row, obj, created, refetch=_retrieve), row.org_id
    if kind == "invoice.paid" or kind in PAYMENT_FAILED:
        return _apply_invoice(row, kind, obj, created), row.org_id
    return f"ignored: {kind} is not handled", row.org_id


def apply_subscription(
    session: Session,
    row: OrgBilling,
    sub: dict[str, Any],
    created: int,
    *,
    refetch: Callable[[str], dict[str, Any]] | None = None,
) -> str:
    """Apply a subscription snapshot of time `created` unless a later one was applied; on a
    tie (two states of the same second, in an unknown order) Stripe's current state, read
    through `refetch`, decides."""
    if row.stripe_subscription_id not in (None, sub.get("id")) and row.subscription_status in (
        *LIVE,
        *OWING,
    ):
        return "ignored: the organization has another live subscription"
    if created < row.applied_event_created:
        return "ignored: a later state of the subscription was applied already"
    if created == row.applied_event_created and refetch is not None:
        sub = refetch(str(sub["id"]))
    items = ((sub.get("items") or {}).get("data")) or []
    row.stripe_subscription_id = str(sub["id"])
    row.subscription_status = str(sub.get("status"))
    row.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    ends = [i.get("current_period_end") for i in items if i.get("current_period_end")]
    row.current_period_end = datetime.fromtimestamp(min(ends), UTC) if ends else None
    row.plan = _plan_of(session, items) or row.plan
    row.checkout_session_id = None
    row.applied_event_created = created
    return f"subscription {row.subscription_status}" + (
        ", cancels at period end" if row.cancel_at_period_end else ""
    )


def _retrieve(subscription_id: str) -> dict[str, Any]:
    stripe = for_platform(get_settings().platform_stripe_secret_key)
    found = stripe.call(
        lambda c: c.v1.subscriptions.retrieve(subscription_id), op="subscriptions.retrieve"
    )
    return dict(found.to_dict())


def _plan_of(session: Session, items: list[dict[str, Any]]) -> str | None:
    platform = current(session)
    prices = platform.prices if platform else {}
    fee_ids = {prices.get(plan.fee): plan.name for plan in PLANS.values()}
    for item in items:
        price = item.get("price") or {}
        name = fee_ids.get(price.get("id"))
        if name:
            return name
    return None


def _apply_invoice(row: OrgBilling, kind: str, invoice: dict[str, Any], created: int) -> str:
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription = parent.get("subscription") or invoice.get("subscription")
    if subscription is None or subscription != row.stripe_subscription_id:
        return "ignored: not the organization's subscription"
    if created < row.applied_event_created:
        return "ignored: a later state of the subscription was applied already"
    if kind == "invoice.paid" and row.subscription_status in OWING:
        row.subscription_status = "active"
        row.applied_event_created = created
        return "paid: subscription active again"
    if kind in PAYMENT_FAILED and row.subscription_status in LIVE:
        row.subscription_status = "past_due"
        row.applied_event_created = created
        return "payment failed: subscription past due"
    return f"{kind}: nothing to change"
