"""Disputes of a card payment: the withdrawal, the evidence, won and lost.

A dispute is opened on a succeeded card charge by the control route
`POST /_sandbox/charges/{id}/dispute` (`reason`, `amount`: default the charge's; on Stripe a
payment with test card 4000 0000 0000 0259 does this). It starts `needs_response` with
`evidence_details.due_by` a week ahead, marks the charge `disputed` (it can no longer be
refunded), and withdraws the amount plus the dispute fee from the balance: one balance
transaction of type `adjustment`, reporting category `dispute`, amount negative, fee
`DISPUTE_FEE` ("Dispute fee"), "Chargeback withdrawal for ch_…" (`charge.dispute.created`,
`charge.dispute.funds_withdrawn`).

Responding (`POST /v1/disputes/{id}`, `submit` defaults to true) works as Stripe's test mode:
`evidence[uncategorized_text]=winning_evidence` wins (the amount is reinstated: type
`adjustment`, reporting category `dispute_reversal`, fee 0, the dispute fee is kept;
`charge.dispute.funds_reinstated`), `losing_evidence` loses; other evidence leaves it
`under_review` until the control route `POST /_sandbox/disputes/{id}/decide` (`outcome`
won|lost). Closing (`POST /v1/disputes/{id}/close`) accepts the loss. A dispute that ends
emits `charge.dispute.updated` and `charge.dispute.closed`.
"""

from __future__ import annotations

from typing import Any

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError
from regentra.sandbox.stripe.resources import ledger
from regentra.sandbox.stripe.resources._util import merge_metadata
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox

router = Router()

KIND = "dispute"
DAY = 86400
RESPONSE_DAYS = 7
DISPUTE_FEE = 1500  # minor units of the settlement currency (USD $15.00)
REASONS = (
    "bank_cannot_process",
    "check_returned",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
OPEN = ("needs_response", "under_review", "warning_needs_response", "warning_under_review")
EVIDENCE_TEXT = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
    "uncategorized_text",
)
EVIDENCE_FILES = (
    "cancellation_policy",
    "customer_communication",
    "customer_signature",
    "duplicate_charge_documentation",
    "receipt",
    "refund_policy",
    "service_documentation",
    "shipping_documentation",
    "uncategorized_file",
)
NO_ENHANCED = {
    "mastercard_compliance": None,
    "visa_compelling_evidence_3": None,
    "visa_compliance": None,
}


def _adjustment(
    sandbox: Sandbox,
    account: Account,
    dispute: dict[str, Any],
    charge: dict[str, Any],
    *,
    reinstated: bool,
) -> dict[str, Any]:
    """The withdrawal (amount and dispute fee) or the reinstatement (the amount) in the
    balance, in the charge's balance currency."""
    amount, currency = ledger.settled(account, charge, dispute["amount"])
    fee = 0 if reinstated else DISPUTE_FEE
    txn = ledger.record(
        sandbox,
        account,
        amount=amount if reinstated else -amount,
        currency=currency,
        type="adjustment",
        reporting_category="dispute_reversal" if reinstated else "dispute",
        source=dispute["id"],
        description=f"Chargeback {'reversal' if reinstated else 'withdrawal'} for {charge['id']}",
        fee=fee,
        fee_description="Dispute fee",
    )
    dispute["balance_transactions"].append(txn)
    return txn


