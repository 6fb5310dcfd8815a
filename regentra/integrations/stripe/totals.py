"""Stripe must not change the amount behind our back: the checks around a send.

Before anything reaches Stripe, an invoice below Stripe's minimum charge in its currency is
refused (Stripe would mark it paid at finalization and carry the amount to the customer's
balance, so the client would never be asked for it). The Stripe invoice is created with
`discounts=""` (a coupon on the customer is not inherited); after finalizing, its `total`
must equal ours, and its `amount_due` too, unless a credit balance the client has in Stripe
paid part of it: that is fine and shown on the invoice ("credit applied in Stripe"). Any
other difference stops the send before Stripe emails the invoice.

A balance the client's customer has in Stripe is read on the draft (`starting_balance`: the
customer's current balance until finalization) before any line is added: a debt there, or
a credit that would leave less than the minimum charge due, stops the send while the Stripe
invoice is still a draft (Stripe would add the debt to this invoice, or mark it paid and
carry the remainder to the customer's balance), so the admin fixes the balance in Stripe
and sends again.
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


def check_draft(invoice: Invoice, *, sid: str, found: dict[str, Any], total: int) -> None:
    """Before the Stripe draft `found` gets its lines: the customer's balance in Stripe
    (its `starting_balance`) neither adds a debt to this invoice nor leaves a remainder
    below the minimum charge, which Stripe would mark paid and carry to the balance."""
    raw = found.get("starting_balance")
    starting = from_stripe(raw, invoice.currency) if isinstance(raw, int) else 0
    if starting > 0:
        raise StripeTotalMismatch(
            f"the Stripe invoice {sid} would ask {_money(total + starting, invoice)} but "
            f"invoice {invoice.number} totals {_money(total, invoice)}: Stripe adds the "
            f"{_money(starting, invoice)} the client's customer owes there. Nothing was "
            "finalized or emailed: clear that balance in Stripe (the customer's invoice "
            "balance) and send again."
        )
    due = total + starting
    minimum = minimum_charge(invoice.currency)
    if starting < 0 and minimum is not None and 0 < due < minimum:
        raise InvoiceBelowMinimum(
            f"the client's credit of {_money(-starting, invoice)} in Stripe leaves "
            f"{_money(due, invoice)} due on invoice {invoice.number}, less than the "
            f"{_money(minimum, invoice)} Stripe charges at the least in {invoice.currency}: "
            "Stripe would mark it paid and carry that amount to the client's balance. Nothing "
            "was finalized or emailed: adjust the credit in Stripe and send again, or void "
            "this invoice and bill the time with the next one."
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
    starting = amount("starting_balance")
    credit = max(-starting, 0)
    if due < total and total - due <= credit:
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
