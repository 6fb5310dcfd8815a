"""Subscriptions and subscription items: Regentra's platform billing (a plan fee plus seats).

The HTTP handlers for `/v1/subscriptions` and `/v1/subscription_items`. The work is done by
`subscription_lifecycle` (creating a subscription, changing its items and its scheduled end),
`subscription_items` (items, prices and periods), `subscription_billing` (the period
invoices, prorations, collection with the default payment method, renewals on clock moves)
and `payment_methods` (test cards, customers' defaults).
"""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError, missing, missing_parameter
from regentra.sandbox.stripe.resources import checkout, payment_methods, subscription_billing
from regentra.sandbox.stripe.resources._util import merge_metadata
from regentra.sandbox.stripe.resources.payment_methods import new_card, set_default_payment_method
from regentra.sandbox.stripe.resources.subscription_billing import (
    bill,
    cancel,
    invoice_now,
    pending_prorations,
    proration,
)
from regentra.sandbox.stripe.resources.subscription_items import (
    check_compatible,
    is_live,
    item_quantity,
    items_of,
    recurring_price,
    snapshot,
)
from regentra.sandbox.stripe.resources.subscription_lifecycle import (
    cancel_time,
    change_items,
    create_subscription,
    schedule_cancel,
    unsupported,
)
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Sandbox

# What other modules used to import from here before the split; still importable.
__all__ = [
    "check_compatible",
    "create_subscription",
    "install",
    "item_quantity",
    "new_card",
    "recurring_price",
    "router",
    "set_default_payment_method",
]

router = Router()


def install(sandbox: Sandbox) -> None:
    """Renew on clock moves; activate subscriptions whose invoices get paid later; and
    Checkout's hooks (Checkout completes into subscriptions)."""
    subscription_billing.install(sandbox)
    checkout.install(sandbox)


# ---- the API ------------------------------------------------------------------------------
@router.route("POST", "/v1/subscriptions", "SubscriptionCreateParams")
def create_handler(ctx: Ctx) -> dict[str, Any]:
    return create_subscription(ctx.sandbox, ctx.account, ctx.params)


