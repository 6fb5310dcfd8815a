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

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from regentra.audit.service import Actor, record
from regentra.billing import service as billing
from regentra.config import get_settings
from regentra.errors import Conflict, Invalid
from regentra.integrations.platform.errors import BILLING_OFF, PlatformBillingOff
from regentra.integrations.platform.setup import (
    COMPLIANCE_TENANT,
    PLAN_PRODUCTS,
    PLANS,
    SEAT_PRODUCT,
    Plan,
    current,
    product_of,
)
from regentra.integrations.platform.webhooks import apply_subscription
from regentra.integrations.stripe.client import (
    OrgStripe,
    fingerprint,
    for_platform,
    idempotency_key,
    request_options,
)
from regentra.models import Org, OrgBilling, User

LIVE_STATUSES = ("active", "past_due")
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


def stripe_page_origins() -> list[str]:
    """Where Subscribe sends the admin's browser: Stripe's Checkout (and customer portal)
    pages, or the sandbox's own when Stripe's API base points at one."""
    base = urlsplit(get_settings().stripe_api_base)
    if base.hostname == "api.stripe.com":
        return ["https://checkout.stripe.com", "https://billing.stripe.com"]
    return [f"{base.scheme}://{base.netloc}"]


def _row(session: Session, org_id: Any) -> OrgBilling:
    row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org_id))
    if row is None:
        row = OrgBilling(org_id=org_id)
        session.add(row)
        session.flush()
    return row


def _close_earlier_checkout(stripe: OrgStripe, session_id: str) -> None:
    """One Checkout at a time per org, so it is never billed for two subscriptions: an earlier
    session still open is expired first; one already completed refuses a new one (its
    subscription is on its way, or reconciliation finds it)."""
    earlier = stripe.find(
        lambda c: c.v1.checkout.sessions.retrieve(session_id), op="checkout.sessions.retrieve"
    )
    if earlier is None:
        return
    if earlier.status == "complete":
        raise Conflict(
            "a subscription was just paid for on Stripe Checkout and is being activated: "
            "reload Settings → Billing in a moment"
        )
    if earlier.status == "open":
        stripe.call(
            lambda c: c.v1.checkout.sessions.expire(session_id), op="checkout.sessions.expire"
        )


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
    earlier = row.checkout_session_id
    prices = dict(platform.prices)
    org_id, org_name, email = org.id, org.name, admin.email
    session.commit()  # no lock held while Stripe answers

    stripe = for_platform(settings.platform_stripe_secret_key)
    if earlier:
        _close_earlier_checkout(stripe, earlier)
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


# ---- changing a live subscription ------------------------------------------------------------


def _live(session: Session, org: Org) -> tuple[OrgBilling, str]:
    """The org's billing row and live subscription id; 409 when there is none."""
    if not get_settings().platform_billing:
        raise PlatformBillingOff(BILLING_OFF)
    row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org.id))
    state = billing.state(session, org)
    if row is None or not row.stripe_subscription_id or state.status not in LIVE_STATUSES:
        raise Conflict("this organization has no Regentra subscription to change: subscribe first")
    return row, row.stripe_subscription_id


def _apply_now(session: Session, org_id: uuid.UUID, sub: dict[str, Any]) -> None:
    """Stripe's answer applied at once (the page shows it before the webhook confirms it);
    the webhook of this very change applies the same state again, and an older one is
    ignored (`applied_event_created`)."""
    row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org_id).with_for_update())
    assert row is not None
    apply_subscription(session, row, sub, int(time.time()))


def change_plan(session: Session, *, org: Org, admin: User, plan: str) -> None:
    """Move the subscription to `plan` (its fee and its per-seat price), prorated."""
    chosen = PLANS.get(plan)
    if chosen is None:
        raise Invalid(f"plan must be one of: {', '.join(PLANS)}")
    row, sub_id = _live(session, org)
    if row.plan == chosen.name:
        raise Conflict(f"the subscription is already on the {chosen.label} plan")
    platform = current(session)
    assert platform is not None
    prices = dict(platform.prices)
    org_id, was = org.id, row.plan
    session.commit()  # no lock held while Stripe answers

    stripe = for_platform(get_settings().platform_stripe_secret_key)
    sub = stripe.call(
        lambda c: c.v1.subscriptions.retrieve(sub_id), op="subscriptions.retrieve"
    ).to_dict()
    changes = []
    for item in sub["items"]["data"]:
        product = product_of(item)
        if product in PLAN_PRODUCTS:
            changes.append({"id": item["id"], "deleted": True})
        elif product == SEAT_PRODUCT:
            changes.append({"id": item["id"], "price": prices[chosen.seat]})
    changes.append({"price": prices[chosen.fee], "quantity": 1})
    params = {
        "items": changes,
        "proration_behavior": "create_prorations",
        "metadata": {"regentra_plan": chosen.name},
    }
    # The fee item is new at each change, so going back and forth makes new keys.
    key = idempotency_key("platform-plan", f"{sub_id}:{fingerprint(params)}")
    _update(
        session,
        stripe,
        org_id=org_id,
        admin=admin,
        sub_id=sub_id,
        params=params,
        key=key,
        action="billing.plan_changed",
        details={"from": was, "to": chosen.name},
    )


