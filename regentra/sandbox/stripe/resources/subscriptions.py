"""Subscriptions and subscription items: Regentra's platform billing (a plan fee plus seats).

Periods follow the prices' `recurring` (at this API version `current_period_start/end` live
on the subscription items). Each period gets an invoice (`subscription_create`, then
`subscription_cycle`) with a line per item and the subscription's pending proration items,
finalized and, for `charge_automatically`, paid with the default card through
`payments.pay_invoice`. A clock hook renews subscriptions (and ends those scheduled to end)
when `/_sandbox/clock/advance` moves past a period's end.

Payment methods: a subscription's `default_payment_method`, else the customer's
`invoice_settings.default_payment_method` (the hosted checkout page sets it). Stripe's test
tokens `pm_card_visa`, `pm_card_mastercard` and `pm_card_chargeDeclined` are accepted as a
`default_payment_method` and become a card attached to the customer.
"""

from __future__ import annotations

import calendar
import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError, missing, missing_parameter
from regentra.sandbox.stripe.resources import billing, invoice_items
from regentra.sandbox.stripe.resources._util import merge_metadata
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

router = Router()

# Stripe's test PaymentMethod tokens → (last4, brand).
TEST_PAYMENT_METHODS = {
    "pm_card_visa": ("4242", "visa"),
    "pm_card_mastercard": ("4444", "mastercard"),
    "pm_card_chargeDeclined": ("0002", "visa"),
    "pm_card_visa_chargeDeclined": ("0002", "visa"),
}
DECLINING_LAST4 = frozenset({"0002", "9995"})
INCOMPLETE_WINDOW = 23 * 3600
TIMES = "\u00d7"  # the multiplication sign of Stripe's line descriptions

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

# Subscriptions being changed synchronously by this module: the invoice.paid listener
# leaves them to the code that is changing them.
_IN_FLIGHT: set[str] = set()


def _unsupported(params: dict[str, Any], what: str = "subscriptions") -> None:
    for name in _UNSUPPORTED:
        if name in params:
            raise StripeError(
                f"The Stripe sandbox does not emulate `{name}` on {what}.", param=name
            )


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


# ---- payment methods --------------------------------------------------------------------
def new_card(
    sandbox: Sandbox,
    account: Account,
    customer: dict[str, Any],
    *,
    last4: str,
    brand: str = "visa",
    exp_month: int = 12,
    exp_year: int | None = None,
    name: str | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    """A card PaymentMethod attached to `customer` (event `payment_method.attached`)."""
    now = sandbox.now()
    pm = sandbox.add(
        account,
        {
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {
                "address": {
                    "city": None,
                    "country": None,
                    "line1": None,
                    "line2": None,
                    "postal_code": None,
                    "state": None,
                },
                "email": email,
                "name": name,
                "phone": None,
                "tax_id": None,
            },
            "card": {
                "brand": brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "pass",
                },
                "country": "US",
                "display_brand": brand,
                "exp_month": exp_month,
                "exp_year": exp_year or datetime.fromtimestamp(now, UTC).year + 3,
                "fingerprint": random_token(16),
                "funding": "credit",
                "generated_from": None,
                "last4": last4,
                "networks": {"available": [brand], "preferred": None},
                "regulated_status": "unregulated",
                "three_d_secure_usage": {"supported": True},
                "wallet": None,
            },
            "created": now,
            "customer": customer["id"],
            "customer_account": None,
            "metadata": {},
            "type": "card",
        },
    )
    sandbox.emit(account, "payment_method.attached", pm)
    return pm


def set_default_payment_method(
    sandbox: Sandbox, account: Account, customer: dict[str, Any], pm: dict[str, Any]
) -> None:
    settings = customer.setdefault("invoice_settings", {})
    previous = settings.get("default_payment_method")
    if previous != pm["id"]:
        settings["default_payment_method"] = pm["id"]
        sandbox.emit(
            account,
            "customer.updated",
            customer,
            {"invoice_settings": {"default_payment_method": previous}},
        )


def _resolve_payment_method(
    sandbox: Sandbox, account: Account, customer: dict[str, Any], pm_id: str
) -> str:
    if pm_id in TEST_PAYMENT_METHODS:
        last4, brand = TEST_PAYMENT_METHODS[pm_id]
        return str(new_card(sandbox, account, customer, last4=last4, brand=brand)["id"])
    pm = sandbox.find(account, "payment_method", pm_id)
    if pm is None:
        raise missing("PaymentMethod", pm_id, "default_payment_method")
    if pm.get("customer") != customer["id"]:
        raise StripeError(
            f"The customer does not have a payment method with the ID {pm_id}. The payment "
            "method must be attached to the customer.",
            param="default_payment_method",
        )
    return pm_id


