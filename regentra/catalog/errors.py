"""Catalog errors: each names one condition and carries its HTTP status and `code`.

The item errors are also what invoices answer when a line names a catalog item."""

from __future__ import annotations

from regentra.errors import Conflict, Invalid


class ManagedByStripe(Conflict):
    """The item was synced from Stripe: it changes there, not here."""

    code = "managed_by_stripe"


class UnknownItem(Invalid):
    """A `catalog_item_id` names no catalog item of the org."""

    code = "unknown_item"


class ItemInactive(Invalid):
    code = "item_inactive"


class ItemRecurring(Invalid):
    """A recurring price cannot be an hourly rate."""

    code = "item_recurring"


class ItemUnpriced(Invalid):
    code = "item_unpriced"


class ItemCurrency(Invalid):
    """The item is priced in another currency than the client or invoice."""

    code = "item_currency"


class ItemAmount(Invalid):
    """The item's price is too large to be an hourly rate."""

    code = "item_amount"


class ItemNotFixedPrice(Invalid):
    """The item's price cannot be a fixed line: tiered, metered, a customer-chosen amount, or a
    fraction of a minor unit (`catalog.lines.fixed_line_problem`)."""

    code = "item_not_fixed_price"
