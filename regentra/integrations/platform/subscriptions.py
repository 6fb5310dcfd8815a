"""Subscribing an org to Regentra: Stripe Checkout on the platform account, and the facts
the Billing page and `GET /api/v1/billing` show.

The org's Customer in the platform account is made once (idempotency key from the org id)
and kept in `org_billing`. Checkout (`mode=subscription`) gets the plan's fee (quantity 1),
its per-seat price at the current seat count, and the compliance-tenant price when the org has
any (Stripe refuses a line item of quantity 0). No Stripe call runs inside a transaction: the
counts are read and committed first. The subscription itself arrives by webhook
(`webhooks.py`); until then the page says "activating…".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.billing import service as billing
from regentra.config import get_settings
from regentra.errors import Conflict, Invalid
from regentra.integrations.platform.errors import BILLING_OFF, PlatformBillingOff
from regentra.integrations.platform.setup import COMPLIANCE_TENANT, PLANS, Plan, current
from regentra.integrations.stripe.client import (
    for_platform,
    idempotency_key,
    request_options,
)
from regentra.models import Org, OrgBilling, User

NOT_SET_UP = (
    "platform billing is not set up yet: the server's operator runs `regentra platform setup`"
)


@dataclass(frozen=True)
class PlanOffer:
    name: str
    label: str
    fee: int  # minor units a month
    seat: int  # minor units per seat a month
    monthly_total: int  # at the org's current seats and compliance tenants


@dataclass(frozen=True)
class Facts:
    state: billing.BillingState
    currency: str
    seats: int
    compliance_tenants: int
    compliance_tenant_price: int
    plans: list[PlanOffer]


def _amounts(plan: Plan) -> tuple[int, int]:
    settings = get_settings()
    if plan.name == "starter":
        return settings.platform_starter_monthly, settings.platform_starter_seat_monthly
    return settings.platform_pro_monthly, settings.platform_pro_seat_monthly


def facts(session: Session, org: Org) -> Facts:
    settings = get_settings()
    seats = billing.seats(session, org.id)
    tenants = billing.compliance_tenants(session, org.id)
    tenant_price = settings.platform_compliance_tenant_monthly
    offers = []
    for plan in PLANS.values():
        fee, seat = _amounts(plan)
        total = fee + seat * seats + tenant_price * tenants
        offers.append(PlanOffer(plan.name, plan.label, fee, seat, total))
    return Facts(
        state=billing.state(session, org),
        currency=settings.platform_currency.upper(),
        seats=seats,
        compliance_tenants=tenants,
        compliance_tenant_price=tenant_price,
        plans=offers,
    )


def _row(session: Session, org_id: Any) -> OrgBilling:
    row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org_id))
    if row is None:
        row = OrgBilling(org_id=org_id)
        session.add(row)
        session.flush()
    return row


def start_checkout(session: Session, *, org: Org, admin: User, plan: str) -> str:
    """A Stripe Checkout Session for `plan` on the platform account; its URL. 409 when
    billing is off or not set up, or the org already has a live subscription."""
    settings = get_settings()
    if not settings.platform_billing:
        raise PlatformBillingOff(BILLING_OFF)
    chosen = PLANS.get(plan)
    if chosen is None:
        raise Invalid(f"plan must be one of: {', '.join(PLANS)}")
    platform = current(session)
    if platform is None:
        raise Conflict(NOT_SET_UP)
    state = billing.state(session, org)
    if state.status in ("active", "past_due"):
        raise Conflict(
            "this organization already has a Regentra subscription: change its plan instead"
        )
    seats = max(billing.seats(session, org.id), 1)
    tenants = billing.compliance_tenants(session, org.id)
    row = _row(session, org.id)
    customer_id = row.stripe_customer_id
    prices = dict(platform.prices)
    org_id, org_name, email = org.id, org.name, admin.email
    session.commit()  # no lock held while Stripe answers

    stripe = for_platform(settings.platform_stripe_secret_key)
    metadata = {"regentra_org_id": str(org_id)}
    if customer_id is None:
        made = stripe.call(
            lambda c: c.v1.customers.create(
                {"name": org_name, "email": email, "metadata": metadata},
                request_options(idempotency_key("platform-customer", org_id)),
            ),
            op="customers.create",
        )
        customer_id = str(made.id)
    line_items = [
        {"price": prices[chosen.fee], "quantity": 1},
        {"price": prices[chosen.seat], "quantity": seats},
    ]
    if tenants:
        line_items.append({"price": prices[COMPLIANCE_TENANT], "quantity": tenants})
    base = settings.base_url.rstrip("/")
    checkout = stripe.call(
        lambda c: c.v1.checkout.sessions.create(
            {
                "mode": "subscription",
                "customer": customer_id,
                "line_items": line_items,
                "client_reference_id": str(org_id),
                "success_url": f"{base}/billing?checkout=done",
                "cancel_url": f"{base}/billing",
                "metadata": {**metadata, "regentra_plan": chosen.name},
                "subscription_data": {"metadata": {**metadata, "regentra_plan": chosen.name}},
            }
        ),
        op="checkout.sessions.create",
    )
    row = _row(session, org_id)
    row.stripe_customer_id = customer_id
    row.checkout_session_id = str(checkout.id)
    session.commit()
    return str(checkout.url)
