"""Seats and compliance tenants on each org's subscription follow what the org uses.

Every change that may alter the counts (`billing.usage_changed`: a user added, deactivated,
reactivated or given another role; a client's compliance flag) bumps the org's
`usage_version` and enqueues `platform.sync_quantities`. The task:

1. takes the org's sync lease (`sync_lease_until`, an atomic UPDATE): one worker syncs an org
   at a time, whatever the number of workers; a task that finds the lease taken retries later
   only if a change is still unsynced;
2. reads the subscription's items from Stripe and compares them with the counts (seats = active
   users, compliance tenants = clients with compliance enabled);
3. when they differ, waits for the subscription's slot (`REGENTRA_PLATFORM_QUANTITY_UPDATES_PER_
   HOUR`, Stripe allows 200 quantity updates per hour per subscription, shared by all processes),
   reads the counts again (a burst of changes has often ended by then) and sends ONE update
   carrying the final counts (`proration_behavior=create_prorations`), adding the compliance
   add-on item when the count leaves 0 and deleting it when it reaches 0; audited;
4. releases the lease only if no change came meanwhile (`usage_version` unchanged); otherwise
   it goes round again.

Items are told apart by product (`regentra_psa_seat`, `regentra_compliance_tenant`: ids of our
own), so a subscription on an older price (after an amount change) is still recognized. The
daily drift check (`sync_all`) runs the same sync for every subscribed org: what it corrects is
audited like any update.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update

from regentra import queue
from regentra.audit.service import Actor, record
from regentra.billing import service as billing
from regentra.config import get_settings
from regentra.db import session_scope
from regentra.integrations.platform.setup import (
    COMPLIANCE_PRODUCT,
    COMPLIANCE_TENANT,
    SEAT_PRODUCT,
    current,
    product_of,
)
from regentra.integrations.stripe.client import (
    OrgStripe,
    fingerprint,
    for_platform,
    idempotency_key,
    request_options,
)
from regentra.kit.time import utcnow
from regentra.models import OrgBilling

log = structlog.get_logger(__name__)

LEASE_SECONDS = 300
SYNCABLE = ("active", "trialing", "past_due", "unpaid", "incomplete")


class SyncPending(queue.Transient):
    """Another worker holds the org's sync lease while a change is unsynced: retry later."""


def _take_lease(org_id: uuid.UUID) -> bool:
    now = utcnow()
    with session_scope() as session:
        taken = session.execute(
            update(OrgBilling)
            .where(
                OrgBilling.org_id == org_id,
                or_(OrgBilling.sync_lease_until.is_(None), OrgBilling.sync_lease_until < now),
            )
            .values(sync_lease_until=now + timedelta(seconds=LEASE_SECONDS))
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(taken, "rowcount", 0))


def _release(org_id: uuid.UUID, version: int) -> bool:
    """Release the lease, noting `version` as synced, unless a change came meanwhile (then
    the lease is kept, renewed, and False)."""
    with session_scope() as session:
        released = session.execute(
            update(OrgBilling)
            .where(OrgBilling.org_id == org_id, OrgBilling.usage_version == version)
            .values(synced_version=version, sync_lease_until=None)
            .execution_options(synchronize_session=False)
        )
        if getattr(released, "rowcount", 0):
            return True
        session.execute(
            update(OrgBilling)
            .where(OrgBilling.org_id == org_id)
            .values(
                synced_version=version,
                sync_lease_until=utcnow() + timedelta(seconds=LEASE_SECONDS),
            )
            .execution_options(synchronize_session=False)
        )
        return False


def _drop_lease(org_id: uuid.UUID) -> None:
    with session_scope() as session:
        session.execute(
            update(OrgBilling)
            .where(OrgBilling.org_id == org_id)
            .values(sync_lease_until=None)
            .execution_options(synchronize_session=False)
        )


def _usage(org_id: uuid.UUID) -> tuple[int, int, int] | None:
    """(usage_version, seats, compliance tenants), or None when there is nothing to sync."""
    with session_scope() as session:
        row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org_id))
        if row is None or not row.stripe_subscription_id:
            return None
        if row.subscription_status not in SYNCABLE:
            return None
        return (
            row.usage_version,
            max(billing.seats(session, org_id), 1),
            billing.compliance_tenants(session, org_id),
        )


