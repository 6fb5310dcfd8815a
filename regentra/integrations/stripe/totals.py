"""Stripe must not change the amount behind our back: the checks around a send.

Before anything reaches Stripe, an invoice below Stripe's minimum charge in its currency is
refused (Stripe would mark it paid at finalization and carry the amount to the customer's
balance, so the client would never be asked for it). The Stripe invoice is created with
`discounts=""` (a coupon on the customer is not inherited); after finalizing, its `total`
must equal ours, and its `amount_due` too, unless a credit balance the client has in Stripe
paid part of it: that is fine and shown on the invoice ("credit applied in Stripe"). Any
other difference stops the send before Stripe emails the invoice.
"""

from __future__ import annotations

from typing import Any

from regentra.integrations.stripe.amounts import from_stripe
from regentra.integrations.stripe.errors import StripeTotalMismatch
from regentra.invoices.errors import InvoiceBelowMinimum
from regentra.kit.currencies import minimum_charge
from regentra.kit.money import format_money
from regentra.models import Invoice

_VOID_AND_RETRY = (
    "Nothing was emailed to the client. Void this invoice (it is voided in Stripe too), "
    "then generate a new one"
)


def check_minimum(invoice: Invoice) -> None:
    """409 when the total is below Stripe's minimum charge in the invoice's currency."""
    minimum = minimum_charge(invoice.currency)
    if minimum is not None and 0 < invoice.total < minimum:
        raise InvoiceBelowMinimum(
            f"invoice {invoice.number} totals {format_money(invoice.total, invoice.currency)}, "
            f"less than the {format_money(minimum, invoice.currency)} Stripe charges at the "
            f"least in {invoice.currency}: Stripe would mark it paid without charging. Add "
            "lines to reach the minimum, or void it and bill this time with the next invoice."
        )


def _money(amount: int, invoice: Invoice) -> str:
    return format_money(amount, invoice.currency)


def check_finalized(invoice: Invoice, *, sid: str, found: dict[str, Any], total: int) -> int:
    """The finalized Stripe invoice `found` asks for what we billed: returns its amount due
    (in our minor units), less than `total` only by a credit balance applied in Stripe."""
    currency = invoice.currency

    def amount(name: str) -> int:
        value = found.get(name)
        return from_stripe(value, currency) if isinstance(value, int) else 0

    stripe_total, due = amount("total"), amount("amount_due")
    if stripe_total != total:
        discounted = amount("subtotal") - stripe_total
        why = (
            f"a discount of {_money(discounted, invoice)} was applied in Stripe"
            if found.get("total_discount_amounts") and discounted > 0
            else "it was changed in Stripe"
        )
        raise StripeTotalMismatch(
            f"the Stripe invoice {sid} totals {_money(stripe_total, invoice)} but invoice "
            f"{invoice.number} totals {_money(total, invoice)}: {why}. {_VOID_AND_RETRY}."
        )
    if due == total:
        return due
    starting, ending = amount("starting_balance"), amount("ending_balance")
    credit = max(-starting, 0)
    # Below Stripe's minimum after the credit: Stripe marks it paid and carries the rest to
    # the customer's balance (a debit), which the next invoice collects.
    carried = max(ending, 0) if found.get("status") == "paid" else 0
    if due < total and total - due <= credit + carried:
        return due
    if starting > 0:
        why = f"Stripe added the {_money(starting, invoice)} the client's customer owes there"
        then = "clear that balance in Stripe (the customer's invoice balance)"
    else:
        why = "the amount due was changed in Stripe"
        then = "check the customer in Stripe"
    raise StripeTotalMismatch(
        f"the Stripe invoice {sid} asks {_money(due, invoice)} but invoice {invoice.number} "
        f"totals {_money(total, invoice)}: {why}. Nothing was emailed to the client. Void "
        f"this invoice (it is voided in Stripe too), {then}, then generate a new one."
    )