@router.route("GET", "/v1/subscriptions/{id}", "SubscriptionRetrieveParams")
def retrieve_handler(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("subscription", ctx.path["id"])


@router.route("POST", "/v1/subscriptions/{id}", "SubscriptionUpdateParams")
def update_handler(ctx: Ctx) -> dict[str, Any]:
    sandbox, account, p = ctx.sandbox, ctx.account, ctx.params
    sub = ctx.get("subscription", ctx.path["id"])
    unsupported(p)
    if not is_live(sub) and set(p) - {"metadata", "cancellation_details", "expand"}:
        raise StripeError(
            "A canceled subscription can only update its cancellation_details and metadata.",
        )
    now = ctx.now()
    cancel_at = None
    if p.get("cancel_at") not in (None, ""):
        ends = [i["current_period_end"] for i in sub["items"]["data"]] or [now]
        cancel_at = cancel_time(p["cancel_at"], ends, now)
    # Validate before changing anything.
    collection = p.get("collection_method", sub["collection_method"])
    days = p.get("days_until_due", sub["days_until_due"])
    if collection == "send_invoice" and days in (None, ""):
        raise missing_parameter("days_until_due")
    if collection == "charge_automatically" and p.get("days_until_due") not in (None, ""):
        raise StripeError(
            "Invalid days_until_due: only allowed with collection_method=send_invoice.",
            param="days_until_due",
        )
    pm_id = sub["default_payment_method"]
    if p.get("default_payment_method"):
        customer = ctx.get("customer", sub["customer"], "customer")
        pm_id = payment_methods.resolve_attached(
            sandbox, account, customer, p["default_payment_method"]
        )
    elif p.get("default_payment_method") == "":
        pm_id = None
    previous: dict[str, Any] = {}
    if collection == "charge_automatically" and "collection_method" in p:
        p = {**p, "days_until_due": ""}
    before_items = snapshot(sub)
    behavior = p.get("proration_behavior", "create_prorations")
    if "items" in p:
        changed = change_items(
            sandbox,
            account,
            sub,
            p["items"],
            proration_behavior=behavior,
            proration_date=p.get("proration_date"),
        )
        if sub["items"] != before_items:
            previous["items"] = before_items
        if changed and behavior == "always_invoice":
            previous["latest_invoice"] = sub["latest_invoice"]
            invoice_now(sandbox, account, sub)
    if pm_id != sub["default_payment_method"]:
        previous["default_payment_method"] = sub["default_payment_method"]
        sub["default_payment_method"] = pm_id
    for name in ("description", "collection_method", "days_until_due"):
        if name in p:
            value = None if p[name] == "" else p[name]
            if sub[name] != value:
                previous[name] = sub[name]
                sub[name] = value
    if "metadata" in p:
        merged = merge_metadata(sub["metadata"], p["metadata"])
        if merged != sub["metadata"]:
            previous["metadata"] = sub["metadata"]
            sub["metadata"] = merged
    if "cancellation_details" in p:
        details = p["cancellation_details"]
        for key in ("comment", "feedback"):
            if key in details:
                sub["cancellation_details"][key] = details[key] or None
    cancel_fields = {k: sub[k] for k in ("cancel_at", "cancel_at_period_end", "canceled_at")}
    if p.get("cancel_at_period_end") is True:
        sub["cancel_at"] = sub["items"]["data"][0]["current_period_end"]
        sub["cancel_at_period_end"] = True
        sub["canceled_at"] = now
        sub["cancellation_details"]["reason"] = "cancellation_requested"
    elif cancel_at is not None:
        schedule_cancel(sub, cancel_at, now)
    elif p.get("cancel_at_period_end") is False or p.get("cancel_at") == "":
        sub.update(cancel_at=None, cancel_at_period_end=False, canceled_at=None)
        sub["cancellation_details"]["reason"] = None
    for key, value in cancel_fields.items():
        if sub[key] != value:
            previous[key] = value
    if previous:
        ctx.emit("customer.subscription.updated", sub, previous)
    return sub


@router.route("DELETE", "/v1/subscriptions/{id}", "SubscriptionCancelParams")
def cancel_handler(ctx: Ctx) -> dict[str, Any]:
    sandbox, account, p = ctx.sandbox, ctx.account, ctx.params
    sub = ctx.get("subscription", ctx.path["id"])
    if not is_live(sub):
        # Stripe treats a canceled subscription as deleted here (stripe-go#1887).
        raise missing("subscription", sub["id"])
    details = p.get("cancellation_details") or {}
    for key in ("comment", "feedback"):
        if key in details:
            sub["cancellation_details"][key] = details[key] or None
    if p.get("prorate"):
        at = ctx.now()
        for item in items_of(sandbox, account, sub["id"]):
            proration(sandbox, account, sub, item, item["price"], item["quantity"], at, credit=True)
    if p.get("invoice_now") and pending_prorations(account, sub["id"]):
        bill(sandbox, account, sub, "subscription_update", items=False)
    sub["canceled_at"] = None
    cancel(sandbox, account, sub)
    return sub


def _in_range(value: int, spec: Any) -> bool:
    if isinstance(spec, int):
        return value == spec
    return (
        ("gt" not in spec or value > spec["gt"])
        and ("gte" not in spec or value >= spec["gte"])
        and ("lt" not in spec or value < spec["lt"])
        and ("lte" not in spec or value <= spec["lte"])
    )


@router.route("GET", "/v1/subscriptions", "SubscriptionListParams")
def list_handler(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    items = ctx.sandbox.all(ctx.account, "subscription")
    status = p.get("status")
    if status is None:
        items = [s for s in items if s["status"] not in ("canceled", "incomplete_expired")]
    elif status == "ended":
        items = [s for s in items if s["status"] in ("canceled", "incomplete_expired")]
    elif status != "all":
        items = [s for s in items if s["status"] == status]
    for name in ("customer", "collection_method"):
        if name in p:
            items = [s for s in items if s[name] == p[name]]
    for name in ("price", "plan"):
        if name in p:
            items = [
                s for s in items if any(i["price"]["id"] == p[name] for i in s["items"]["data"])
            ]
    for name in ("current_period_start", "current_period_end"):
        if name in p:
            items = [
                s for s in items if any(_in_range(i[name], p[name]) for i in s["items"]["data"])
            ]
    return listing.page(items, p, "/v1/subscriptions", kind="subscription")


@router.route("GET", "/v1/subscription_items", "SubscriptionItemListParams")
def list_items_handler(ctx: Ctx) -> dict[str, Any]:
    sub = ctx.get("subscription", ctx.params["subscription"], "subscription")
    items = items_of(ctx.sandbox, ctx.account, sub["id"])
    return listing.page(
        items,
        ctx.params,
        f"/v1/subscription_items?subscription={sub['id']}",
        kind="subscription_item",
    )


@router.route("GET", "/v1/subscription_items/{id}", "SubscriptionItemRetrieveParams")
def retrieve_item_handler(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("subscription_item", ctx.path["id"])


def _item_change(ctx: Ctx, sub: dict[str, Any], spec: dict[str, Any]) -> None:
    p = ctx.params
    if "price_data" in p:
        raise StripeError(
            "The Stripe sandbox does not emulate `price_data`; create the price first.",
            param="price_data",
        )
    if not is_live(sub):
        raise StripeError("This subscription has been canceled and cannot be changed.")
    before = snapshot(sub)
    behavior = p.get("proration_behavior", "create_prorations")
    changed = change_items(
        ctx.sandbox,
        ctx.account,
        sub,
        [spec],
        proration_behavior=behavior,
        proration_date=p.get("proration_date"),
        path="item",
    )
    previous: dict[str, Any] = {"items": before}
    if changed and behavior == "always_invoice":
        previous["latest_invoice"] = sub["latest_invoice"]
        invoice_now(ctx.sandbox, ctx.account, sub)
    if sub["items"] != before:
        ctx.emit("customer.subscription.updated", sub, previous)


_ITEM_FIELDS = ("price", "plan", "quantity", "metadata")


@router.route("POST", "/v1/subscription_items", "SubscriptionItemCreateParams")
def create_item_handler(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    sub = ctx.get("subscription", p["subscription"], "subscription")
    before = {i["id"] for i in items_of(ctx.sandbox, ctx.account, sub["id"])}
    spec: dict[str, Any] = {k: p[k] for k in _ITEM_FIELDS if k in p}
    _item_change(ctx, sub, spec)
    (new,) = [i for i in items_of(ctx.sandbox, ctx.account, sub["id"]) if i["id"] not in before]
    return new


@router.route("POST", "/v1/subscription_items/{id}", "SubscriptionItemUpdateParams")
def update_item_handler(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    item = ctx.get("subscription_item", ctx.path["id"])
    sub = ctx.get("subscription", item["subscription"], "subscription")
    spec: dict[str, Any] = {"id": item["id"], **{k: p[k] for k in _ITEM_FIELDS if k in p}}
    _item_change(ctx, sub, spec)
    return ctx.get("subscription_item", item["id"])


@router.route("DELETE", "/v1/subscription_items/{id}", "SubscriptionItemDeleteParams")
def delete_item_handler(ctx: Ctx) -> dict[str, Any]:
    item = ctx.get("subscription_item", ctx.path["id"])
    sub = ctx.get("subscription", item["subscription"], "subscription")
    _item_change(ctx, sub, {"id": item["id"], "deleted": True})
    return {"id": item["id"], "object": "subscription_item", "deleted": True}
