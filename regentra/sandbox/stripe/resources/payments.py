"""PaymentIntents, Charges, BalanceTransactions, and paying invoices like a client would.

An invoice's first payment attempt makes a PaymentIntent and a default InvoicePayment for
it; later attempts reuse them until the invoice is paid. Test behaviours: `card` (4242…)
succeeds, `card_declined` (4000 0000 0000 0002) is declined, `ach` stays `processing` until
`settle_invoice`. Given a stored PaymentMethod (a customer's or subscription's default
card), that one is charged instead of a new one-off method. Fees (USD list prices): card
2.9% + 30¢, ACH 0.8% capped at $5.00, both rounded half up.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError, missing
from regentra.sandbox.stripe.resources import account_settings, fees, payment_methods, payouts
from regentra.sandbox.stripe.resources.finalizing import finalize
from regentra.sandbox.stripe.resources.payment_methods import Method
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

router = Router()

DAY = 86400
METHODS = ("card", "card_declined", "ach")
CARD_NUMBERS = {
    "4242424242424242": "card",
    "4000000000000002": "card_declined",
    # Cards from other countries (international card pricing): they succeed.
    **dict.fromkeys(fees.INTERNATIONAL_CARDS, "card"),
}


def install(sandbox: Sandbox) -> None:
    if _release_funds not in sandbox.clock_hooks:
        sandbox.clock_hooks.append(_release_funds)


def _release_funds(sandbox: Sandbox) -> None:
    for account in sandbox.accounts.values():
        _release(sandbox, account)


def _release(sandbox: Sandbox, account: Account) -> None:
    """Balance transactions become `available` on their `available_on` date."""
    now = sandbox.now()
    for txn_id in account.order.get("balance_transaction", []):
        txn = account.objects[txn_id]
        if txn["status"] == "pending" and txn["available_on"] <= now:
            txn["status"] = "available"


# ---- fees ---------------------------------------------------------------------------------
def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def card_fee(amount: int) -> int:
    return _round(Decimal(amount) * Decimal("0.029")) + 30


def ach_fee(amount: int) -> int:
    return min(_round(Decimal(amount) * Decimal("0.008")), 500)


# ---- lookups used by invoices -------------------------------------------------------------
def _payments_of(account: Account, invoice_id: str) -> list[dict[str, Any]]:
    return [
        account.objects[i]
        for i in reversed(account.order.get("invoice_payment", []))
        if account.objects[i]["invoice"] == invoice_id
    ]


def _intents_of(account: Account, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for payment in _payments_of(account, invoice["id"]):
        intent = account.objects.get(payment["payment"].get("payment_intent") or "")
        if intent is not None:
            found.append(intent)
    return found


def processing_intent(account: Account, invoice: dict[str, Any]) -> dict[str, Any] | None:
    """The invoice's PaymentIntent whose (ACH) payment is still processing, if any."""
    for intent in _intents_of(account, invoice):
        if intent["status"] == "processing":
            return intent
    return None


def cancel_open_intents(sandbox: Sandbox, account: Account, invoice: dict[str, Any]) -> None:
    """When an invoice is voided or paid out of band, its unpaid PaymentIntent is canceled."""
    now = sandbox.now()
    for payment in _payments_of(account, invoice["id"]):
        if payment["status"] != "open":
            continue
        payment["status"] = "canceled"
        payment["status_transitions"]["canceled_at"] = now
        intent = account.objects.get(payment["payment"].get("payment_intent") or "")
        if intent is not None and intent["status"] == "requires_payment_method":
            intent.update(status="canceled", canceled_at=now, cancellation_reason="void_invoice")
            sandbox.emit(account, "payment_intent.canceled", intent)


# ---- objects ------------------------------------------------------------------------------
def _new_intent(sandbox: Sandbox, account: Account, invoice: dict[str, Any]) -> dict[str, Any]:
    types = account_settings.offered_types(account, invoice)
    intent_id = sandbox.new_id("payment_intent")
    intent = sandbox.add(
        account,
        {
            "id": intent_id,
            "object": "payment_intent",
            "amount": invoice["amount_remaining"],
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": f"{intent_id}_secret_{random_token(25)}",
            "confirmation_method": "automatic",
            "created": sandbox.now(),
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "customer_account": None,
            "description": "Payment for Invoice",
            "excluded_payment_method_types": None,
            "last_payment_error": None,
            "latest_charge": None,
            "managed_payments": None,
            "metadata": {},
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {},
            "payment_method_types": list(types),
            "processing": None,
            "receipt_email": None,
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "source": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
        },
    )
    sandbox.emit(account, "payment_intent.created", intent)
    sandbox.add(
        account,
        {
            "object": "invoice_payment",
            "amount_paid": None,
            "amount_requested": intent["amount"],
            "created": intent["created"],
            "currency": intent["currency"],
            "invoice": invoice["id"],
            "is_default": True,
            "payment": {"payment_intent": intent_id, "type": "payment_intent"},
            "status": "open",
            "status_transitions": {"canceled_at": None, "paid_at": None},
        },
    )
    return intent


