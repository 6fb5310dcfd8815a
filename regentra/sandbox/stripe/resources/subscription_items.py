"""A subscription's items and periods: the recurring prices it may use, its SubscriptionItem
objects (at this API version `current_period_start/end` live on the items), the billing period
arithmetic, and the `items` list embedded in the subscription."""

from __future__ import annotations

import calendar
import copy
from datetime import UTC, datetime
from typing import Any

from regentra.sandbox.stripe.errors import StripeError, missing_parameter
from regentra.sandbox.stripe.resources._util import merge_metadata
from regentra.sandbox.stripe.state import Account, Sandbox


def is_live(sub: dict[str, Any]) -> bool:
    return sub["status"] not in ("canceled", "incomplete_expired")


# ---- periods ----------------------------------------------------------------------------
def _add_months(ts: int, months: int) -> int:
    d = datetime.fromtimestamp(ts, UTC)
    total = d.month - 1 + months
    year, month = d.year + total // 12, total % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return int(d.replace(year=year, month=month, day=day).timestamp())


def period_end(anchor: int, start: int, recurring: dict[str, Any]) -> int:
    """The end of the period starting at `start`, for a cycle anchored at `anchor`."""
    interval, count = recurring["interval"], recurring.get("interval_count") or 1
    if interval in ("day", "week"):
        return start + count * (7 if interval == "week" else 1) * 86400
    step = count * (12 if interval == "year" else 1)
    n = 1
    while (end := _add_months(anchor, step * n)) <= start:
        n += 1
    return end


# ---- prices -----------------------------------------------------------------------------
def plan_of(price: dict[str, Any]) -> dict[str, Any]:
    """The legacy `plan` object Stripe still embeds in a subscription item."""
    recurring = price["recurring"]
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring["interval"],
        "interval_count": recurring["interval_count"],
        "livemode": price["livemode"],
        "metadata": price["metadata"],
        "meter": None,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type", "licensed"),
    }


def recurring_price(
    sandbox: Sandbox, account: Account, spec: dict[str, Any], path: str
) -> dict[str, Any]:
    if "price_data" in spec:
        raise StripeError(
            "The Stripe sandbox does not emulate `price_data`; create the price first.",
            param=f"{path}[price_data]",
        )
    price_id = spec.get("price") or spec.get("plan")
    if not price_id:
        raise missing_parameter(f"{path}[price]")
    price = sandbox.get(account, "price", price_id, f"{path}[price]")
    if price["type"] != "recurring":
        raise StripeError(
            "The price specified is set to `type=one_time` but this field only accepts "
            "prices with `type=recurring`.",
            param=f"{path}[price]",
        )
    if not price["active"]:
        raise StripeError(
            "The price specified is inactive. This field only accepts active prices.",
            param=f"{path}[price]",
        )
    return price


def item_quantity(spec: dict[str, Any], path: str, default: int = 1) -> int:
    quantity = spec.get("quantity", default)
    if quantity < 0:
        raise StripeError(
            "Invalid integer: quantity must be >= 0",
            code="parameter_invalid_integer",
            param=f"{path}[quantity]",
        )
    return int(quantity)


def check_compatible(prices: list[dict[str, Any]], path: str = "items") -> None:
    if len({p["currency"] for p in prices}) > 1:
        raise StripeError(
            "Currency and interval fields must match across all plans on this subscription. "
            "Found mismatch in currency field.",
            param=path,
        )
    if len({(p["recurring"]["interval"], p["recurring"]["interval_count"]) for p in prices}) > 1:
        raise StripeError(
            "Currency and interval fields must match across all plans on this subscription. "
            "Found mismatch in interval field.",
            param=path,
        )
    ids = [p["id"] for p in prices]
    for price_id in ids:
        if ids.count(price_id) > 1:
            raise StripeError(
                f"Cannot add multiple subscription items with the same price: {price_id}.",
                param=path,
            )


# ---- items ------------------------------------------------------------------------------
def new_item(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    price: dict[str, Any],
    quantity: int,
    metadata: Any,
    start: int,
    end: int,
) -> dict[str, Any]:
    item = sandbox.add(
        account,
        {
            "object": "subscription_item",
            "billed_until": None,
            "billing_thresholds": None,
            "created": sandbox.now(),
            "current_period_end": end,
            "current_period_start": start,
            "current_trial": None,
            "discounts": [],
            "metadata": merge_metadata({}, metadata or {}),
            "plan": plan_of(price),
            "price": copy.deepcopy(price),
            "quantity": quantity,
            "subscription": sub["id"],
            "tax_rates": [],
        },
    )
    item.pop("livemode", None)  # Stripe's subscription items have no `livemode`
    return item


def items_of(sandbox: Sandbox, account: Account, sub_id: str) -> list[dict[str, Any]]:
    """The subscription's items, oldest first."""
    return [
        account.objects[i]
        for i in account.order.get("subscription_item", [])
        if account.objects[i]["subscription"] == sub_id
    ]


def sync(sandbox: Sandbox, account: Account, sub: dict[str, Any]) -> dict[str, Any]:
    """Refresh the subscription's embedded `items` list from the stored items."""
    items = items_of(sandbox, account, sub["id"])
    sub["items"] = {
        "object": "list",
        "data": copy.deepcopy(items),
        "has_more": False,
        "total_count": len(items),
        "url": f"/v1/subscription_items?subscription={sub['id']}",
    }
    return sub


def snapshot(sub: dict[str, Any]) -> dict[str, Any]:
    """The embedded `items` list as it is now (for `previous_attributes`)."""
    return copy.deepcopy(sub["items"])
