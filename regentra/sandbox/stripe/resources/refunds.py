"""Refunds of a charge (an invoice's card or ACH payment), full or partial.

`POST /v1/refunds` names the `charge` or the `payment_intent` (its latest charge) and refunds
`amount` (default: what is left) for a `reason` of Stripe's enum. More than what is left, or a
charge already fully refunded, is refused in Stripe's words. A card refund succeeds at once;
an ACH (us_bank_account) one is `pending` until the clock passes `ACH_REFUND_SECONDS`. Each
refund takes its amount out of the balance at once: a balance transaction of type `refund`
(the amount negative, in the settlement currency at the original charge's exchange rate; no
fee: Stripe keeps the original payment's fee). The charge's `amount_refunded` and `refunded`
follow; the invoice stays `paid`. Events: `refund.created`, `charge.refunded` (and
`refund.updated` when a pending refund succeeds).
"""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources import ledger
from regentra.sandbox.stripe.resources._util import merge_metadata, money, not_emulated
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Sandbox

router = Router()

KIND = "refund"
REASONS = ("duplicate", "fraudulent", "requested_by_customer")
ACH_REFUND_SECONDS = 3 * 86400
NOT_EMULATED = ("origin", "customer", "currency", "refund_application_fee", "reverse_transfer")


def install(sandbox: Sandbox) -> None:
    if _settle_pending not in sandbox.clock_hooks:
        sandbox.clock_hooks.append(_settle_pending)