def set_cancel_at_period_end(session: Session, *, org: Org, admin: User, cancel: bool) -> None:
    """Cancel at the end of the period (`cancel=True`), or undo that (`cancel=False`:
    `cancel_at_period_end=false`; Stripe's `resume` is for paused subscriptions)."""
    row, sub_id = _live(session, org)
    if row.cancel_at_period_end == cancel:
        raise Conflict(
            "the subscription already cancels at the end of the period"
            if cancel
            else "the subscription is not set to cancel"
        )
    org_id = org.id
    session.commit()
    _update(
        session,
        for_platform(get_settings().platform_stripe_secret_key),
        org_id=org_id,
        admin=admin,
        sub_id=sub_id,
        params={"cancel_at_period_end": cancel},
        key=None,  # a toggle: the same request again later is a new one, not a replay
        action="billing.cancel_requested" if cancel else "billing.cancel_undone",
        details={"subscription": sub_id},
    )


def _update(
    session: Session,
    stripe: OrgStripe,
    *,
    org_id: uuid.UUID,
    admin: User,
    sub_id: str,
    params: dict[str, Any],
    key: str | None,
    action: str,
    details: dict[str, Any],
) -> None:
    """Update the subscription in Stripe, apply Stripe's answer at once, audit, commit."""
    options = request_options(key) if key else None
    updated = stripe.call(
        lambda c: c.v1.subscriptions.update(sub_id, params, options),
        op="subscriptions.update",
    )
    _apply_now(session, org_id, updated.to_dict())
    record(
        session,
        org_id=org_id,
        actor=Actor.of(admin),
        action=action,
        subject_type="org",
        subject_id=org_id,
        details=details,
    )
    session.commit()


# ---- what Stripe holds: the payment method and past platform invoices --------------------------


@dataclass(frozen=True)
class PlatformInvoice:
    number: str | None
    created: datetime
    amount_due: int
    amount_paid: int
    currency: str
    status: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None


@dataclass(frozen=True)
class NextInvoiceLine:
    description: str
    amount: int


@dataclass(frozen=True)
class NextInvoice:
    """What the subscription's next renewal will bill (Stripe's preview), prorations
    included."""

    amount_due: int
    total: int
    currency: str
    date: datetime | None  # when Stripe will charge it
    lines: list[NextInvoiceLine]


@dataclass(frozen=True)
class StripeDetails:
    card: str | None  # "visa •••• 4242"
    invoices: list[PlatformInvoice]
    next_invoice: NextInvoice | None = None


def stripe_details(session: Session, org: Org) -> StripeDetails | None:
    """The org's payment method and its platform invoices (newest first, at most 24), read
    from the platform account; None when there is no platform Customer yet. A Stripe failure
    is the caller's to show (`RegentraError`)."""
    settings = get_settings()
    if not settings.platform_billing:
        return None
    row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org.id))
    if row is None or not row.stripe_customer_id:
        return None
    customer_id = row.stripe_customer_id
    stripe = for_platform(settings.platform_stripe_secret_key)
    customer = stripe.call(
        lambda c: c.v1.customers.retrieve(
            customer_id, {"expand": ["invoice_settings.default_payment_method"]}
        ),
        op="customers.retrieve",
    ).to_dict()
    method = (customer.get("invoice_settings") or {}).get("default_payment_method")
    subscription_id = row.stripe_subscription_id
    if not method and subscription_id:
        # Checkout gives the subscription a card of its own and none to the customer (until
        # "Update payment method" moves it there): the subscription's card is the one charged.
        sub = stripe.find(
            lambda c: c.v1.subscriptions.retrieve(
                subscription_id, {"expand": ["default_payment_method"]}
            ),
            op="subscriptions.retrieve",
        )
        method = sub.to_dict().get("default_payment_method") if sub is not None else None
    card = method.get("card") if isinstance(method, dict) else None
    listed = stripe.call(
        lambda c: c.v1.invoices.list({"customer": customer_id, "limit": 24}),
        op="invoices.list",
    )
    invoices = [
        PlatformInvoice(
            number=i.get("number"),
            created=datetime.fromtimestamp(int(i.get("created") or 0), UTC),
            amount_due=int(i.get("amount_due") or 0),
            amount_paid=int(i.get("amount_paid") or 0),
            currency=str(i.get("currency") or settings.platform_currency).upper(),
            status=i.get("status"),
            hosted_invoice_url=i.get("hosted_invoice_url"),
            invoice_pdf=i.get("invoice_pdf"),
        )
        for i in (inv.to_dict() for inv in listed.data)
        if i.get("status") != "draft"
    ]
    live = (
        row.stripe_subscription_id
        and row.subscription_status in LIVE_STATUSES
        and not row.cancel_at_period_end
    )
    return StripeDetails(
        card=f"{card.get('brand')} •••• {card.get('last4')}" if card else None,
        invoices=invoices,
        next_invoice=_next_invoice(stripe, customer_id, str(row.stripe_subscription_id))
        if live
        else None,
    )


