"""The org's Regentra subscription (admins): status, usage, plans; subscribing through
Stripe Checkout on the platform account."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from regentra.api.deps import AdminUser, CurrentOrg, SessionDep
from regentra.api.responses import BODY, CONFLICT, ROLE, errors
from regentra.errors import RegentraError
from regentra.integrations.platform import subscriptions

router = APIRouter(prefix="/billing", tags=["billing"])


class PlanOut(BaseModel):
    name: str
    label: str
    fee: int  # minor units of `currency` a month
    seat: int
    monthly_total: int  # at the current seats and compliance tenants


class PlatformInvoiceOut(BaseModel):
    number: str | None
    created: datetime
    amount_due: int
    amount_paid: int
    currency: str
    status: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None


class NextInvoiceLineOut(BaseModel):
    description: str
    amount: int  # minor units; negative for a proration credit


class NextInvoiceOut(BaseModel):
    amount_due: int
    total: int
    currency: str
    date: datetime | None  # when Stripe will charge it
    lines: list[NextInvoiceLineOut]


class BillingOut(BaseModel):
    billing_on: bool  # false: billing is off on this server (every org active)
    status: Literal["active", "trial", "trial_over", "past_due", "canceled"]
    can_send_invoices: bool
    reason: str  # why sending is refused, when it is
    plan: str | None
    subscription_status: str | None  # Stripe's
    trial_ends_at: datetime | None
    cancel_at_period_end: bool
    current_period_end: datetime | None
    activating: bool
    currency: str
    seats: int
    compliance_tenants: int
    compliance_tenant_price: int
    plans: list[PlanOut]
    # From the platform's Stripe account (none before the org's first Checkout):
    payment_method: str | None  # "visa •••• 4242"
    invoices: list[PlatformInvoiceOut]
    next_invoice: NextInvoiceOut | None  # none without a live subscription renewing
    stripe_error: str | None  # Stripe could not be read just now: the fields above are empty


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Literal["starter", "pro"]


class CheckoutOut(BaseModel):
    url: str  # Stripe Checkout: send the admin's browser there


@router.get("", responses=errors(ROLE))
def get_billing(session: SessionDep, user: AdminUser, org: CurrentOrg) -> BillingOut:
    facts = subscriptions.facts(session, org)
    state = facts.state
    details, stripe_error = None, None
    try:
        details = subscriptions.stripe_details(session, org)
    except RegentraError as exc:
        stripe_error = exc.message
    return BillingOut(
        billing_on=state.billing_on,
        status=state.status,
        can_send_invoices=state.can_send,
        reason=state.reason,
        plan=state.plan,
        subscription_status=state.subscription_status,
        trial_ends_at=state.trial_ends_at,
        cancel_at_period_end=state.cancel_at_period_end,
        current_period_end=state.current_period_end,
        activating=state.activating,
        currency=facts.currency,
        seats=facts.seats,
        compliance_tenants=facts.compliance_tenants,
        compliance_tenant_price=facts.compliance_tenant_price,
        plans=[PlanOut(**vars(p)) for p in facts.plans],
        payment_method=details.card if details else None,
        invoices=[PlatformInvoiceOut(**vars(i)) for i in details.invoices] if details else [],
        next_invoice=_next_invoice(details.next_invoice if details else None),
        stripe_error=stripe_error,
    )


def _next_invoice(found: subscriptions.NextInvoice | None) -> NextInvoiceOut | None:
    if found is None:
        return None
    lines = [NextInvoiceLineOut(**vars(line)) for line in found.lines]
    return NextInvoiceOut(**{**vars(found), "lines": lines})


@router.post("/checkout", status_code=201, responses=errors(ROLE, BODY, CONFLICT))
def start_checkout(
    body: CheckoutIn, session: SessionDep, user: AdminUser, org: CurrentOrg
) -> CheckoutOut:
    url = subscriptions.start_checkout(session, org=org, admin=user, plan=body.plan)
    return CheckoutOut(url=url)


class PortalOut(BaseModel):
    url: str  # Stripe's customer portal (payment method, past invoices): short-lived


@router.post("/portal", status_code=201, responses=errors(ROLE, CONFLICT))
def open_portal(session: SessionDep, user: AdminUser, org: CurrentOrg) -> PortalOut:
    """A customer portal session to update the payment method (and see past invoices)."""
    return PortalOut(url=subscriptions.open_portal(session, org=org))


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Literal["starter", "pro"]


@router.post("/plan", responses=errors(ROLE, BODY, CONFLICT))
def change_plan(body: PlanIn, session: SessionDep, user: AdminUser, org: CurrentOrg) -> BillingOut:
    """Move the subscription to another plan (prorated)."""
    subscriptions.change_plan(session, org=org, admin=user, plan=body.plan)
    return get_billing(session, user, org)


@router.post("/cancel", responses=errors(ROLE, CONFLICT))
def cancel(session: SessionDep, user: AdminUser, org: CurrentOrg) -> BillingOut:
    """Cancel at the end of the current period (sending keeps working until then)."""
    subscriptions.set_cancel_at_period_end(session, org=org, admin=user, cancel=True)
    return get_billing(session, user, org)


@router.post("/resume", responses=errors(ROLE, CONFLICT))
def resume(session: SessionDep, user: AdminUser, org: CurrentOrg) -> BillingOut:
    """Undo a cancellation at period end."""
    subscriptions.set_cancel_at_period_end(session, org=org, admin=user, cancel=False)
    return get_billing(session, user, org)
