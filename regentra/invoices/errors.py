"""Invoice errors: each names one condition and carries its HTTP status and `code`.

Lines naming a catalog item answer the catalog's item errors (`regentra.catalog.errors`)."""

from __future__ import annotations

from regentra.errors import Conflict


class EntriesNotBillable(Conflict):
    """Some of the time entries asked for cannot be billed to the client."""

    code = "entries_not_billable"


class NothingToInvoice(Conflict):
    """The client has no approved, billable, uninvoiced time (in the period)."""

    code = "nothing_to_invoice"


class InvoiceNotDraft(Conflict):
    """Only drafts can be changed or sent."""

    code = "not_draft"


class SendInProgress(Conflict):
    """Sending the invoice started and did not finish: send it again, or void it."""

    code = "send_in_progress"


class InvoiceEmpty(Conflict):
    """An invoice without lines cannot be sent."""

    code = "invoice_empty"


class InvoiceZeroTotal(Conflict):
    """An invoice that totals nothing cannot be sent."""

    code = "invoice_zero_total"


class InvoicePaid(Conflict):
    """A paid invoice cannot be voided (refund the payment in Stripe instead)."""

    code = "invoice_paid"


class InvoiceVoid(Conflict):
    """The invoice is void (already, or voided while it was being sent)."""

    code = "invoice_void"


class InvoiceBelowMinimum(Conflict):
    """The total is below the smallest amount Stripe charges in the invoice's currency."""

    code = "below_minimum_charge"


class InvoiceCurrencyNotCharged(Conflict):
    """The invoice is in a currency Stripe cannot charge in (a client made before Regentra
    limited client currencies to Stripe's)."""

    code = "currency_not_supported_by_stripe"


class InvoiceNotOpen(Conflict):
    """Only a sent or overdue invoice can be sent to the client again."""

    code = "not_open"