def _open_intent(sandbox: Sandbox, account: Account, invoice: dict[str, Any]) -> dict[str, Any]:
    for payment in _payments_of(account, invoice["id"]):
        intent = account.objects.get(payment["payment"].get("payment_intent") or "")
        if payment["status"] == "open" and intent and intent["status"] == "requires_payment_method":
            intent["amount"] = payment["amount_requested"] = invoice["amount_remaining"]
            return intent
    return _new_intent(sandbox, account, invoice)


def _charge(
    sandbox: Sandbox,
    account: Account,
    intent: dict[str, Any],
    pm: dict[str, Any],
    status: str,
    customer: dict[str, Any] | None,
) -> dict[str, Any]:
    charge_id = sandbox.new_id("charge")
    charge = sandbox.add(
        account,
        {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": None,
            "billing_details": copy.deepcopy(pm["billing_details"]),
            "calculated_statement_descriptor": "SANDBOX",
            "captured": False,
            "created": sandbox.now(),
            "currency": intent["currency"],
            "customer": intent["customer"],
            "description": intent["description"],
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "fraud_details": {},
            "metadata": {},
            "on_behalf_of": None,
            "outcome": payment_methods.outcome(status, pm["type"]),
            "paid": False,
            "payment_intent": intent["id"],
            "payment_method": pm["id"],
            "payment_method_details": payment_methods.details(pm, intent["amount"]),
            "receipt_email": (customer or {}).get("email"),
            "receipt_number": None,
            "receipt_url": None,
            "refunded": False,
            "refunds": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/charges/{charge_id}/refunds",
            },
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer_data": None,
            "transfer_group": None,
        },
    )
    intent["latest_charge"] = charge_id
    return charge


def _balance_transaction(
    sandbox: Sandbox, account: Account, charge: dict[str, Any]
) -> dict[str, Any]:
    details = charge["payment_method_details"]
    is_ach = details["type"] == "us_bank_account"
    money = fees.settle(
        account,
        amount=charge["amount"],
        currency=charge["currency"],
        pm_type=details["type"],
        card_country=(details.get("card") or {}).get("country"),
    )
    now = sandbox.now()
    txn = sandbox.add(
        account,
        {
            "object": "balance_transaction",
            **money,
            "available_on": now + (4 if is_ach else 2) * DAY,
            "balance_type": "payments",
            "created": now,
            "description": charge["description"],
            "reporting_category": "charge",
            "source": charge["id"],
            "status": "pending",
            "type": "charge",
        },
    )
    txn.pop("livemode", None)  # a BalanceTransaction has no `livemode`
    charge["balance_transaction"] = txn["id"]
    return txn


# ---- outcomes -----------------------------------------------------------------------------
def _payment_of(account: Account, intent: dict[str, Any]) -> dict[str, Any]:
    for obj_id in account.order.get("invoice_payment", []):
        payment = account.objects[obj_id]
        if payment["payment"].get("payment_intent") == intent["id"]:
            return payment
    raise LookupError(intent["id"])  # pragma: no cover - every intent here has one


def _succeed(
    sandbox: Sandbox, account: Account, invoice: dict[str, Any], intent: dict[str, Any]
) -> None:
    charge = account.objects[intent["latest_charge"]]
    charge.update(status="succeeded", paid=True, captured=True, amount_captured=charge["amount"])
    charge["outcome"] = payment_methods.outcome(
        "succeeded", charge["payment_method_details"]["type"]
    )
    _balance_transaction(sandbox, account, charge)
    previous_status = intent["status"]
    intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
    now = sandbox.now()
    payment = _payment_of(account, intent)
    payment.update(status="paid", amount_paid=intent["amount"])
    payment["status_transitions"]["paid_at"] = now
    previous = {"status": invoice["status"], "amount_paid": invoice["amount_paid"]}
    invoice["amount_paid"] += intent["amount"]
    invoice["amount_remaining"] = max(invoice["amount_due"] - invoice["amount_paid"], 0)
    invoice["attempted"] = True
    if invoice["amount_remaining"] == 0:
        invoice["status"] = "paid"
        invoice["status_transitions"]["paid_at"] = now
    sandbox.emit(account, "payment_intent.succeeded", intent, {"status": previous_status})
    sandbox.emit(account, "charge.succeeded", charge)
    sandbox.emit(account, "invoice.payment_succeeded", invoice, previous)
    if invoice["status"] == "paid":
        sandbox.emit(account, "invoice.paid", invoice, previous)
    sandbox.emit(account, "invoice_payment.paid", payment)


