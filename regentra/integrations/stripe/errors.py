"""Stripe errors: what Stripe's answers (and our checks against Stripe) mean for the user.
Each class names one condition and carries its HTTP status and `code`.

`StripeRejected` needs a fix before a retry (key, permission, parameters); `StripeUnavailable`
is an outage or a rate limit and also `queue.Transient`, so a task retries it. The
`regentra.orgs.errors.StripeNotConnected` condition lives with the org, because domains raise
it too.
"""

from __future__ import annotations

from typing import Any

from regentra import queue
from regentra.errors import Conflict, RegentraError


class StripeRejected(RegentraError):
    """Stripe refused the request (key, permission, parameters): fix something, then retry."""

    status = 400
    code = "stripe_rejected"


class StripeKeyRejected(StripeRejected):
    """The secret key is wrong, rolled or deleted (or is the publishable key)."""

    status = 422
    code = "stripe_key_rejected"


class StripePermissionDenied(StripeRejected):
    """A restricted key lacks the access the call needs."""

    status = 422
    code = "stripe_permission"


class StripeIdempotencyConflict(StripeRejected):
    """Stripe refused a repeated request (same idempotency key, other parameters)."""

    status = 409
    code = "stripe_conflict"


class StripeInvalidRequest(StripeRejected):
    """Stripe refused the parameters (409 when the object already exists)."""

    status = 400
    code = "stripe_invalid_request"
    # The request parameter Stripe named as the problem (e.g. "number"), when it named one.
    param: str | None = None


class StripeUnavailable(RegentraError, queue.Transient):
    """Stripe could not be reached, failed, or is rate-limiting: retry later."""

    status = 503
    code = "stripe_unavailable"

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status, code=code, details=details)
        self.retry_after = retry_after


class StripeRateLimited(StripeUnavailable):
    """Stripe kept answering 429 for longer than we wait inline."""

    status = 503
    code = "stripe_rate_limited"


class StripeUnreachable(StripeUnavailable):
    """The connection to Stripe failed or timed out."""

    status = 502
    code = "stripe_unreachable"


class StripeFailed(StripeUnavailable):
    """Stripe answered with an error of its own (5xx or unexpected)."""

    status = 502
    code = "stripe_error"


class WebhookSignatureInvalid(RegentraError):
    """A webhook delivery's Stripe-Signature does not verify against the org's secret."""

    status = 400
    code = "webhook_signature"


class WebhookPayloadInvalid(RegentraError):
    """A verified webhook body that is not a Stripe event."""

    status = 400
    code = "webhook_payload"


class StripeInvoiceClosed(Conflict):
    """The Stripe invoice behind a draft was paid, voided or marked uncollectible in Stripe."""

    code = "stripe_invoice_closed"


class StripeTotalMismatch(Conflict):
    """The Stripe invoice was changed in Stripe: its total is not ours."""

    code = "stripe_total_mismatch"


class StripeInvoiceNumberTaken(Conflict):
    """Stripe refused our invoice number: another invoice of the Stripe account carries it."""

    code = "stripe_invoice_number_taken"


class InvoicePaidInStripe(Conflict):
    """The invoice was paid in Stripe, so it cannot be voided here."""

    code = "invoice_paid_in_stripe"


class InvoiceTooLongForStripe(Conflict):
    """Even grouped, the invoice needs more lines than a Stripe invoice holds (250)."""

    code = "invoice_too_long_for_stripe"


class AchNeedsUsAccount(RegentraError):
    """ACH Direct Debit (`us_bank_account`) was chosen for a Stripe account outside the US
    (or of an unknown country): Stripe offers it to US accounts only."""

    status = 422
    code = "ach_needs_us_account"
