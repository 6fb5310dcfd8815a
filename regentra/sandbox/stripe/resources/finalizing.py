"""Finalizing an invoice (draft → open, or paid when nothing is due), shared by the invoice
endpoints (`billing`), paying a draft (`payments.pay_invoice`) and subscription renewals."""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import currencies
from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources import balances, discounts, invoice_items
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

DAY = 86400
DAYS_KEY = "days_until_due:"  # account.counters entry: an invoice's days_until_due


def number_holder(account: Account, number: str, *, other_than: str | None = None) -> str | None:
    """The id of the account's invoice carrying `number`, if any (other than `other_than`):
    an invoice number is unique across the account, whoever set it."""
    for invoice_id in account.order.get("invoice", []):
        invoice = account.objects.get(invoice_id)
        if invoice and invoice_id != other_than and invoice.get("number") == number:
            return invoice_id
    return None


def check_number(account: Account, number: str, *, other_than: str | None = None) -> None:
    """Refuse a given `number` another invoice of the account already carries."""
    holder = number_holder(account, number, other_than=other_than)
    if holder is not None:
        raise StripeError(
            f"Invoice number '{number}' is already in use by another invoice ({holder}) in "
            "this account; invoice numbers must be unique.",
            param="number",
        )


def _number(account: Account, customer: dict[str, Any] | None) -> str:
    """The next automatic number, skipping any a caller already gave another invoice."""
    while True:
        if customer and customer.get("invoice_prefix"):
            seq = customer.get("next_invoice_sequence", 1)
            customer["next_invoice_sequence"] = seq + 1
            number = f"{customer['invoice_prefix']}-{seq:04d}"
        else:
            number = f"{account.id[-8:].upper()}-{account.next_number('invoice_number'):04d}"
        if number_holder(account, number) is None:
            return number


def finalize(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    base_url: str | None = None,
    *,
    auto_advance: bool | None = None,
) -> dict[str, Any]:
    """draft → open (or paid when nothing is due); emits `invoice.finalized`."""
    if invoice["status"] != "draft":
        raise StripeError(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            code="invoice_not_editable",
        )
    invoice_items.refresh_totals(invoice, account)
    if invoice["amount_due"] > currencies.MAXIMUM_CHARGE:
        # Stripe's error code; its wording for invoices is not documented (that of a
        # PaymentIntent over the maximum, for USD: "Amount must be no more than $999,999.99").
        raise StripeError(
            f"Amount must be no more than {currencies.MAXIMUM_CHARGE} "
            f"({invoice['currency']}, in the smallest currency unit).",
            code="amount_too_large",
            param="amount",
        )
    balances.apply_at_finalization(sandbox, account, invoice)
    now = sandbox.now()
    base = (base_url or sandbox.base_url).rstrip("/")
    url = f"{base}/i/{account.id}/test_{random_token(32)}"
    customer = sandbox.find(account, "customer", invoice["customer"])
    days = account.counters.get(DAYS_KEY + invoice["id"])
    due_date = invoice["due_date"]
    if invoice["collection_method"] == "send_invoice" and days is not None:
        due_date = now + days * DAY
    previous: dict[str, Any] = {"status": "draft", "hosted_invoice_url": None}
    if not invoice.get("number"):
        previous["number"] = None
    invoice.update(
        number=invoice.get("number") or _number(account, customer),
        hosted_invoice_url=url,
        invoice_pdf=url + "/pdf",
        due_date=due_date,
        effective_at=now,
        status="open",
        auto_advance=invoice["auto_advance"] if auto_advance is None else auto_advance,
    )
    invoice["status_transitions"]["finalized_at"] = now
    sandbox.emit(account, "invoice.finalized", invoice, previous)
    discounts.after_finalization(sandbox, account, invoice)
    if invoice["amount_due"] == 0:
        invoice["status"] = "paid"
        invoice["status_transitions"]["paid_at"] = now
        sandbox.emit(account, "invoice.paid", invoice, {"status": "open"})
    return invoice