@router.route("POST", "/_sandbox/charges/{id}/dispute", control=True)
def open_dispute(ctx: Ctx) -> dict[str, Any]:
    """What a cardholder's bank does: dispute a succeeded card charge."""
    charge = ctx.get("charge", ctx.path["id"])
    p = ctx.params
    if charge["status"] != "succeeded" or charge["payment_method_details"]["type"] != "card":
        raise StripeError("Only a succeeded card charge can be disputed in the sandbox.")
    if charge["disputed"]:
        raise StripeError(f"Charge {charge['id']} is already disputed.")
    reason = p.get("reason", "fraudulent")
    if reason not in REASONS:
        raise StripeError(f"Invalid reason: must be one of {', '.join(REASONS)}", param="reason")
    amount = int(p.get("amount", charge["amount"] - charge["amount_refunded"]))
    if not 0 < amount <= charge["amount"] - charge["amount_refunded"]:
        raise StripeError("amount: at most what was paid and not refunded.", param="amount")
    card = charge["payment_method_details"]["card"]
    now = ctx.now()
    dispute = ctx.add(
        {
            "object": KIND,
            "amount": amount,
            "balance_transactions": [],
            "charge": charge["id"],
            "created": now,
            "currency": charge["currency"],
            "enhanced_eligibility_types": [],
            "evidence": {
                **dict.fromkeys(EVIDENCE_TEXT + EVIDENCE_FILES),
                "appeal": None,
                "enhanced_evidence": dict(NO_ENHANCED),
            },
            "evidence_details": {
                "due_by": now + RESPONSE_DAYS * DAY,
                "enhanced_eligibility": dict(NO_ENHANCED),
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
                "submission_method": "not_submitted",
            },
            "intended_submission_method": None,
            "is_charge_refundable": False,
            "metadata": {},
            "network_reason_code": "10.4",
            "payment_intent": charge["payment_intent"],
            "payment_method_details": {
                "card": {
                    "brand": card["brand"],
                    "case_type": "chargeback",
                    "network": card.get("network") or card["brand"],
                    "network_reason_code": "10.4",
                },
                "type": "card",
            },
            "reason": reason,
            "status": "needs_response",
        }
    )
    charge["disputed"] = True
    ctx.emit("charge.dispute.created", dispute)
    _adjustment(ctx.sandbox, ctx.account, dispute, charge, reinstated=False)
    ctx.emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def _end(sandbox: Sandbox, account: Account, dispute: dict[str, Any], status: str) -> None:
    previous = {"status": dispute["status"]}
    dispute["status"] = status
    if status == "won":
        charge = account.objects[dispute["charge"]]
        _adjustment(sandbox, account, dispute, charge, reinstated=True)
        sandbox.emit(account, "charge.dispute.funds_reinstated", dispute)
    sandbox.emit(account, "charge.dispute.updated", dispute, previous)
    sandbox.emit(account, "charge.dispute.closed", dispute)


def _open(dispute: dict[str, Any]) -> None:
    if dispute["status"] not in OPEN:
        raise StripeError(
            f"This dispute is already closed ({dispute['status']}): it cannot be changed."
        )


@router.route("POST", "/v1/disputes/{id}", "DisputeUpdateParams")
def update_dispute(ctx: Ctx) -> dict[str, Any]:
    dispute = ctx.get(KIND, ctx.path["id"])
    p = ctx.params
    if "metadata" in p:
        dispute["metadata"] = merge_metadata(dispute["metadata"], p["metadata"])
    evidence = p.get("evidence") or {}
    if evidence or p.get("submit") is not None:
        _open(dispute)
    for name in EVIDENCE_TEXT + EVIDENCE_FILES:
        if name in evidence:
            dispute["evidence"][name] = evidence[name] or None
    if evidence:
        dispute["evidence_details"]["has_evidence"] = True
    if p.get("submit", True) and (evidence or p.get("submit")):
        details = dispute["evidence_details"]
        details["submission_count"] += 1
        details["submission_method"] = "manual"
        text = dispute["evidence"]["uncategorized_text"]
        if text == "winning_evidence":
            _end(ctx.sandbox, ctx.account, dispute, "won")
        elif text == "losing_evidence":
            _end(ctx.sandbox, ctx.account, dispute, "lost")
        else:
            previous = {"status": dispute["status"]}
            dispute["status"] = "under_review"
            ctx.emit("charge.dispute.updated", dispute, previous)
    elif evidence or "metadata" in p:
        ctx.emit("charge.dispute.updated", dispute)
    return dispute


@router.route("POST", "/v1/disputes/{id}/close", "DisputeCloseParams")
def close_dispute(ctx: Ctx) -> dict[str, Any]:
    dispute = ctx.get(KIND, ctx.path["id"])
    _open(dispute)
    _end(ctx.sandbox, ctx.account, dispute, "lost")
    return dispute


@router.route("POST", "/_sandbox/disputes/{id}/decide", control=True)
def decide(ctx: Ctx) -> dict[str, Any]:
    """The card network's decision on evidence submitted: `outcome` won|lost."""
    dispute = ctx.get(KIND, ctx.path["id"])
    outcome = ctx.params.get("outcome")
    if outcome not in ("won", "lost"):
        raise StripeError("outcome must be won or lost.", param="outcome")
    _open(dispute)
    _end(ctx.sandbox, ctx.account, dispute, outcome)
    return dispute


@router.route("GET", "/v1/disputes/{id}", "DisputeRetrieveParams")
def retrieve_dispute(ctx: Ctx) -> dict[str, Any]:
    return ctx.get(KIND, ctx.path["id"])


@router.route("GET", "/v1/disputes", "DisputeListParams")
def list_disputes(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    items = listing.matching(ctx.sandbox.all(ctx.account, KIND), p, ("charge", "payment_intent"))
    return listing.page(items, p, "/v1/disputes", kind=KIND)
