"""Whether a catalog item can be a fixed invoice line (quantity times a whole unit price) or an
hourly rate: one rule, used by the invoice and time-entry services, the API and the pages.

Only a per-unit price whose unit price is a whole number of minor units qualifies. Tiered
and metered prices have no single unit price; a customer-chosen amount has none at all; and
a fractional unit price (Stripe's `unit_amount_decimal` "12.345") is kept exactly in the
catalog but refused as a line, because an invoice line's unit price is whole minor units and
Stripe would be sent a different unit price than the catalog shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from regentra.catalog.errors import ItemNotFixedPrice
from regentra.models import CatalogItem, CatalogPricing

_PRICING_WHY = {
    CatalogPricing.tiered.value: "has tiered pricing (the unit price depends on the quantity)",
    CatalogPricing.metered.value: "is a metered price (billed on reported usage)",
    CatalogPricing.custom_amount.value: "has a customer-chosen amount",
}


def fixed_line_problem(
    *, pricing: str, unit_amount: int | None, unit_amount_decimal: Decimal | None
) -> str | None:
    """Why the item cannot be a fixed line ("has tiered pricing …"), or None when it can
    (as far as its price goes: whether it is active and priced is checked separately)."""
    why = _PRICING_WHY.get(pricing)
    if why is not None:
        return why
    if unit_amount is None and unit_amount_decimal is not None:
        return (
            f"has a unit price of {unit_amount_decimal} minor units, a fraction of a minor "
            "unit, which an invoice line cannot carry"
        )
    return None


def check_fixed_price(item: CatalogItem) -> None:
    """422 when the item's price cannot be a fixed line or an hourly rate (tiered, metered, a
    customer-chosen amount, a fraction of a minor unit): see `catalog.lines`."""
    problem = fixed_line_problem(
        pricing=item.pricing,
        unit_amount=item.unit_amount,
        unit_amount_decimal=item.unit_amount_decimal,
    )
    if problem is not None:
        raise ItemNotFixedPrice(
            f"catalog item '{item.name}' {problem}: it cannot be a fixed line; add a manual "
            "line with the amount instead"
        )


def fixed_price_items(items: Iterable[CatalogItem]) -> list[CatalogItem]:
    """The items whose price can be a fixed line (for pickers)."""
    return [
        i
        for i in items
        if fixed_line_problem(
            pricing=i.pricing, unit_amount=i.unit_amount, unit_amount_decimal=i.unit_amount_decimal
        )
        is None
    ]