def _changes(
    items: list[dict[str, Any]], seats: int, tenants: int, compliance_price: str
) -> list[dict[str, Any]]:
    seat = next((i for i in items if product_of(i) == SEAT_PRODUCT), None)
    tenant = next((i for i in items if product_of(i) == COMPLIANCE_PRODUCT), None)
    changes: list[dict[str, Any]] = []
    if seat is not None and seat.get("quantity") != seats:
        changes.append({"id": seat["id"], "quantity": seats})
    if tenants and tenant is None:
        changes.append({"price": compliance_price, "quantity": tenants})
    elif tenants and tenant is not None and tenant.get("quantity") != tenants:
        changes.append({"id": tenant["id"], "quantity": tenants})
    elif not tenants and tenant is not None:
        changes.append({"id": tenant["id"], "deleted": True})
    return changes


def _quantities(items: list[dict[str, Any]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for item in items:
        found[str(product_of(item))] = int(item.get("quantity") or 0)
    return {
        "seats": found.get(SEAT_PRODUCT, 0),
        "compliance_tenants": found.get(COMPLIANCE_PRODUCT, 0),
    }


def _one_round(stripe: OrgStripe, org_id: uuid.UUID) -> tuple[int, str] | None:
    """Compare and, if need be, update once: (the usage version it synced, what it did), or
    None when there is no subscription to sync any more."""
    usage = _usage(org_id)
    if usage is None:
        return None
    version, seats, tenants = usage
    with session_scope() as session:
        row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org_id))
        platform = current(session)
        assert row is not None and row.stripe_subscription_id and platform is not None
        sub_id = row.stripe_subscription_id
        compliance_price = platform.prices[COMPLIANCE_TENANT]
    sub = stripe.call(
        lambda c: c.v1.subscriptions.retrieve(sub_id), op="subscriptions.retrieve"
    ).to_dict()
    items = sub["items"]["data"]
    if not _changes(items, seats, tenants, compliance_price):
        return version, "in step"
    queue.pace(
        f"platform-quantities:{sub_id}",
        get_settings().platform_quantity_updates_per_hour / 3600.0,
    )
    version, seats, tenants = _usage(org_id) or usage  # a burst has often ended by now
    changes = _changes(items, seats, tenants, compliance_price)
    if not changes:
        return version, "in step"
    params = {"items": changes, "proration_behavior": "create_prorations"}
    # The quantities Stripe had are part of the key: correcting a drift back to counts sent
    # before is a new request, not a replay of the earlier one.
    digest = fingerprint({**params, "v": version, "had": _quantities(items)})
    key = idempotency_key("platform-quantities", f"{sub_id}:{digest}")
    stripe.call(
        lambda c: c.v1.subscriptions.update(sub_id, params, request_options(key)),
        op="subscriptions.update",
    )
    after = {"seats": seats, "compliance_tenants": tenants}
    with session_scope() as session:
        record(
            session,
            org_id=org_id,
            actor=Actor.system(),
            action="billing.quantities_updated",
            subject_type="org",
            subject_id=org_id,
            details={"from": _quantities(items), "to": after, "subscription": sub_id},
        )
    log.info("platform quantities updated", org_id=str(org_id), **after)
    return version, f"updated: {seats} seats, {tenants} compliance tenants"


def sync(org_id: uuid.UUID) -> str:
    """Bring the org's subscription quantities to its counts (module doc); what it did."""
    settings = get_settings()
    if not settings.platform_billing:
        return "billing is off"
    if _usage(org_id) is None:
        return "no subscription to sync"
    if not _take_lease(org_id):
        with session_scope() as session:
            row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org_id))
            if row is not None and row.synced_version < row.usage_version:
                raise SyncPending("another worker is syncing this organization's quantities")
        return "another worker synced it"
    stripe = for_platform(settings.platform_stripe_secret_key)
    done = "in step"
    try:
        while True:
            result = _one_round(stripe, org_id)
            if result is None:
                _drop_lease(org_id)
                return "no subscription to sync"
            version, did = result
            if did != "in step":
                done = did
            if _release(org_id, version):
                return done
    except BaseException:
        _drop_lease(org_id)
        raise


def subscribed_orgs() -> list[uuid.UUID]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(OrgBilling.org_id).where(
                    OrgBilling.stripe_subscription_id.is_not(None),
                    OrgBilling.subscription_status.in_(SYNCABLE),
                )
            )
        )
