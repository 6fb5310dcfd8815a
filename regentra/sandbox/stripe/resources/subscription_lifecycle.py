"""Creating a subscription and changing it: its items (with prorations) and its scheduled
end. The HTTP handlers are in `subscriptions`; invoicing in `subscription_billing`.

Payment methods: a subscription's `default_payment_method` must be attached to its customer;
Stripe's test tokens `pm_card_visa`, `pm_card_mastercard` and `pm_card_chargeDeclined` are
accepted and become a card attached to the customer (`payment_methods.resolve_attached`).
"""

from __future__ import annotations

import copy
from typing import Any

from regentra.sandbox.stripe.errors import StripeError, missing, missing_parameter
from regentra.sandbox.stripe.resources import account_settings, payment_methods
from regentra.sandbox.stripe.resources._util import merge_metadata, not_emulated
from regentra.sandbox.stripe.resources.subscription_billing import bill, proration
from regentra.sandbox.stripe.resources.subscription_items import (
    check_compatible,
    item_quantity,
    items_of,
    new_item,
    period_end,
    plan_of,
    recurring_price,
    sync,
)
from regentra.sandbox.stripe.state import Account, Sandbox

# Sub-features Stripe has that the sandbox does not emulate: rejected, not silently ignored.
_UNSUPPORTED = (
    "add_invoice_items",
    "application_fee_percent",
    "backdate_start_date",
    "billing_cycle_anchor",
    "billing_cycle_anchor_config",
    "billing_schedules",
    "billing_thresholds",
    "discounts",
    "on_behalf_of",
    "pause_collection",
    "pending_invoice_item_interval",
    "transfer_data",
    "trial_end",
    "trial_from_plan",
    "trial_period_days",
    "trial_settings",
)


def unsupported(params: dict[str, Any], what: str = "subscriptions") -> None:
    not_emulated(params, _UNSUPPORTED, what)


