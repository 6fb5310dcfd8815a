"""An org's billing status, from its `org_billing` row (the platform Stripe account's facts)
and the trial, and what it allows.

- Billing off (no platform key: self-hosted installs): every org is `active`.
- No subscription: `trial` for `REGENTRA_PLATFORM_TRIAL_DAYS` from the org's creation, or
  from when billing was switched on (the first `regentra platform setup`) for orgs older than
  that; then `trial_over`.
- A subscription: Stripe's status mapped (`STATUS_OF`): `active`, `past_due` or `canceled`.

Everything keeps working in every status, except sending invoices after the trial without a
subscription, or with a canceled one (`require_can_send`: 409 `subscription_required`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from regentra import queue
from regentra.billing.errors import SubscriptionRequired
from regentra.config import get_settings
from regentra.kit.time import as_utc, utcnow
from regentra.models import (
    PLATFORM_SETTINGS_ID,
    Client,
    Org,
    OrgBilling,
    PlatformSettings,
    User,
)

# Stripe's subscription statuses → the org's.
STATUS_OF = {
    "trialing": "active",
    "active": "active",
    "past_due": "past_due",
    "unpaid": "past_due",
    "incomplete": "past_due",
    "canceled": "canceled",
    "incomplete_expired": "canceled",
    "paused": "canceled",
}
SENDING_BLOCKED = {"trial_over", "canceled"}
# Declared in integrations/platform/tasks.py; enqueued here by name.
SYNC_QUANTITIES_TASK = "platform.sync_quantities"


@dataclass(frozen=True)
class BillingState:
    billing_on: bool
    status: str  # active | trial | trial_over | past_due | canceled
    plan: str | None = None
    subscription_status: str | None = None  # Stripe's, as given
    trial_ends_at: datetime | None = None
    cancel_at_period_end: bool = False
    current_period_end: datetime | None = None
    activating: bool = False  # back from Checkout, the subscription not yet reported

    @property
    def can_send(self) -> bool:
        return self.status not in SENDING_BLOCKED

    @property
    def reason(self) -> str:
        """Why sending invoices is refused (empty when it is not)."""
        if self.status == "trial_over":
            ended = self.trial_ends_at.date().isoformat() if self.trial_ends_at else "already"
            return (
                f"your Regentra trial ended ({ended}): choose a plan in Settings → Billing to "
                "send invoices again (everything else keeps working)"
            )
        if self.status == "canceled":
            return (
                "your Regentra subscription is canceled: subscribe again in Settings → Billing "
                "to send invoices (everything else keeps working, and no data was touched)"
            )
        return ""


def trial_ends_at(session: Session, org: Org) -> datetime | None:
    """The end of the org's trial: its creation or billing's start, whichever is later, plus
    the trial days. None before billing was set up (no prices to subscribe to yet)."""
    platform = session.get(PlatformSettings, PLATFORM_SETTINGS_ID)
    if platform is None:
        return None
    start = max(as_utc(org.created_at), as_utc(platform.billing_on_at))
    return start + timedelta(days=get_settings().platform_trial_days)


def state(session: Session, org: Org) -> BillingState:
    if not get_settings().platform_billing:
        return BillingState(billing_on=False, status="active")
    row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org.id))
    ends = trial_ends_at(session, org)
    if row is None or row.subscription_status is None:
        trial = "trial" if ends is None or utcnow() < ends else "trial_over"
        return BillingState(
            billing_on=True,
            status=trial,
            trial_ends_at=ends,
            activating=row is not None and row.checkout_session_id is not None,
        )
    return BillingState(
        billing_on=True,
        status=STATUS_OF.get(row.subscription_status, "past_due"),
        plan=row.plan,
        subscription_status=row.subscription_status,
        trial_ends_at=ends,
        cancel_at_period_end=row.cancel_at_period_end,
        current_period_end=row.current_period_end,
    )


def require_can_send(session: Session, org: Org) -> None:
    """409 `subscription_required` when the org's status does not allow sending invoices."""
    current = state(session, org)
    if not current.can_send:
        raise SubscriptionRequired(current.reason)


def seats(session: Session, org_id: uuid.UUID) -> int:
    """PSA seats: the org's active users (every role logs or approves time)."""
    count = session.scalar(
        select(func.count()).where(User.org_id == org_id, User.is_active.is_(True))
    )
    return int(count or 0)


def compliance_tenants(session: Session, org_id: uuid.UUID) -> int:
    """Compliance tenants: the org's clients with compliance enabled."""
    count = session.scalar(
        select(func.count()).where(Client.org_id == org_id, Client.compliance_enabled.is_(True))
    )
    return int(count or 0)


def usage_changed(session: Session, org_id: uuid.UUID) -> None:
    """What the org is billed for may have changed (a user added, deactivated, reactivated or
    given another role; a client's compliance flag): when the org has a subscription, note it
    (`usage_version`) and have the quantities synced after commit. The sync job coalesces a
    burst of changes into few Stripe updates carrying the final counts."""
    if not get_settings().platform_billing:
        return
    noted = session.execute(
        update(OrgBilling)
        .where(OrgBilling.org_id == org_id, OrgBilling.stripe_subscription_id.is_not(None))
        .values(usage_version=OrgBilling.usage_version + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(noted, "rowcount", 0):
        queue.enqueue(session, SYNC_QUANTITIES_TASK, str(org_id))
