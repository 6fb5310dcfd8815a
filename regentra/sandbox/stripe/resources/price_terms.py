"""What a Price charges: per-unit amounts (integer or decimal), tiers, currency options, and
metered usage through a billing meter; plus the minimal Billing Meter endpoints a metered
price needs.

A price's `currency_options` and `tiers` are includable: Stripe leaves them out of the price
unless the request expands them (`expand[]=currency_options`, `expand[]=data.tiers`), so they
are kept beside the price, in an internal (non-Stripe) object, and put in on expansion.
"""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation
from typing import Any

from regentra.sandbox.stripe import currencies
from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources._util import currency
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox

router = Router()

MAX_DECIMAL_PLACES = 12  # "a decimal string with at most 12 decimal places"
EXTRAS = "sandbox.price_extras"


def _at(parent: str, name: str) -> str:
    """A parameter's path as Stripe names it: `unit_amount`, `tiers[0][up_to]`."""
    return f"{parent}[{name}]" if parent else name


def _extras_key(price_id: str) -> str:
    return f"price_extras_{price_id}"


def parse_decimal(value: Any, param: str) -> Decimal:
    """A non-negative decimal string with at most 12 decimal places."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise StripeError(f"Invalid decimal: {value}", param=param) from None
    if not number.is_finite():
        raise StripeError(f"Invalid decimal: {value}", param=param)
    if number < 0:
        raise StripeError(f"Invalid decimal: {param} must be >= 0", param=param)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        raise StripeError(
            f"Invalid decimal: {value}. {param} can have at most {MAX_DECIMAL_PLACES} "
            "decimal places.",
            param=param,
        )
    return number


def decimal_string(number: Decimal) -> str:
    """Plain notation without trailing zeros ("1500", "12.5"), never an exponent."""
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def unit_amounts(
    p: dict[str, Any], prefix: str, *, required: bool
) -> tuple[int | None, str | None]:
    """(`unit_amount`, `unit_amount_decimal`) as Stripe answers them: a decimal with a fraction
    has no integer `unit_amount` (null)."""
    amount, raw = p.get("unit_amount"), p.get("unit_amount_decimal")
    if amount is not None and raw is not None:
        raise StripeError(
            "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
            param=_at(prefix, "unit_amount_decimal"),
        )
    if amount is not None:
        if amount < 0:
            raise StripeError(
                "Invalid integer: unit_amount must be >= 0", param=_at(prefix, "unit_amount")
            )
        return amount, str(amount)
    if raw is not None:
        number = parse_decimal(raw, _at(prefix, "unit_amount_decimal"))
        whole = int(number) if number == number.to_integral_value() else None
        return whole, decimal_string(number)
    if required:
        raise StripeError(
            "Missing required param: unit_amount.",
            code="parameter_missing",
            param=_at(prefix, "unit_amount"),
        )
    return None, None


def _tiers(raw: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    if not raw:
        raise StripeError(
            "Missing required param: tiers.", code="parameter_missing", param=_at(prefix, "tiers")
        )
    tiers: list[dict[str, Any]] = []
    last_up_to = 0
    for i, tier in enumerate(raw):
        here = f"{_at(prefix, 'tiers')}[{i}]"
        up_to = tier["up_to"]
        if up_to == "inf":
            if i != len(raw) - 1:
                raise StripeError(
                    "Only the last tier may have up_to=inf.", param=_at(here, "up_to")
                )
            up_to = None
        else:
            if up_to <= last_up_to:
                raise StripeError(
                    "Tiers must be in ascending order of up_to.", param=_at(here, "up_to")
                )
            last_up_to = up_to
            if i == len(raw) - 1:
                raise StripeError("The last tier must have up_to=inf.", param=_at(here, "up_to"))
        unit, unit_decimal = unit_amounts(tier, here, required=False)
        flat = tier.get("flat_amount")
        flat_raw = tier.get("flat_amount_decimal")
        if flat is not None and flat_raw is not None:
            raise StripeError(
                "You may only specify one of these parameters: flat_amount, flat_amount_decimal.",
                param=_at(here, "flat_amount_decimal"),
            )
        flat_decimal = None
        if flat_raw is not None:
            # "a decimal value representing an integer in the minor units of the currency"
            number = parse_decimal(flat_raw, _at(here, "flat_amount_decimal"))
            if number != number.to_integral_value():
                raise StripeError(
                    f"Invalid flat_amount_decimal: {flat_raw} must be a whole number of minor "
                    "units.",
                    param=_at(here, "flat_amount_decimal"),
                )
            flat_decimal = decimal_string(number)
        elif flat is not None:
            flat_decimal = str(flat)
        if unit_decimal is None and flat_decimal is None:
            raise StripeError(
                "Each tier needs unit_amount, unit_amount_decimal, flat_amount or "
                "flat_amount_decimal.",
                code="parameter_missing",
                param=_at(here, "unit_amount"),
            )
        tiers.append(
            {
                "flat_amount": int(flat_decimal) if flat_decimal is not None else None,
                "flat_amount_decimal": flat_decimal,
                "unit_amount": unit,
                "unit_amount_decimal": unit_decimal,
                "up_to": up_to,
            }
        )
    return tiers


def _option(p: dict[str, Any], prefix: str, *, tiered: bool, cur: str) -> dict[str, Any]:
    """One price's charge in one currency: the shape of a price's `currency_options` value."""
    if tiered:
        if p.get("unit_amount") is not None or p.get("unit_amount_decimal") is not None:
            raise StripeError(
                "unit_amount cannot be set when billing_scheme=tiered: set tiers instead.",
                param=_at(prefix, "unit_amount"),
            )
        return {
            "custom_unit_amount": None,
            "tax_behavior": p.get("tax_behavior", "unspecified"),
            "tiers": _tiers(p.get("tiers") or [], prefix),
            "unit_amount": None,
            "unit_amount_decimal": None,
        }
    if p.get("tiers"):
        raise StripeError(
            "tiers can only be set when billing_scheme=tiered.", param=_at(prefix, "tiers")
        )
    custom = p.get("custom_unit_amount")
    amount, decimal = unit_amounts(p, prefix, required=custom is None)
    if amount is not None:  # ISK whole krónur, three-decimal amounts ending in 0
        currencies.check_amount(amount, cur, _at(prefix, "unit_amount"))
    elif decimal is not None:
        currencies.check_amount(Decimal(decimal), cur, _at(prefix, "unit_amount_decimal"))
    return {
        "custom_unit_amount": (
            {
                "maximum": custom.get("maximum"),
                "minimum": custom.get("minimum"),
                "preset": custom.get("preset"),
            }
            if custom
            else None
        ),
        "tax_behavior": p.get("tax_behavior", "unspecified"),
        "tiers": None,
        "unit_amount": amount,
        "unit_amount_decimal": decimal,
    }


def terms(ctx: Ctx, p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The price's public charge fields, and what is kept aside (its includable fields)."""
    scheme = p.get("billing_scheme", "per_unit")
    tiered = scheme == "tiered"
    if tiered and not p.get("tiers_mode"):
        raise StripeError(
            "Missing required param: tiers_mode.", code="parameter_missing", param="tiers_mode"
        )
    if not tiered and p.get("tiers_mode"):
        raise StripeError(
            "tiers_mode can only be set when billing_scheme=tiered.", param="tiers_mode"
        )
    main = currency(p["currency"])
    default = _option(p, "", tiered=tiered, cur=main)
    options = {main: default}
    for code, raw in (p.get("currency_options") or {}).items():
        key = currency(code, f"currency_options[{code}]")
        if key == main:
            raise StripeError(
                f"currency_options cannot include the price's own currency ({main}): its "
                "amount is the price's unit_amount.",
                param=f"currency_options[{code}]",
            )
        options[key] = _option(raw, f"currency_options[{code}]", tiered=tiered, cur=key)
    recurring = p.get("recurring")
    if recurring and recurring.get("usage_type") == "metered":
        if not recurring.get("meter"):
            raise StripeError(
                "Metered prices must be backed by a meter: set recurring[meter].",
                code="parameter_missing",
                param="recurring[meter]",
            )
        ctx.get("billing.meter", recurring["meter"], "recurring[meter]")
    elif recurring and recurring.get("meter"):
        raise StripeError(
            "recurring[meter] can only be set when recurring[usage_type]=metered.",
            param="recurring[meter]",
        )
    public = {
        "billing_scheme": scheme,
        "custom_unit_amount": default["custom_unit_amount"],
        "tiers_mode": p.get("tiers_mode") if tiered else None,
        "unit_amount": default["unit_amount"],
        "unit_amount_decimal": default["unit_amount_decimal"],
    }
    return public, {"currency_options": options, "tiers": default["tiers"]}


