"""Money at the Stripe boundary: our minor units (ISO's, as Babel has them) ↔ Stripe's.

Every amount that crosses to or from Stripe goes through `to_stripe` / `from_stripe` (and
`unit_to_stripe` for decimal unit amounts): invoice items, the totals compared after
finalizing, `amount_paid` / `amount_due` read from webhooks and reconciliation, and price
amounts synced with the catalog. Stripe's decimals differ from ISO's for a few currencies:
ISK (and AFN, ALL, LAK, LBP, MMK, RSD, SOS, STD, YER) have none in ISO but two in Stripe's
API, so 5 ISK is 500 there (docs.stripe.com/currencies#special-cases). The facts are in
`regentra.kit.currencies`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from regentra.kit.currencies import stripe_decimals
from regentra.kit.money import precision


def _factor(currency: str) -> int:
    shift = stripe_decimals(currency) - precision(currency.upper())
    if shift < 0:  # no Stripe currency has fewer decimals in Stripe than in ISO
        raise ValueError(f"{currency} has fewer decimals in Stripe than in ISO 4217")
    return int(10**shift)


def to_stripe(amount_minor: int, currency: str) -> int:
    """Our amount in minor units → Stripe's `amount` in this currency."""
    return amount_minor * _factor(currency)


def unit_to_stripe(unit_minor: int | Decimal, currency: str) -> str:
    """A unit amount → Stripe's `unit_amount_decimal` (a decimal string)."""
    value = Decimal(unit_minor) * _factor(currency)
    return format(value.normalize(), "f")


def unit_from_stripe(unit: Decimal, currency: str) -> Decimal:
    """Stripe's `unit_amount(_decimal)` in this currency → ours, exactly (a price's unit may
    be fractional, so no rounding: 150 ISK-cents at Stripe is 1.5 ISK here)."""
    return unit / _factor(currency)


def from_stripe(amount: int, currency: str) -> int:
    """Stripe's `amount` in this currency → ours (exact: a remainder is a fraction of our
    smallest unit, which no amount we send can produce; it is rounded half up)."""
    factor = _factor(currency)
    if factor == 1:
        return amount
    whole, rest = divmod(amount, factor)
    return whole + (1 if rest * 2 >= factor else 0)


def amount_of(obj: dict[str, Any], name: str) -> int | None:
    """An amount field of a Stripe object (a webhook payload, a listed invoice) in our minor
    units, converted with the object's own `currency`; None when either is missing."""
    value, currency = obj.get(name), obj.get("currency")
    if not isinstance(value, int) or isinstance(value, bool) or not isinstance(currency, str):
        return None
    return from_stripe(value, currency)
