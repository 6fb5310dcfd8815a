"""Coupons, the customer's discount, and the discounts of an invoice.

In API version 2026-10-28 `customers.create`/`update` take no `coupon` (the SDK's
`CustomerCreateParams` has none): a customer gets a discount in the Dashboard, emulated by
`POST /_sandbox/customers/{id}/discount` (`coupon=…`), and loses it through
`DELETE /v1/customers/{id}/discount`. An invoice inherits the customer's discount unless
`discounts` is given ("Pass an empty string to avoid inheriting any discounts",
`InvoiceCreateParams.discounts`). Coupons: `percent_off` or `amount_off` (+ `currency`),
`duration` once | forever | repeating (`duration_in_months`, counted as 30-day months).
Promotion codes are not emulated (refused). Discounts apply to the invoice's discountable
lines as a whole (`total_discount_amounts`); the per-line `discount_amounts` stay empty.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from regentra.sandbox.stripe import currencies
from regentra.sandbox.stripe.errors import StripeError, missing_parameter
from regentra.sandbox.stripe.resources._util import merge_metadata
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

router = Router()
DAY = 86400


def store(account: Account, obj: dict[str, Any]) -> dict[str, Any]:
    """Keep an object whose id is already chosen (coupons, discounts, balance transactions)."""
    obj.setdefault("livemode", account.livemode)
    account.objects[obj["id"]] = obj
    account.order.setdefault(obj["object"], []).append(obj["id"])
    return obj


# ---- coupons ------------------------------------------------------------------------------
@router.route("POST", "/v1/coupons", "CouponCreateParams")
def create_coupon(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    if ("percent_off" in p) == ("amount_off" in p):
        raise StripeError(
            "You must pass exactly one of `percent_off` or `amount_off`.", param="percent_off"
        )
    cur = None
    if "amount_off" in p:
        if "currency" not in p:
            raise missing_parameter("currency")
        cur = currencies.check_currency(p["currency"])
        if p["amount_off"] <= 0:
            raise StripeError("Invalid integer: amount_off must be > 0", param="amount_off")
        currencies.check_amount(p["amount_off"], cur, "amount_off")
    elif not 0 < p["percent_off"] <= 100:
        raise StripeError(
            "Invalid percent_off: must be greater than 0 and at most 100", param="percent_off"
        )
    duration = p.get("duration", "once")
    if duration not in ("once", "forever", "repeating"):
        raise StripeError(f"Invalid duration: {duration}", param="duration")
    if (duration == "repeating") != ("duration_in_months" in p):
        raise StripeError(
            "`duration_in_months` is required when `duration` is `repeating`, and only then.",
            param="duration_in_months",
        )
    coupon_id = p.get("id") or random_token(8)
    if coupon_id in ctx.account.objects:
        raise StripeError("Coupon already exists.", code="resource_already_exists", param="id")
    coupon = store(
        ctx.account,
        {
            "id": coupon_id,
            "object": "coupon",
            "amount_off": p.get("amount_off"),
            "applies_to": None,
            "created": ctx.now(),
            "currency": cur,
            "duration": duration,
            "duration_in_months": p.get("duration_in_months"),
            "max_redemptions": p.get("max_redemptions"),
            "metadata": merge_metadata({}, p.get("metadata", {})),
            "name": p.get("name"),
            "percent_off": p.get("percent_off"),
            "redeem_by": p.get("redeem_by"),
            "times_redeemed": 0,
            "valid": True,
        },
    )
    ctx.emit("coupon.created", coupon)
    return coupon


@router.route("GET", "/v1/coupons/{id}", "CouponRetrieveParams")
def retrieve_coupon(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("coupon", ctx.path["id"])


# ---- discounts ----------------------------------------------------------------------------
def _redeem(
    sandbox: Sandbox,
    account: Account,
    coupon: dict[str, Any],
    *,
    customer: str,
    invoice: str | None = None,
) -> dict[str, Any]:
    if not coupon["valid"]:
        raise StripeError(f"Coupon {coupon['id']} is no longer valid.", param="coupon")
    now = sandbox.now()
    coupon["times_redeemed"] += 1
    if coupon["max_redemptions"] and coupon["times_redeemed"] >= coupon["max_redemptions"]:
        coupon["valid"] = False
    months = coupon["duration_in_months"]
    return store(
        account,
        {
            "id": "di_" + random_token(),
            "object": "discount",
            "checkout_session": None,
            "customer": customer,
            "customer_account": None,
            "end": now + months * 30 * DAY if coupon["duration"] == "repeating" else None,
            "invoice": invoice,
            "invoice_item": None,
            "promotion_code": None,
            "source": {"coupon": coupon["id"], "type": "coupon"},
            "start": now,
            "subscription": None,
            "subscription_item": None,
        },
    )


@router.route("POST", "/_sandbox/customers/{id}/discount", control=True)
def set_customer_discount(ctx: Ctx) -> dict[str, Any]:
    """The Dashboard's "Apply coupon" on a customer (the API has no parameter for it)."""
    customer = ctx.get("customer", ctx.path["id"])
    coupon_id = ctx.params.get("coupon")
    if not coupon_id:
        raise missing_parameter("coupon")
    coupon = ctx.get("coupon", coupon_id, "coupon")
    discount = _redeem(ctx.sandbox, ctx.account, coupon, customer=customer["id"])
    previous = {"discount": customer["discount"]}
    customer["discount"] = copy.deepcopy(discount)
    ctx.emit("customer.discount.created", discount)
    ctx.emit("customer.updated", customer, previous)
    return customer


