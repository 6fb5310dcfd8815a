"""`POST /v1/invoices/create_preview`: the next invoice of a subscription (its own router, ahead
of `POST /v1/invoices/{id}`, which would take `create_preview` for an invoice id).

Since API 2025-03-31.basil a preview names what it previews (`subscription`, a schedule, or
items): `customer` alone is refused, in Stripe's words. A subscription that is over, or ends
at this period's end, has no next invoice (`invoice_upcoming_none`). Previewing changes
(`subscription_details`, schedules, `invoice_items`) is not emulated: refused as such.
"""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources import subscription_billing
from regentra.sandbox.stripe.resources._util import not_emulated
from regentra.sandbox.stripe.resources.subscription_items import is_live
from regentra.sandbox.stripe.routing import Ctx, Router

router = Router()

NOTHING_NAMED = (
    "You must provide at least one of: `subscription`, `schedule`, "
    "`subscription_details.items`, `schedule_details.phases`, `invoice_items`."
)
NOT_EMULATED = ("subscription_details", "schedule", "schedule_details", "invoice_items")


@router.route("POST", "/v1/invoices/create_preview", "InvoiceCreatePreviewParams")
def create_preview(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    not_emulated(p, NOT_EMULATED, "invoice previews")
    if not p.get("subscription"):
        raise StripeError(NOTHING_NAMED)
    sub = ctx.get("subscription", p["subscription"], "subscription")
    if p.get("customer") and p["customer"] != sub["customer"]:
        raise StripeError(
            f"The subscription {sub['id']} does not belong to customer {p['customer']}.",
            param="subscription",
        )
    if not is_live(sub) or sub["cancel_at_period_end"] or sub["status"] == "incomplete":
        raise StripeError(
            f"No upcoming invoices for customer: {sub['customer']}",
            code="invoice_upcoming_none",
        )
    return subscription_billing.preview(ctx.sandbox, ctx.account, sub)