# ---- create -------------------------------------------------------------------------------
def create_subscription(sandbox: Sandbox, account: Account, p: dict[str, Any]) -> dict[str, Any]:
    """Create, invoice and (for `charge_automatically`) charge a subscription."""
    unsupported(p)
    account_settings.check_types(
        account,
        (p.get("payment_settings") or {}).get("payment_method_types"),
        "payment_settings[payment_method_types]",
    )
    if not p.get("customer"):
        raise missing_parameter("customer")
    customer = sandbox.get(account, "customer", p["customer"], "customer")
    specs = p.get("items") or []
    if not specs:
        raise missing_parameter("items")
    prices = [recurring_price(sandbox, account, s, f"items[{i}]") for i, s in enumerate(specs)]
    quantities = [item_quantity(s, f"items[{i}]") for i, s in enumerate(specs)]
    check_compatible(prices)
    currency = prices[0]["currency"]
    if p.get("currency") and p["currency"].lower() != currency:
        raise StripeError(
            f"The price currency ({currency}) does not match the currency "
            f"({p['currency'].lower()}).",
            param="currency",
        )
    collection = p.get("collection_method", "charge_automatically")
    if collection == "send_invoice" and "days_until_due" not in p:
        raise missing_parameter("days_until_due")
    if collection != "send_invoice" and "days_until_due" in p:
        raise StripeError(
            "Invalid days_until_due: only allowed with collection_method=send_invoice.",
            param="days_until_due",
        )
    behavior = p.get("payment_behavior", "allow_incomplete")
    pm_id = None
    if p.get("default_payment_method"):
        pm_id = payment_methods.resolve_attached(
            sandbox, account, customer, p["default_payment_method"]
        )
    if collection == "charge_automatically" and behavior == "error_if_incomplete":
        pm = payment_methods.default_of(sandbox, account, customer["id"], pm_id)
        if pm is None:
            raise StripeError(
                "This customer has no attached payment source or default payment method. "
                "Please consider adding a default payment method.",
                param="customer",
            )
        if payment_methods.declines(pm):
            raise StripeError(
                "Your card was declined.",
                status=402,
                type="card_error",
                code="card_declined",
                extra={"decline_code": "generic_decline"},
            )

    now = sandbox.now()
    recurring = prices[0]["recurring"]
    end = period_end(now, now, recurring)
    cancel_at = cancel_time(p["cancel_at"], [end], now) if p.get("cancel_at") else None
    sub: dict[str, Any] = {
        "id": sandbox.new_id("subscription"),
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": now,
        "billing_cycle_anchor_config": None,
        "billing_mode": {
            "flexible": {"proration_discounts": "included"},
            "type": "flexible",
            "updated_at": now,
        },
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "feedback_option": None,
            "reason": None,
        },
        "collection_method": collection,
        "created": now,
        "currency": currency,
        "customer": customer["id"],
        "customer_account": None,
        "days_until_due": p.get("days_until_due"),
        "default_payment_method": pm_id,
        "default_source": None,
        "default_tax_rates": [],
        "description": p.get("description"),
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": {"type": "self"},
        },
        "items": {},
        "latest_invoice": None,
        "livemode": account.livemode,
        "managed_payments": None,
        "metadata": merge_metadata({}, p.get("metadata", {})),
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": (p.get("payment_settings") or {}).get("payment_method_types"),
            "save_default_payment_method": (p.get("payment_settings") or {}).get(
                "save_default_payment_method", "off"
            ),
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "presentment_details": None,
        "schedule": None,
        "start_date": now,
        "status": "incomplete",
        "status_details": None,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {
            "end_behavior": {
                "billing_cycle_anchor": None,
                "missing_payment_method": "create_invoice",
            }
        },
        "trial_start": None,
    }
    sandbox.add(account, sub)
    for price, quantity, spec in zip(prices, quantities, specs, strict=True):
        new_item(sandbox, account, sub, price, quantity, spec.get("metadata"), now, end)
    sync(sandbox, account, sub)
    if p.get("cancel_at_period_end"):
        sub.update(cancel_at=end, cancel_at_period_end=True, canceled_at=now)
        sub["cancellation_details"]["reason"] = "cancellation_requested"
    elif cancel_at is not None:
        schedule_cancel(sub, cancel_at, now)

    # `default_incomplete` leaves the first invoice open for the client to pay.
    collect = behavior != "default_incomplete"
    invoice = bill(sandbox, account, sub, "subscription_create", collect=collect)
    if collection == "send_invoice" or invoice["status"] == "paid":
        sub["status"] = "active"
    sandbox.emit(account, "customer.subscription.created", sub)
    return sub


def cancel_time(cancel_at: Any, ends: list[int], now: int) -> int:
    """`cancel_at` (a timestamp or `min_period_end`/`max_period_end`) as a timestamp."""
    if cancel_at in ("max_period_end", "max_billed_until"):
        cancel_at = max(ends)
    elif cancel_at == "min_period_end":
        cancel_at = min(ends)
    if not isinstance(cancel_at, int) and not str(cancel_at).isdigit():
        raise StripeError(f"Invalid cancel_at: {cancel_at}", param="cancel_at")
    if int(cancel_at) <= now:
        raise StripeError("cancel_at must be in the future.", param="cancel_at")
    return int(cancel_at)


def schedule_cancel(sub: dict[str, Any], cancel_at: int, now: int) -> None:
    ends = [i["current_period_end"] for i in sub["items"]["data"]] or [now]
    sub["cancel_at"] = cancel_at
    sub["cancel_at_period_end"] = cancel_at == max(ends)
    sub["canceled_at"] = now
    sub["cancellation_details"]["reason"] = "cancellation_requested"


# ---- changes ------------------------------------------------------------------------------
QUANTITY_UPDATES_PER_HOUR = 200


def count_quantity_update(sandbox: Sandbox, subscription_id: str, now: float) -> None:
    """A change of a subscription's item quantities (or items): at most
    `QUANTITY_UPDATES_PER_HOUR` per subscription in any hour of the sandbox's clock, then 429
    `rate_limit` (not counted). Off with the sandbox's rate limits (`--rate-limit 0`)."""
    if sandbox.rate_limit <= 0:
        return
    recent = [t for t in sandbox.quantity_updates.get(subscription_id, []) if now - t < 3600]
    if len(recent) >= QUANTITY_UPDATES_PER_HOUR:
        raise StripeError(
            f"Too many quantity updates to subscription {subscription_id}: at most "
            f"{QUANTITY_UPDATES_PER_HOUR} an hour. Batch changes into fewer updates, or use "
            "usage-based billing for quantities that change often.",
            status=429,
            code="rate_limit",
        )
    sandbox.quantity_updates[subscription_id] = [*recent, now]


