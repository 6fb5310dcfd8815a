"""Which lines of an invoice go to Stripe through their catalog item's Stripe price.

A catalog or agreement line goes as `pricing[price]` + `quantity` (Stripe then shows the
product's price and the quantity, and computes the amount itself) when its catalog item's
Stripe price can back it and gives exactly our amount:

- the price is one-time: Stripe refuses a recurring price for an invoice item ("The price
  specified is set to `type=recurring` but this field only accepts prices with
  `type=one_time`"), so a recurring price's line goes as an amount with its description;
- it is active, per unit (not tiered, metered or a custom amount), a whole number of minor
  units, and in the invoice's currency, its only currency (a price with `currency_options`
  is several catalog items; such a line goes as an amount);
- the line is exactly quantity x that unit amount: not prorated (a prorated line's unit is
  its prorated amount), not an adjustment or a credit (those have no catalog item), not a
  changed price (an agreement's own unit price).

Every other line goes as today (`sending._item_params`). Stripe's total is compared with
ours after the lines are added, whichever way each went.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regentra.catalog import service as catalog
from regentra.models import CatalogItem, CatalogPricing, CatalogSource, InvoiceLine, LineKind

PRICED_KINDS = (LineKind.catalog.value, LineKind.agreement.value)


def price_of(line: InvoiceLine, item: CatalogItem | None, *, currency: str) -> str | None:
    """The Stripe price that can carry `line` (see the module's docstring), else None.
    `item` is the line's catalog item; its price must be its only catalog item."""
    if line.kind not in PRICED_KINDS or item is None or item.stripe_price_id is None:
        return None
    unit = item.unit_amount
    usable = (
        item.source == CatalogSource.stripe.value
        and item.active
        and item.recurring_interval is None
        and item.pricing == CatalogPricing.per_unit.value
        and (item.currency or "").upper() == currency.upper()
        and unit is not None
        and (item.unit_amount_decimal is None or item.unit_amount_decimal == unit)
    )
    if not usable or line.quantity < 1 or line.amount < 0:
        return None
    if line.unit_amount != unit or line.amount != line.quantity * unit:
        return None
    return item.stripe_price_id


def prices_for(
    session: Session, *, org_id: uuid.UUID, currency: str, lines: Sequence[InvoiceLine]
) -> dict[uuid.UUID, str]:
    """The Stripe price of each line that goes through one, by line id."""
    ids = {line.catalog_item_id for line in lines if line.kind in PRICED_KINDS}
    ids.discard(None)
    if not ids:
        return {}
    items = {
        item.id: item
        for item in session.scalars(catalog.items.select(org_id).where(CatalogItem.id.in_(ids)))
    }
    price_ids = {item.stripe_price_id for item in items.values() if item.stripe_price_id}
    rows = session.execute(
        select(CatalogItem.stripe_price_id, func.count())
        .where(CatalogItem.org_id == org_id, CatalogItem.stripe_price_id.in_(price_ids))
        .group_by(CatalogItem.stripe_price_id)
    )
    currencies = {price: count for price, count in rows}
    found = {}
    for line in lines:
        item = items.get(line.catalog_item_id) if line.catalog_item_id else None
        if item is not None and currencies.get(item.stripe_price_id, 0) != 1:
            continue  # a price with currency_options: an amount
        price = price_of(line, item, currency=currency)
        if price is not None:
            found[line.id] = price
    return found
