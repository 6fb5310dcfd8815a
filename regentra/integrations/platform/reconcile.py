"""Hourly: each org's subscription as Stripe has it now, for what a lost platform webhook
missed (a checkout completed, a payment failed, a cancellation in the Dashboard).

For every org with a platform Customer, its subscriptions are listed (`status=all`) and the
one to follow (the org's known subscription, else its newest that is not
`incomplete_expired`) is applied as of now, so an older event arriving later is ignored. One
org's failure is logged and does not stop the others."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from sqlalchemy import select

from regentra.config import get_settings
from regentra.db import session_scope
from regentra.errors import RegentraError
from regentra.integrations.platform.webhooks import LIVE, OWING, apply_subscription
from regentra.integrations.stripe.client import OrgStripe, for_platform
from regentra.models import OrgBilling

log = structlog.get_logger(__name__)


def customers() -> list[tuple[uuid.UUID, str]]:
    with session_scope() as session:
        rows = session.execute(
            select(OrgBilling.org_id, OrgBilling.stripe_customer_id).where(
                OrgBilling.stripe_customer_id.is_not(None)
            )
        ).all()
    return [(org_id, str(customer)) for org_id, customer in rows]


def _follow(subs: list[dict[str, Any]], known: str | None) -> dict[str, Any] | None:
    """The subscription to follow: the newest live one, else the org's known one, else the
    newest that ever started."""

    def newest(found: list[dict[str, Any]]) -> dict[str, Any] | None:
        return max(found, key=lambda s: int(s.get("created") or 0)) if found else None

    live = [s for s in subs if s.get("status") in (*LIVE, *OWING)]
    known_one = [s for s in subs if s.get("id") == known]
    started = [s for s in subs if s.get("status") != "incomplete_expired"]
    return newest(live) or newest(known_one) or newest(started)


def reconcile_org(stripe: OrgStripe, org_id: uuid.UUID, customer: str) -> str:
    subs = list(
        stripe.iterate(
            lambda c: c.v1.subscriptions.list(
                params={"customer": customer, "status": "all", "limit": 100}
            ),
            op="subscriptions.list",
        )
    )
    with session_scope() as session:
        row = session.scalar(
            select(OrgBilling).where(OrgBilling.org_id == org_id).with_for_update()
        )
        if row is None:
            return "no billing row"
        chosen = _follow(subs, row.stripe_subscription_id)
        if chosen is None:
            return "no subscription in Stripe"
        before = (row.subscription_status, row.plan, row.cancel_at_period_end)
        if row.stripe_subscription_id != chosen["id"]:  # a new one: follow it from now on
            row.stripe_subscription_id, row.applied_event_created = None, 0
        # As of now (or of the last applied event, if the platform's clock ran ahead of ours):
        # what Stripe has now is later than any event sent before.
        as_of = max(int(time.time()), row.applied_event_created)
        outcome = apply_subscription(session, row, chosen, as_of)
        after = (row.subscription_status, row.plan, row.cancel_at_period_end)
    return outcome if before != after else "in step"


def reconcile_all() -> dict[uuid.UUID, str]:
    """Every org with a platform Customer; what happened to each."""
    settings = get_settings()
    if not settings.platform_billing:
        return {}
    stripe = for_platform(settings.platform_stripe_secret_key)
    results: dict[uuid.UUID, str] = {}
    for org_id, customer in customers():
        try:
            results[org_id] = reconcile_org(stripe, org_id, customer)
        except RegentraError as exc:
            log.warning("platform reconciliation failed", org_id=str(org_id), error=exc.message)
            results[org_id] = f"failed: {exc.message}"
        if results[org_id] != "in step":
            log.info(
                "platform subscription reconciled", org_id=str(org_id), outcome=results[org_id]
            )
    return results