def keep_aside(account: Account, price_id: str, extras: dict[str, Any]) -> None:
    key = _extras_key(price_id)
    account.objects[key] = {"id": key, "object": EXTRAS, **extras}


def _included(field: str) -> Any:
    def include(account: Account, price: dict[str, Any]) -> Any:
        extras = account.objects.get(_extras_key(price["id"]), {})
        return copy.deepcopy(extras.get(field))

    return include


def install(sandbox: Sandbox) -> None:
    includes = sandbox.includables.setdefault("price", {})
    includes["currency_options"] = _included("currency_options")
    includes["tiers"] = _included("tiers")


# ---- billing meters (what a metered price is backed by) -------------------------------------


@router.route("POST", "/v1/billing/meters", "BillingMeterCreateParams")
def create_meter(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    now = ctx.now()
    return ctx.add(
        {
            "object": "billing.meter",
            "created": now,
            "customer_mapping": {
                "event_payload_key": (p.get("customer_mapping") or {}).get(
                    "event_payload_key", "stripe_customer_id"
                ),
                "type": "by_id",
            },
            "default_aggregation": {"formula": p["default_aggregation"]["formula"]},
            "display_name": p["display_name"],
            "event_name": p["event_name"],
            "event_time_window": p.get("event_time_window"),
            "status": "active",
            "status_transitions": {"deactivated_at": None},
            "updated": now,
            "value_settings": {
                "event_payload_key": (p.get("value_settings") or {}).get(
                    "event_payload_key", "value"
                )
            },
        }
    )


@router.route("GET", "/v1/billing/meters/{id}", "BillingMeterRetrieveParams")
def retrieve_meter(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("billing.meter", ctx.path["id"])
