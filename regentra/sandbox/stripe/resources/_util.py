"""Helpers shared by resource handlers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import format_currency

from regentra.sandbox.stripe import currencies
from regentra.sandbox.stripe.errors import StripeError


def merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's metadata update: keys set to "" are removed; "" for the whole hash clears it."""
    if update == "":
        return {}
    merged = dict(current)
    for key, value in (update or {}).items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    if len(merged) > 50:
        raise StripeError("Metadata can have at most 50 keys.", param="metadata")
    return merged


def apply(obj: dict[str, Any], params: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Set plain fields from params; returns previous values of what changed."""
    previous: dict[str, Any] = {}
    for name in fields:
        if name in params:
            value = params[name]
            if value == "":
                value = None
            if obj.get(name) != value:
                previous[name] = obj.get(name)
                obj[name] = value
    if "metadata" in params:
        merged = merge_metadata(obj.get("metadata", {}), params["metadata"])
        if merged != obj.get("metadata"):
            previous["metadata"] = obj.get("metadata")
            obj["metadata"] = merged
    return previous


def not_emulated(params: dict[str, Any], names: tuple[str, ...], where: str) -> None:
    """Refuse a sub-feature Stripe has and the sandbox does not emulate (never ignore it)."""
    for name in names:
        if name in params:
            raise StripeError(
                f"The Stripe sandbox does not emulate `{name}` on {where}.", param=name
            )


def currency(value: str, param: str = "currency") -> str:
    """A currency Stripe supports, lowercase (see `currencies`)."""
    return currencies.check_currency(value, param)


def money(amount: int, currency: str) -> str:
    """An amount in the API's units as people read it ("$1,250.50", "¥1,500", "ISK 22,500"
    for 2250000: ISK is two-decimal in the API, see `currencies`)."""
    value = Decimal(amount).scaleb(-currencies.decimals(currency))
    return str(format_currency(value, currency.upper(), locale="en_US"))