def _fail(
    sandbox: Sandbox, account: Account, invoice: dict[str, Any], intent: dict[str, Any]
) -> None:
    charge = account.objects[intent["latest_charge"]]
    pm = account.objects[charge["payment_method"]]
    is_card = pm["type"] == "card"
    code = "card_declined" if is_card else "insufficient_funds"
    message = payment_methods.DECLINE if is_card else payment_methods.ACH_FAILURE
    charge.update(status="failed", failure_code=code, failure_message=message)
    charge["outcome"] = payment_methods.outcome("failed", pm["type"])
    previous_status = intent["status"]
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        last_payment_error={
            "advice_code": None,
            "charge": charge["id"],
            "code": code,
            "decline_code": "generic_decline" if is_card else None,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
            "message": message,
            "network_advice_code": None,
            "network_decline_code": None,
            "param": None,
            "payment_method": copy.deepcopy(pm),
            "payment_method_type": pm["type"],
            "type": "card_error" if is_card else "invalid_request_error",
        },
    )
    sandbox.emit(account, "charge.failed", charge)
    sandbox.emit(account, "payment_intent.payment_failed", intent, {"status": previous_status})
    sandbox.emit(account, "invoice.payment_failed", invoice)


# ---- the interface ------------------------------------------------------------------------
def _stored(account: Account, invoice: dict[str, Any]) -> dict[str, Any]:
    stored = account.objects.get(invoice["id"])
    return stored if stored is not None and stored.get("object") == "invoice" else invoice


def _payment_method(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    method: Method | None,
    payment_method: str | None,
) -> tuple[Method, dict[str, Any] | None]:
    """The behaviour of the payment and the stored PaymentMethod to charge (None: a new one
    is made for `method`)."""
    if payment_method is None:
        if method not in METHODS:
            raise StripeError(
                f"Invalid method: {method!r} (one of card, card_declined, ach)", param="method"
            )
        return method, None
    pm = sandbox.find(account, "payment_method", payment_method)
    if pm is None:
        raise missing("PaymentMethod", payment_method, "payment_method")
    if pm.get("customer") not in (None, invoice["customer"]):
        raise StripeError(
            f"The PaymentMethod {payment_method} belongs to another customer.",
            param="payment_method",
        )
    behaviour = payment_methods.method_of(pm)
    if method is not None and method != behaviour:
        raise StripeError(
            f"Invalid method: {method!r} does not match the PaymentMethod {payment_method} "
            f"({behaviour}).",
            param="method",
        )
    return behaviour, pm


def pay_invoice(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    *,
    method: Method | None = None,
    payment_method: str | None = None,
    card_number: str | None = None,
) -> dict[str, Any]:
    """Pay an open invoice like a client would; returns the PaymentIntent.

    `card_number` (a test card, e.g. an international one) sets the new card's last four
    digits and country, which decides the fee's international surcharge.

    `payment_method` (a stored `pm_…` id, e.g. the customer's default card) is charged when
    given, and its card or bank account decides the outcome; otherwise a new one-off
    PaymentMethod is made for `method`. `card` succeeds (invoice paid), `card_declined`
    fails (invoice stays open), `ach` leaves the PaymentIntent `processing` until
    `settle_invoice`. A draft invoice is finalized first. Works for both collection
    methods."""
    with sandbox.lock:
        invoice = _stored(account, invoice)
        method, stored_pm = _payment_method(sandbox, account, invoice, method, payment_method)
        if invoice["status"] == "draft":
            finalize(sandbox, account, invoice)
        if invoice["status"] not in ("open", "uncollectible"):
            raise StripeError(f"This invoice is {invoice['status']} and can't be paid.")
        if processing_intent(account, invoice) is not None:
            raise StripeError(
                "This invoice has a payment that is processing; wait for it to settle.",
                code="invoice_payment_intent_requires_action",
            )
        pm_type = "us_bank_account" if method == "ach" else "card"
        allowed = account_settings.offered_types(account, invoice)
        if pm_type not in allowed:
            raise StripeError(
                f"This invoice can't be paid with `{pm_type}`: it accepts "
                f"{', '.join(allowed)} (payment_settings.payment_method_types).",
                code="payment_intent_incompatible_payment_method",
            )
        intent = _open_intent(sandbox, account, invoice)
        customer = sandbox.find(account, "customer", invoice["customer"])
        pm = stored_pm or payment_methods.create(
            sandbox, account, method, customer, card_number=card_number
        )
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        if method == "ach":
            _charge(sandbox, account, intent, pm, "pending", customer)
            intent.update(status="processing", payment_method=pm["id"], last_payment_error=None)
            sandbox.emit(account, "payment_intent.processing", intent)
            sandbox.emit(account, "charge.pending", account.objects[intent["latest_charge"]])
        elif method == "card":
            _charge(sandbox, account, intent, pm, "pending", customer)
            intent["payment_method"] = pm["id"]
            _succeed(sandbox, account, invoice, intent)
        else:
            _charge(sandbox, account, intent, pm, "failed", customer)
            _fail(sandbox, account, invoice, intent)
        return intent