def _payment_method_of(
    sandbox: Sandbox, account: Account, sub: dict[str, Any]
) -> dict[str, Any] | None:
    customer = sandbox.find(account, "customer", sub["customer"]) or {}
    for pm_id in (
        sub.get("default_payment_method"),
        (customer.get("invoice_settings") or {}).get("default_payment_method"),
    ):
        if pm_id:
            pm = sandbox.find(account, "payment_method", pm_id)
            if pm is not None:
                return pm
    return None


def _declines(pm: dict[str, Any]) -> bool:
    return (pm.get("card") or {}).get("last4") in DECLINING_LAST4


# ---- items ------------------------------------------------------------------------------
def _plan(price: dict[str, Any]) -> dict[str, Any]:
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


def _new_item(
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
            "plan": _plan(price),
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


def _sync(sandbox: Sandbox, account: Account, sub: dict[str, Any]) -> dict[str, Any]:
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


# ---- invoicing ----------------------------------------------------------------------------
def _bill(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    reason: str,
    *,
    items: bool = True,
    period: tuple[int, int] | None = None,
    collect: bool = True,
) -> dict[str, Any]:
    """Invoice the subscription (its items for the current period when `items`, and its
    pending proration items), finalize it, and collect it when `charge_automatically`."""
    invoice = _subscription_invoice(
        sandbox,
        account,
        sub,
        items_of(sandbox, account, sub["id"]) if items else [],
        reason,
        period,
    )
    sub["latest_invoice"] = invoice["id"]
    if collect and sub["collection_method"] == "charge_automatically":
        _collect(sandbox, account, sub, invoice)
    return account.objects[invoice["id"]]


def _collect(
    sandbox: Sandbox, account: Account, sub: dict[str, Any], invoice: dict[str, Any]
) -> bool:
    """Charge the invoice to the default card; True when it ends up paid."""
    if invoice["status"] == "paid":
        return True
    pm = _payment_method_of(sandbox, account, sub)
    if pm is None:
        return False
    from regentra.sandbox.stripe.resources.payments import pay_invoice

    pay_invoice(sandbox, account, invoice, method="card_declined" if _declines(pm) else "card")
    return bool(account.objects[invoice["id"]]["status"] == "paid")


def _proration(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    item: dict[str, Any],
    price: dict[str, Any],
    quantity: int,
    at: int,
    *,
    credit: bool,
) -> dict[str, Any] | None:
    """A pending proration invoice item for the rest of the item's period (a credit for
    unused time, or a charge for the remaining time)."""
    start, end = item["current_period_start"], item["current_period_end"]
    if quantity == 0 or not start <= at < end:
        return None
    unit = price["unit_amount"] or 0
    amount = round(unit * quantity * (end - at) / (end - start))
    if credit:
        amount = -amount
    product = sandbox.find(account, "product", price["product"]) or {}
    when = datetime.fromtimestamp(at, UTC).strftime("%d %b %Y")
    label = "Unused time" if credit else "Remaining time"
    return _proration_item(
        sandbox,
        account,
        sub,
        item,
        price,
        quantity=quantity,
        amount=amount,
        description=f"{label} on {quantity} {TIMES} {product.get('name', price['id'])} "
        f"after {when}",
        period=(at, end),
    )


# ---- create -------------------------------------------------------------------------------
def create_subscription(sandbox: Sandbox, account: Account, p: dict[str, Any]) -> dict[str, Any]:
    """Create, invoice and (for `charge_automatically`) charge a subscription."""
    _unsupported(p)
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
        pm_id = _resolve_payment_method(sandbox, account, customer, p["default_payment_method"])
    if collection == "charge_automatically" and behavior == "error_if_incomplete":
        settings = customer.get("invoice_settings") or {}
        pm = sandbox.find(
            account, "payment_method", pm_id or settings.get("default_payment_method") or ""
        )
        if pm is None:
            raise StripeError(
                "This customer has no attached payment source or default payment method. "
                "Please consider adding a default payment method.",
                param="customer",
            )
        if _declines(pm):
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
    cancel_at = _cancel_time(p["cancel_at"], [end], now) if p.get("cancel_at") else None
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
        _new_item(sandbox, account, sub, price, quantity, spec.get("metadata"), now, end)
    _sync(sandbox, account, sub)
    if p.get("cancel_at_period_end"):
        sub.update(cancel_at=end, cancel_at_period_end=True, canceled_at=now)
        sub["cancellation_details"]["reason"] = "cancellation_requested"
    elif cancel_at is not None:
        _schedule_cancel(sub, cancel_at, now)

    _IN_FLIGHT.add(sub["id"])
    try:
        # `default_incomplete` leaves the first invoice open for the client to pay.
        collect = behavior != "default_incomplete"
        invoice = _bill(sandbox, account, sub, "subscription_create", collect=collect)
        if collection == "send_invoice" or invoice["status"] == "paid":
            sub["status"] = "active"
    finally:
        _IN_FLIGHT.discard(sub["id"])
    sandbox.emit(account, "customer.subscription.created", sub)
    return sub


def _cancel_time(cancel_at: Any, ends: list[int], now: int) -> int:
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


def _schedule_cancel(sub: dict[str, Any], cancel_at: int, now: int) -> None:
    ends = [i["current_period_end"] for i in sub["items"]["data"]] or [now]
    sub["cancel_at"] = cancel_at
    sub["cancel_at_period_end"] = cancel_at == max(ends)
    sub["canceled_at"] = now
    sub["cancellation_details"]["reason"] = "cancellation_requested"


# ---- the subscription's invoices --------------------------------------------------------
def _money(amount: int, currency: str) -> str:
    if currency == "usd":
        return f"${amount / 100:,.2f}"
    return f"{amount / 100:,.2f} {currency.upper()}"


def _proration_item(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    item: dict[str, Any],
    price: dict[str, Any],
    *,
    quantity: int,
    amount: int,
    description: str,
    period: tuple[int, int],
) -> dict[str, Any]:
    """A pending `invoiceitem` (proration) for the subscription's next invoice."""
    ii = sandbox.add(
        account,
        {
            "object": "invoiceitem",
            "amount": amount,
            "currency": price["currency"],
            "customer": sub["customer"],
            "customer_account": None,
            "date": sandbox.now(),
            "description": description,
            "discountable": False,
            "discounts": [],
            "frozen_fields": None,
            "invoice": None,
            "invoicing_rules": None,
            "metadata": {},
            "net_amount": amount,
            "parent": {
                "subscription_details": {
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
                "type": "subscription_details",
            },
            "period": {"end": period[1], "start": period[0]},
            "pricing": {
                "price_details": {"price": price["id"], "product": price["product"]},
                "type": "price_details",
                "unit_amount_decimal": format(
                    (Decimal(amount) / Decimal(quantity or 1)).normalize(), "f"
                ),
            },
            "proration": True,
            "proration_details": {"credited_items": None, "discount_amounts": []},
            "quantity": quantity,
            "quantity_decimal": str(quantity),
            "tax_rates": [],
            "test_clock": None,
        },
    )
    sandbox.emit(account, "invoiceitem.created", ii)
    return ii


def _pending_prorations(account: Account, sub_id: str) -> list[dict[str, Any]]:
    """The subscription's pending proration items, oldest first."""
    found = []
    for i in account.order.get("invoiceitem", []):
        ii = account.objects[i]
        details = (ii.get("parent") or {}).get("subscription_details") or {}
        if ii["invoice"] is None and details.get("subscription") == sub_id:
            found.append(ii)
    return found


def _subscription_invoice(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    items: list[dict[str, Any]],
    reason: str,
    period: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The subscription's invoice (built with the billing module): a line per item for its
    current period, its pending prorations, then the customer's other pending items;
    finalized."""
    params: dict[str, Any] = {
        "customer": sub["customer"],
        "collection_method": sub["collection_method"],
        "currency": sub["currency"],
        "auto_advance": True,
    }
    if sub["collection_method"] == "send_invoice":
        params["days_until_due"] = sub["days_until_due"] or 0
    if sub["default_payment_method"]:
        params["default_payment_method"] = sub["default_payment_method"]
    if sub["payment_settings"]["payment_method_types"]:
        params["payment_settings"] = {
            "payment_method_types": sub["payment_settings"]["payment_method_types"]
        }
    invoice = billing.new_invoice(
        sandbox, account, params, billing_reason=reason, subscription=sub["id"]
    )
    invoice["parent"]["subscription_details"]["metadata"] = copy.deepcopy(sub["metadata"])
    if period is not None:
        # A renewal invoice's period_* is the period that just ended, as on Stripe.
        invoice["period_start"], invoice["period_end"] = period
    for item in items:
        price = item["price"]
        product = sandbox.find(account, "product", price["product"]) or {}
        recurring = price["recurring"]
        every = recurring["interval"]
        if recurring["interval_count"] != 1:
            every = f"every {recurring['interval_count']} {every}s"
        unit = price["unit_amount"] or 0
        invoice_items.add_line(
            sandbox,
            account,
            invoice,
            amount=unit * item["quantity"],
            description=f"{item['quantity']} {TIMES} {product.get('name', price['id'])} "
            f"(at {_money(unit, price['currency'])} / {every})",
            quantity=item["quantity"],
            price=price,
            period={"end": item["current_period_end"], "start": item["current_period_start"]},
            subscription=sub["id"],
            subscription_item=item["id"],
        )
    for ii in _pending_prorations(account, sub["id"]):
        ii["invoice"] = invoice["id"]
        price_id = ii["pricing"]["price_details"]["price"]
        invoice_items.add_line(
            sandbox,
            account,
            invoice,
            amount=ii["amount"],
            description=ii["description"],
            quantity=ii["quantity"],
            price=sandbox.find(account, "price", price_id),
            period=ii["period"],
            invoice_item=ii["id"],
            subscription=sub["id"],
            subscription_item=ii["parent"]["subscription_details"]["subscription_item"],
            proration=True,
        )
    invoice_items.pull_pending_items(sandbox, account, invoice)
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
    credit = invoice["total"]
    billing.finalize(sandbox, account, invoice)
    if credit < 0:
        # A net credit goes to the customer's balance (Stripe's behaviour).
        customer = sandbox.find(account, "customer", sub["customer"])
        if customer is not None:
            customer["balance"] = customer.get("balance", 0) + credit
            invoice["ending_balance"] = customer["balance"]
    return invoice


# ---- changes ------------------------------------------------------------------------------
def _items_snapshot(sub: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(sub["items"])


def _live(sub: dict[str, Any]) -> bool:
    return sub["status"] not in ("canceled", "incomplete_expired")


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

    prorated = False
    for action, item, price, quantity, spec in plan:
        if action == "delete":
            if prorate:
                prorated |= bool(
                    _proration(
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
            new = _new_item(
                sandbox, account, sub, price, quantity, spec.get("metadata"), start, end
            )
            if prorate:
                prorated |= bool(
                    _proration(sandbox, account, sub, new, price, quantity, at, credit=False)
                )
        elif price is not None:
            changed = price["id"] != item["price"]["id"] or quantity != item["quantity"]
            if changed and prorate:
                prorated |= bool(
                    _proration(
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
                    _proration(sandbox, account, sub, item, price, quantity, at, credit=False)
                )
            if price["id"] != item["price"]["id"]:
                item["price"], item["plan"] = copy.deepcopy(price), _plan(price)
            item["quantity"] = quantity
            if "metadata" in spec:
                item["metadata"] = merge_metadata(item["metadata"], spec["metadata"])
    _sync(sandbox, account, sub)
    return prorated


def _invoice_now(sandbox: Sandbox, account: Account, sub: dict[str, Any]) -> None:
    """`always_invoice`: bill the pending prorations right away."""
    if _pending_prorations(account, sub["id"]):
        _IN_FLIGHT.add(sub["id"])
        try:
            invoice = _bill(sandbox, account, sub, "subscription_update", items=False)
        finally:
            _IN_FLIGHT.discard(sub["id"])
        if invoice["status"] != "paid" and sub["collection_method"] == "charge_automatically":
            sub["status"] = "past_due"


def cancel(
    sandbox: Sandbox,
    account: Account,
    sub: dict[str, Any],
    *,
    at: int | None = None,
    reason: str = "cancellation_requested",
) -> None:
    """End the subscription now (or at `at`, a past moment the clock has reached)."""
    now = sandbox.now()
    previous = {"status": sub["status"], "ended_at": None, "canceled_at": sub["canceled_at"]}
    sub["status"] = "canceled"
    sub["ended_at"] = at or now
    sub["canceled_at"] = sub["canceled_at"] or now
    sub["cancellation_details"]["reason"] = sub["cancellation_details"]["reason"] or reason
    sandbox.emit(account, "customer.subscription.deleted", sub, previous)


# ---- the clock ----------------------------------------------------------------------------
def renew(sandbox: Sandbox, account: Account, sub: dict[str, Any]) -> None:
    """Bring the subscription up to the sandbox clock: one invoice per period passed, and the
    end of subscriptions scheduled to end."""
    now = sandbox.now()
    while True:
        items = items_of(sandbox, account, sub["id"])
        if not items or not _live(sub):
            return
        if sub["status"] == "incomplete":
            if now >= sub["created"] + INCOMPLETE_WINDOW:
                sub["status"] = "incomplete_expired"
                sub["ended_at"] = sub["created"] + INCOMPLETE_WINDOW
                sandbox.emit(
                    account, "customer.subscription.updated", sub, {"status": "incomplete"}
                )
            return
        end = items[0]["current_period_end"]
        if sub["cancel_at"] and sub["cancel_at"] <= min(now, end):
            cancel(sandbox, account, sub, at=sub["cancel_at"])
            return
        if end > now:
            return
        before = _items_snapshot(sub)
        old_start = items[0]["current_period_start"]
        new_end = period_end(sub["billing_cycle_anchor"], end, items[0]["price"]["recurring"])
        for item in items:
            item["current_period_start"], item["current_period_end"] = end, new_end
        _sync(sandbox, account, sub)
        previous: dict[str, Any] = {"items": before, "latest_invoice": sub["latest_invoice"]}
        _IN_FLIGHT.add(sub["id"])
        try:
            invoice = _bill(sandbox, account, sub, "subscription_cycle", period=(old_start, end))
        finally:
            _IN_FLIGHT.discard(sub["id"])
        if sub["collection_method"] == "charge_automatically":
            status = "active" if invoice["status"] == "paid" else "past_due"
            if status != sub["status"]:
                previous["status"] = sub["status"]
                sub["status"] = status
        sandbox.emit(account, "customer.subscription.updated", sub, previous)


def _on_clock(sandbox: Sandbox) -> None:
    for account in list(sandbox.accounts.values()):
        for sub in sandbox.all(account, "subscription"):
            renew(sandbox, account, sub)


def _on_event(sandbox: Sandbox, account: Account, event: dict[str, Any]) -> None:
    """An invoice of an incomplete or past-due subscription got paid (hosted page, the
    control API, a retry): the subscription becomes active."""
    if event["type"] != "invoice.paid":
        return
    invoice = event["data"]["object"]
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    sub_id = details.get("subscription")
    if not sub_id or sub_id in _IN_FLIGHT:
        return
    sub = account.objects.get(sub_id)
    if sub is None or sub["status"] not in ("incomplete", "past_due", "unpaid"):
        return
    previous = {"status": sub["status"]}
    sub["status"] = "active"
    sandbox.emit(account, "customer.subscription.updated", sub, previous)


def install(sandbox: Sandbox) -> None:
    """Renew on clock moves; activate subscriptions whose invoices get paid later."""
    from regentra.sandbox.stripe.resources import checkout

    sandbox.clock_hooks.append(_on_clock)
    sandbox.listeners.append(lambda account, event: _on_event(sandbox, account, event))
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
    _unsupported(p)
    if not _live(sub) and set(p) - {"metadata", "cancellation_details", "expand"}:
        raise StripeError(
            "A canceled subscription can only update its cancellation_details and metadata.",
        )
    now = ctx.now()
    cancel_at = None
    if p.get("cancel_at") not in (None, ""):
        ends = [i["current_period_end"] for i in sub["items"]["data"]] or [now]
        cancel_at = _cancel_time(p["cancel_at"], ends, now)
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
        pm_id = _resolve_payment_method(sandbox, account, customer, p["default_payment_method"])
    elif p.get("default_payment_method") == "":
        pm_id = None
    previous: dict[str, Any] = {}
    if collection == "charge_automatically" and "collection_method" in p:
        p = {**p, "days_until_due": ""}
    before_items = _items_snapshot(sub)
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
            _invoice_now(sandbox, account, sub)
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
        _schedule_cancel(sub, cancel_at, now)
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
    if not _live(sub):
        # Stripe treats a canceled subscription as deleted here (stripe-go#1887).
        raise missing("subscription", sub["id"])
    details = p.get("cancellation_details") or {}
    for key in ("comment", "feedback"):
        if key in details:
            sub["cancellation_details"][key] = details[key] or None
    if p.get("prorate"):
        at = ctx.now()
        for item in items_of(sandbox, account, sub["id"]):
            _proration(
                sandbox, account, sub, item, item["price"], item["quantity"], at, credit=True
            )
    if p.get("invoice_now") and _pending_prorations(account, sub["id"]):
        _IN_FLIGHT.add(sub["id"])
        try:
            _bill(sandbox, account, sub, "subscription_update", items=False)
        finally:
            _IN_FLIGHT.discard(sub["id"])
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
    if not _live(sub):
        raise StripeError("This subscription has been canceled and cannot be changed.")
    before = _items_snapshot(sub)
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
        _invoice_now(ctx.sandbox, ctx.account, sub)
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