def _next_invoice(stripe: OrgStripe, customer_id: str, subscription_id: str) -> NextInvoice | None:
    """`invoices.create_preview` of the subscription (API 2025-03-31.basil removed
    `invoices.upcoming` and needs the subscription named); None when Stripe has no next invoice
    for it (`invoice_upcoming_none`, matched by code: the message varies)."""

    found = stripe.unless_code(
        lambda c: c.v1.invoices.create_preview(
            {"customer": customer_id, "subscription": subscription_id}
        ),
        op="invoices.create_preview",
        code="invoice_upcoming_none",
    )
    if found is None:
        return None
    invoice = found.to_dict()
    when = invoice.get("next_payment_attempt") or invoice.get("period_end")
    return NextInvoice(
        amount_due=int(invoice.get("amount_due") or 0),
        total=int(invoice.get("total") or 0),
        currency=str(invoice.get("currency") or "").upper(),
        date=datetime.fromtimestamp(int(when), UTC) if when else None,
        lines=[
            NextInvoiceLine(str(line.get("description") or ""), int(line.get("amount") or 0))
            for line in (invoice.get("lines") or {}).get("data") or []
        ],
    )


# ---- the customer portal: the payment method -----------------------------------------------


def open_portal(session: Session, *, org: Org) -> str:
    """A customer portal session on the platform account (the payment method, past invoices)
    for the org's Stripe customer; its URL. 409 when billing is off or not set up, or the org
    never subscribed. The portal makes a new card the customer's default payment method only,
    which a subscription's own `default_payment_method` (Checkout sets one) would override:
    that one is moved to the customer first, so the card chosen in the portal is the one
    charged."""
    settings = get_settings()
    if not settings.platform_billing:
        raise PlatformBillingOff(BILLING_OFF)
    platform = current(session)
    if platform is None or not platform.portal_configuration_id:
        raise Conflict(NOT_SET_UP)
    row = session.scalar(select(OrgBilling).where(OrgBilling.org_id == org.id))
    if row is None or not row.stripe_customer_id:
        raise Conflict("this organization has no Regentra subscription yet: subscribe first")
    customer_id, subscription_id = row.stripe_customer_id, row.stripe_subscription_id
    configuration = platform.portal_configuration_id
    session.commit()  # no lock held while Stripe answers

    stripe = for_platform(settings.platform_stripe_secret_key)
    if subscription_id:
        _customer_level_payment_method(stripe, customer_id, subscription_id)
    portal = stripe.call(
        lambda c: c.v1.billing_portal.sessions.create(
            {
                "customer": customer_id,
                "configuration": configuration,
                "return_url": settings.base_url.rstrip("/") + "/billing",
            }
        ),
        op="billing_portal.sessions.create",
    )
    return str(portal.url)


def _customer_level_payment_method(
    stripe: OrgStripe, customer_id: str, subscription_id: str
) -> None:
    found = stripe.find(
        lambda c: c.v1.subscriptions.retrieve(subscription_id), op="subscriptions.retrieve"
    )
    sub = found.to_dict() if found is not None else {}
    method = sub.get("default_payment_method")
    if not method or sub.get("status") in ("canceled", "incomplete_expired"):
        return
    method_id = method if isinstance(method, str) else str(method.get("id"))
    customer = stripe.call(
        lambda c: c.v1.customers.retrieve(customer_id), op="customers.retrieve"
    ).to_dict()
    if not (customer.get("invoice_settings") or {}).get("default_payment_method"):
        stripe.call(
            lambda c: c.v1.customers.update(
                customer_id, {"invoice_settings": {"default_payment_method": method_id}}
            ),
            op="customers.update",
        )
    stripe.call(
        lambda c: c.v1.subscriptions.update(subscription_id, {"default_payment_method": ""}),
        op="subscriptions.update",
    )