def _remove_customer_discount(sandbox: Sandbox, account: Account, customer: dict[str, Any]) -> Any:
    discount = customer["discount"]
    customer["discount"] = None
    sandbox.emit(account, "customer.discount.deleted", discount)
    sandbox.emit(account, "customer.updated", customer, {"discount": discount})
    return discount


@router.route("DELETE", "/v1/customers/{id}/discount", "CustomerDeleteDiscountParams")
def delete_customer_discount(ctx: Ctx) -> dict[str, Any]:
    customer = ctx.get("customer", ctx.path["id"])
    if not customer.get("discount"):
        raise StripeError(
            f"No active discount for customer: '{customer['id']}'",
            status=404,
            code="resource_missing",
        )
    discount = _remove_customer_discount(ctx.sandbox, ctx.account, customer)
    return {**discount, "deleted": True}


def _active(discount: dict[str, Any] | None, now: int) -> bool:
    return bool(discount) and (discount["end"] is None or discount["end"] > now)  # type: ignore[index]


def invoice_discounts(
    sandbox: Sandbox,
    account: Account,
    customer: dict[str, Any],
    params: dict[str, Any],
    invoice_id: str,
    currency: str,
) -> list[str]:
    """The discount ids a new invoice gets: the ones asked for, else the customer's."""
    if "discounts" not in params:
        inherited = customer.get("discount")
        return [inherited["id"]] if inherited and _active(inherited, sandbox.now()) else []
    ids: list[str] = []
    for i, given in enumerate(params["discounts"] or []):
        param = f"discounts[{i}]"
        if given.get("promotion_code"):
            raise StripeError(
                "Promotion codes are not emulated by the sandbox.", param=param + "[promotion_code]"
            )
        if given.get("discount"):
            found = customer.get("discount")
            if not found or found["id"] != given["discount"]:
                raise StripeError(
                    f"No such discount: '{given['discount']}'",
                    status=404,
                    code="resource_missing",
                    param=param + "[discount]",
                )
            ids.append(found["id"])
        elif given.get("coupon"):
            coupon = sandbox.get(account, "coupon", given["coupon"], param + "[coupon]")
            if coupon["currency"] not in (None, currency):
                raise StripeError(
                    f"The coupon {coupon['id']} is in {coupon['currency']} but the invoice is "
                    f"in {currency}.",
                    param=param + "[coupon]",
                )
            discount = _redeem(
                sandbox, account, coupon, customer=customer["id"], invoice=invoice_id
            )
            ids.append(discount["id"])
        else:
            raise missing_parameter(param + "[coupon]")
    return ids


def discount_amounts(account: Account, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    """`total_discount_amounts`: each discount in turn on what the previous ones left of the
    discountable lines; percent_off rounded half up, amount_off at most what is left."""
    base = sum(line["amount"] for line in invoice["lines"]["data"] if line["discountable"])
    left = max(base, 0)
    result = []
    for discount_id in invoice.get("discounts") or []:
        discount = account.objects.get(discount_id)
        coupon = account.objects.get((discount or {}).get("source", {}).get("coupon") or "")
        if coupon is None:
            continue
        if coupon["percent_off"] is not None:
            exact = Decimal(left) * Decimal(str(coupon["percent_off"])) / 100
            off = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        elif coupon["currency"] == invoice["currency"]:
            off = min(coupon["amount_off"], left)
        else:
            off = 0
        left -= off
        result.append({"amount": off, "discount": discount_id})
    return result


def after_finalization(sandbox: Sandbox, account: Account, invoice: dict[str, Any]) -> None:
    """A customer's `once` coupon is used up by the first invoice it discounted."""
    customer = sandbox.find(account, "customer", invoice["customer"])
    discount = (customer or {}).get("discount")
    if not customer or not discount or discount["id"] not in (invoice.get("discounts") or []):
        return
    coupon = account.objects.get(discount["source"]["coupon"]) or {}
    if coupon.get("duration") == "once":
        _remove_customer_discount(sandbox, account, customer)


def update_invoice_discounts(
    sandbox: Sandbox, account: Account, invoice: dict[str, Any], given: Any
) -> dict[str, Any]:
    """`invoices.update(discounts=…)` on a draft: replaces its discounts ("" removes them);
    returns the previous value when it changed."""
    customer = sandbox.get(account, "customer", invoice["customer"], "customer")
    ids = invoice_discounts(
        sandbox, account, customer, {"discounts": given}, invoice["id"], invoice["currency"]
    )
    if ids == invoice["discounts"]:
        return {}
    previous = {"discounts": invoice["discounts"]}
    invoice["discounts"] = ids
    return previous