def settle_invoice(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    *,
    outcome: Literal["succeeded", "failed"],
) -> dict[str, Any]:
    """Settle a processing ACH payment of the invoice; returns the PaymentIntent."""
    with sandbox.lock:
        if outcome not in ("succeeded", "failed"):
            raise StripeError(
                f"Invalid outcome: {outcome!r} (one of succeeded, failed)", param="outcome"
            )
        invoice = _stored(account, invoice)
        intent = processing_intent(account, invoice)
        if intent is None:
            raise StripeError(
                f"Invoice {invoice['id']} has no processing payment to settle.", param="id"
            )
        if outcome == "succeeded":
            _succeed(sandbox, account, invoice, intent)
        else:
            _fail(sandbox, account, invoice, intent)
        return intent


# ---- control API --------------------------------------------------------------------------
def _invoice_response(ctx: Ctx, invoice: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = ctx.sandbox.expand(ctx.account, invoice, ["payments"])
    return result


@router.route("POST", "/_sandbox/invoices/{id}/pay", control=True)
def control_pay(ctx: Ctx) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    p = ctx.params
    stored = p.get("payment_method") or None
    method = p.get("method", None if stored else "card")
    number = p.get("card_number") or None
    if number is not None and CARD_NUMBERS.get(number) != method:
        raise StripeError(
            f"Invalid card_number: not a test card that behaves as {method!r}.",
            param="card_number",
        )
    pay_invoice(
        ctx.sandbox,
        ctx.account,
        invoice,
        method=method,
        payment_method=stored,
        card_number=number,
    )
    return _invoice_response(ctx, invoice)


@router.route("POST", "/_sandbox/invoices/{id}/settle", control=True)
def control_settle(ctx: Ctx) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    settle_invoice(
        ctx.sandbox, ctx.account, invoice, outcome=ctx.params.get("outcome", "succeeded")
    )
    return _invoice_response(ctx, invoice)


# ---- API ----------------------------------------------------------------------------------
@router.route("GET", "/v1/payment_intents/{id}", "PaymentIntentRetrieveParams")
def retrieve_payment_intent(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("payment_intent", ctx.path["id"])


@router.route("GET", "/v1/payment_intents", "PaymentIntentListParams")
def list_payment_intents(ctx: Ctx) -> dict[str, Any]:
    items = ctx.sandbox.all(ctx.account, "payment_intent")
    if "customer" in ctx.params:
        items = [i for i in items if i["customer"] == ctx.params["customer"]]
    return listing.page(items, ctx.params, "/v1/payment_intents", kind="payment_intent")


@router.route("GET", "/v1/charges/{id}", "ChargeRetrieveParams")
def retrieve_charge(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("charge", ctx.path["id"])


@router.route("GET", "/v1/charges", "ChargeListParams")
def list_charges(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    every = ctx.sandbox.all(ctx.account, "charge")
    items = listing.matching(every, p, ("customer", "payment_intent"))
    return listing.page(items, p, "/v1/charges", kind="charge")


@router.route("GET", "/v1/balance_transactions/{id}", "BalanceTransactionRetrieveParams")
def retrieve_balance_transaction(ctx: Ctx) -> dict[str, Any]:
    _release(ctx.sandbox, ctx.account)
    return ctx.get("balance_transaction", ctx.path["id"])


@router.route("GET", "/v1/balance_transactions", "BalanceTransactionListParams")
def list_balance_transactions(ctx: Ctx) -> dict[str, Any]:
    _release(ctx.sandbox, ctx.account)
    p = ctx.params
    if "payout" in p:
        items = payouts.contents(ctx, p["payout"])
    else:
        items = ctx.sandbox.all(ctx.account, "balance_transaction")
    for name in ("source", "type"):
        if name in p:
            items = [i for i in items if i[name] == p[name]]
    if "currency" in p:
        items = [i for i in items if i["currency"] == p["currency"].lower()]
    return listing.page(items, p, "/v1/balance_transactions", kind="balance_transaction")