def change_items(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    specs: list[dict[str, Any]],
    *,
    proration_behavior: str = "create_prorations",
    proration_date: int | None = None,
    path: str = "items",
) -> bool:
    """Apply item changes (quantity, price, new items, `deleted`); prorate the rest of the
    period unless `proration_behavior` is `none`. Returns whether prorations were made."""
    now = sandbox.now()
    at = proration_date or now
    prorate = proration_behavior != "none" and sub["status"] != "incomplete"
    current = items_of(sandbox, account, sub["id"])
    by_id = {i["id"]: i for i in current}
    start = current[0]["current_period_start"] if current else now
    end = current[0]["current_period_end"] if current else now
    # Validate everything before changing anything.
    plan: list[tuple[str, dict[str, Any], dict[str, Any] | None, int, dict[str, Any]]] = []
    for n, spec in enumerate(specs):
        where = f"{path}[{n}]"
        item = by_id.get(spec.get("id", ""))
        if spec.get("id") and item is None:
            raise missing("subscription item", spec["id"], f"{where}[id]")
        if item is not None and spec.get("deleted"):
            plan.append(("delete", item, None, 0, spec))
            continue
        price = (
            recurring_price(sandbox, account, spec, where)
            if spec.get("price") or spec.get("plan") or item is None
            else item["price"]
        )
        quantity = item_quantity(spec, where, item["quantity"] if item is not None else 1)
        action = "update" if item is not None else "add"
        plan.append((action, item or {}, price, quantity, spec))
    remaining = {i["id"]: i["price"] for i in current}
    for n, (action, item, price, _, _) in enumerate(plan):
        if action == "delete":
            remaining.pop(item["id"], None)
        elif action == "update" and price is not None:
            remaining[item["id"]] = price
        elif price is not None:
            remaining[f"new {n}"] = price
    if not remaining:
        raise StripeError(
            "A subscription must have at least one active plan. To cancel a subscription, "
            "please use the cancel API endpoint.",
            param=path,
        )
    check_compatible(list(remaining.values()), path)
    if next(iter(remaining.values()))["currency"] != sub["currency"]:
        raise StripeError("The price currency must match the subscription's.", param=path)
    if any(a != "update" or q != i.get("quantity") for a, i, _, q, _ in plan):
        count_quantity_update(sandbox, sub["id"], now)

    prorated = False
    for action, item, price, quantity, spec in plan:
        if action == "delete":
            if prorate:
                prorated |= bool(
                    proration(
                        sandbox,
                        account,
                        sub,
                        item,
                        item["price"],
                        item["quantity"],
                        at,
                        credit=True,
                    )
                )
            sandbox.remove(account, item["id"])
        elif action == "add" and price is not None:
            new = new_item(sandbox, account, sub, price, quantity, spec.get("metadata"), start, end)
            if prorate:
                prorated |= bool(
                    proration(sandbox, account, sub, new, price, quantity, at, credit=False)
                )
        elif price is not None:
            changed = price["id"] != item["price"]["id"] or quantity != item["quantity"]
            if changed and prorate:
                prorated |= bool(
                    proration(
                        sandbox,
                        account,
                        sub,
                        item,
                        item["price"],
                        item["quantity"],
                        at,
                        credit=True,
                    )
                )
                prorated |= bool(
                    proration(sandbox, account, sub, item, price, quantity, at, credit=False)
                )
            if price["id"] != item["price"]["id"]:
                item["price"], item["plan"] = copy.deepcopy(price), plan_of(price)
            item["quantity"] = quantity
            if "metadata" in spec:
                item["metadata"] = merge_metadata(item["metadata"], spec["metadata"])
    sync(sandbox, account, sub)
    return prorated