def _charge_of(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    if not p.get("charge") and not p.get("payment_intent"):
        raise StripeError(
            "One of the following params should be provided for this request: payment_intent "
            "or charge."
        )
    if p.get("payment_intent"):
        intent = ctx.get("payment_intent", p["payment_intent"], "payment_intent")
        if not intent.get("latest_charge") or intent["status"] != "succeeded":
            raise StripeError(
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        if p.get("charge") and p["charge"] != intent["latest_charge"]:
            raise StripeError(
                "The charge and payment_intent provided do not match.", param="charge"
            )
        return ctx.get("charge", intent["latest_charge"], "payment_intent")
    return ctx.get("charge", p["charge"], "charge")


@router.route("POST", "/v1/refunds", "RefundCreateParams")
def create_refund(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    not_emulated(p, NOT_EMULATED, "refunds")
    charge = _charge_of(ctx)
    if charge["status"] != "succeeded":
        raise StripeError(
            f"Charge {charge['id']} has not succeeded: there is nothing to refund.",
            param="charge",
        )
    if charge["disputed"]:
        raise StripeError(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    left = charge["amount"] - charge["amount_refunded"]
    if left <= 0:
        raise StripeError(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = p.get("amount", left)
    if amount <= 0:
        raise StripeError("Invalid positive integer", param="amount")
    if amount > left:
        raise StripeError(
            f"Refund amount ({money(amount, charge['currency'])}) is greater than unrefunded "
            f"amount on charge ({money(left, charge['currency'])})",
            param="amount",
        )
    reason = p.get("reason")
    if reason is not None and reason not in REASONS:
        raise StripeError(
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            param="reason",
        )
    ach = charge["payment_method_details"]["type"] == "us_bank_account"
    now = ctx.now()
    refund = ctx.add(
        {
            "object": KIND,
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": now,
            "currency": charge["currency"],
            "customer": charge["customer"],
            "customer_account": None,
            "description": None,
            "destination_details": _destination(charge),
            "failure_balance_transaction": None,
            "failure_reason": None,
            "instructions_email": p.get("instructions_email"),
            "metadata": merge_metadata({}, p.get("metadata", {})),
            "next_action": None,
            "payment_intent": charge["payment_intent"],
            "payment_method": charge["payment_method"],
            "pending_reason": "processing" if ach else None,
            "presentment_details": None,
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "pending" if ach else "succeeded",
            "transfer_reversal": None,
        }
    )
    refund.pop("livemode", None)  # a Refund has no `livemode`
    settled, currency = ledger.settled(ctx.account, charge, amount)
    txn = ledger.record(
        ctx.sandbox,
        ctx.account,
        amount=-settled,
        currency=currency,
        type="refund",
        reporting_category="refund",
        source=refund["id"],
        description="REFUND FOR CHARGE"
        + (f" ({charge['description']})" if charge["description"] else ""),
    )
    refund["balance_transaction"] = txn["id"]
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, refund)
    charge["refunds"]["total_count"] = len(charge["refunds"]["data"])
    ctx.emit("refund.created", refund)
    ctx.emit("charge.refunded", charge, previous)
    return refund


def _destination(charge: dict[str, Any]) -> dict[str, Any]:
    kind = charge["payment_method_details"]["type"]
    details: dict[str, Any] = {"type": kind}
    if kind == "card":
        details["card"] = {
            "reference": None,
            "reference_status": "pending",
            "reference_type": "acquirer_reference_number",
            "type": "refund",
        }
    else:
        details[kind] = {"reference": None, "reference_status": "pending"}
    return details


def _settle_pending(sandbox: Sandbox) -> None:
    """Pending (ACH) refunds succeed once `ACH_REFUND_SECONDS` have passed."""
    now = sandbox.now()
    for account in sandbox.accounts.values():
        for refund_id in account.order.get(KIND, []):
            refund = account.objects[refund_id]
            if refund["status"] == "pending" and refund["created"] + ACH_REFUND_SECONDS <= now:
                refund.update(status="succeeded", pending_reason=None)
                sandbox.emit(account, "refund.updated", refund, {"status": "pending"})


FAILURE_REASONS = ("lost_or_stolen_card", "expired_or_canceled_card", "declined", "unknown")


@router.route("POST", "/_sandbox/refunds/{id}/fail", control=True)
def fail_refund(ctx: Ctx) -> dict[str, Any]:
    """What the client's bank does to a refund still `pending` (an ACH one): refuse it
    (`failure_reason`, default `declined`). Its amount comes back to the balance in a balance
    transaction of type `refund_failure` (`failure_balance_transaction`), the charge's
    `amount_refunded` goes down; events `refund.failed`, `refund.updated`."""
    refund = ctx.get(KIND, ctx.path["id"])
    reason = ctx.params.get("failure_reason", "declined")
    if reason not in FAILURE_REASONS:
        raise StripeError(f"failure_reason must be one of {', '.join(FAILURE_REASONS)}.")
    if refund["status"] != "pending":
        raise StripeError(f"Refund {refund['id']} is {refund['status']}: only a pending one fails.")
    charge = ctx.get("charge", refund["charge"])
    settled, currency = ledger.settled(ctx.account, charge, refund["amount"])
    txn = ledger.record(
        ctx.sandbox,
        ctx.account,
        amount=settled,
        currency=currency,
        type="refund_failure",
        reporting_category="refund_failure",
        source=refund["id"],
        description="REFUND FAILURE",
    )
    previous = {"status": refund["status"]}
    refund.update(
        status="failed",
        failure_reason=reason,
        failure_balance_transaction=txn["id"],
        pending_reason=None,
    )
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = False
    ctx.emit("refund.failed", refund)
    ctx.emit("refund.updated", refund, previous)
    return refund


@router.route("GET", "/v1/refunds/{id}", "RefundRetrieveParams")
def retrieve_refund(ctx: Ctx) -> dict[str, Any]:
    return ctx.get(KIND, ctx.path["id"])


@router.route("POST", "/v1/refunds/{id}", "RefundUpdateParams")
def update_refund(ctx: Ctx) -> dict[str, Any]:
    refund = ctx.get(KIND, ctx.path["id"])
    if "metadata" in ctx.params:
        previous = {"metadata": dict(refund["metadata"])}
        refund["metadata"] = merge_metadata(refund["metadata"], ctx.params["metadata"])
        ctx.emit("refund.updated", refund, previous)
    return refund


@router.route("GET", "/v1/refunds", "RefundListParams")
def list_refunds(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    items = listing.matching(ctx.sandbox.all(ctx.account, KIND), p, ("charge", "payment_intent"))
    return listing.page(items, p, "/v1/refunds", kind=KIND)
