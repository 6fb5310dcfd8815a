"""Invoices and InvoicePayments (invoice items and lines are in `invoice_items`).

Invoices follow Stripe's state machine: draft → open (finalize) → paid | void |
uncollectible. Since API version 2025-03-31 an invoice has no `charge`, `payment_intent` or
`paid`; its payments are the includable list `payments` (InvoicePayment objects), see
`payments.py` for how they are made.
"""

from __future__ import annotations

import copy
from typing import Any

from regentra.sandbox.stripe import listing
from regentra.sandbox.stripe.errors import StripeError, missing_parameter
from regentra.sandbox.stripe.resources import (
    account_settings,
    balances,
    discounts,
    invoice_items,
    payment_methods,
    payments,
)
from regentra.sandbox.stripe.resources._util import apply, currency, merge_metadata
from regentra.sandbox.stripe.resources.finalizing import DAY, DAYS_KEY, check_number, finalize
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox

router = Router()
# Invoice items share this module's router (one router per area, see resources/__init__).
router.routes.extend(invoice_items.router.routes)

UPDATABLE = (
    "auto_advance",
    "collection_method",
    "default_payment_method",
    "description",
    "due_date",
    "footer",
    "number",
    "statement_descriptor",
)

PM_TYPES_PARAM = "payment_settings[payment_method_types]"


def install(sandbox: Sandbox) -> None:
    sandbox.includables.setdefault("invoice", {})["payments"] = invoice_payments_list


def invoice_payments_of(account: Account, invoice_id: str) -> list[dict[str, Any]]:
    """The invoice's InvoicePayments, newest first."""
    return [
        account.objects[i]
        for i in reversed(account.order.get("invoice_payment", []))
        if account.objects[i]["invoice"] == invoice_id
    ]


def invoice_payments_list(account: Account, invoice: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [copy.deepcopy(p) for p in invoice_payments_of(account, invoice["id"])],
        "has_more": False,
        "url": "/v1/invoice_payments",
    }


# ---- making invoices (also for subscriptions) ---------------------------------------------
def new_invoice(
    sandbox: Sandbox,
    account: Account,
    params: dict[str, Any],
    *,
    billing_reason: str = "manual",
    subscription: str | None = None,
    emit_created: bool = True,
) -> dict[str, Any]:
    """A draft invoice from `InvoiceCreateParams`-style params; emits `invoice.created`
    unless `emit_created` is false (a caller that adds lines first emits it afterwards, so
    the event carries them, as Stripe's does for subscription invoices)."""
    p = params
    if not p.get("customer"):
        raise missing_parameter("customer")
    customer = sandbox.get(account, "customer", p["customer"], "customer")
    method = p.get("collection_method", "charge_automatically")
    if method not in ("charge_automatically", "send_invoice"):
        raise StripeError(f"Invalid collection_method: {method}", param="collection_method")
    days = p.get("days_until_due")
    now = sandbox.now()
    if method == "send_invoice":
        if days is None and p.get("due_date") is None:
            raise StripeError(
                "Invoices with `collection_method=send_invoice` require `days_until_due` or "
                "`due_date`.",
                code="parameter_missing",
                param="days_until_due",
            )
    elif days is not None or p.get("due_date") is not None:
        raise StripeError(
            "You can only set `days_until_due` or `due_date` when `collection_method` is "
            "`send_invoice`.",
            param="days_until_due" if days is not None else "due_date",
        )
    if days is not None and days < 0:
        raise StripeError("Invalid integer: days_until_due must be >= 0", param="days_until_due")
    if p.get("number"):
        check_number(account, p["number"])
    types = (p.get("payment_settings") or {}).get("payment_method_types") or None
    account_settings.check_types(account, types, PM_TYPES_PARAM)
    cur = currency(p["currency"]) if p.get("currency") else (customer.get("currency") or "usd")
    sub_id = subscription or p.get("subscription")
    invoice_id = sandbox.new_id("invoice")
    invoice = sandbox.add(
        account,
        {
            "id": invoice_id,
            "object": "invoice",
            "account_country": account.country,
            "account_name": f"Sandbox {account.id[-6:]}",
            "account_tax_ids": None,
            "amount_due": 0,
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "amount_shipping": 0,
            "application": None,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": p.get("auto_advance", False),
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "automatically_finalizes_at": None,
            "billing_reason": billing_reason,
            "collection_method": method,
            "created": now,
            "currency": cur,
            "custom_fields": None,
            "customer": customer["id"],
            "customer_account": None,
            "customer_address": customer.get("address"),
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "customer_phone": customer.get("phone"),
            "customer_shipping": customer.get("shipping"),
            "customer_tax_exempt": customer.get("tax_exempt", "none"),
            "customer_tax_ids": [],
            "default_payment_method": p.get("default_payment_method"),
            "default_source": None,
            "default_tax_rates": [],
            "description": p.get("description"),
            "discounts": [],
            "due_date": p.get("due_date", now + days * DAY if days is not None else None),
            "effective_at": None,
            "ending_balance": None,
            "footer": p.get("footer"),
            "from_invoice": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "lines": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "metadata": merge_metadata({}, p.get("metadata", {})),
            "next_payment_attempt": None,
            "number": p.get("number") or None,  # kept at finalization (else one is assigned)
            "on_behalf_of": None,
            "parent": (
                {
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": None,
                        "subscription": sub_id,
                        "subscription_proration_date": None,
                    },
                    "type": "subscription_details",
                }
                if sub_id
                else None
            ),
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": types,
            },
            "period_end": now,
            "period_start": now,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "rendering": {
                "amount_tax_display": None,
                "pdf": {"page_size": "auto"},
                "template": None,
                "template_version": None,
            },
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": 0,
            "statement_descriptor": p.get("statement_descriptor"),
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": 0,
            "subtotal_excluding_tax": 0,
            "test_clock": None,
            "total": 0,
            "total_discount_amounts": [],
            "total_excluding_tax": 0,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": None,
        },
    )
    invoice["discounts"] = discounts.invoice_discounts(
        sandbox, account, customer, p, invoice_id, cur
    )
    invoice["starting_balance"] = balances.balance_of(account, customer, cur)
    if days is not None:
        account.counters[DAYS_KEY + invoice_id] = days
    if p.get("pending_invoice_items_behavior", "exclude") == "include":
        invoice_items.pull_pending_items(sandbox, account, invoice)
    if emit_created:
        sandbox.emit(account, "invoice.created", invoice)
    return invoice


# ---- invoices -----------------------------------------------------------------------------
@router.route("POST", "/v1/invoices", "InvoiceCreateParams")
def create_invoice(ctx: Ctx) -> dict[str, Any]:
    return new_invoice(ctx.sandbox, ctx.account, ctx.params)


@router.route("GET", "/v1/invoices/{id}", "InvoiceRetrieveParams")
def retrieve_invoice(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("invoice", ctx.path["id"])


@router.route("POST", "/v1/invoices/{id}", "InvoiceUpdateParams")
def update_invoice(ctx: Ctx) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    p = ctx.params
    editable_after = {"metadata", "description", "footer", "auto_advance", "expand"}
    if invoice["status"] != "draft" and set(p) - editable_after:
        field = sorted(set(p) - editable_after)[0]
        raise StripeError(
            f"You can only update `{field}` on draft invoices; this invoice is "
            f"{invoice['status']}.",
            code="invoice_not_editable",
            param=field,
        )
    if invoice["status"] in ("paid", "void") and set(p) - {"metadata", "expand"}:
        raise StripeError(
            f"This invoice is {invoice['status']}: only `metadata` can be updated.",
            code="invoice_not_editable",
        )
    method = p.get("collection_method") or invoice["collection_method"]
    wants_due = "days_until_due" in p or bool(p.get("due_date"))
    if method == "charge_automatically" and wants_due:
        raise StripeError(
            "You can only set `days_until_due` or `due_date` when `collection_method` is "
            "`send_invoice`.",
            param="days_until_due" if "days_until_due" in p else "due_date",
        )
    if method == "send_invoice" and not wants_due and invoice["due_date"] is None:
        raise StripeError(
            "Invoices with `collection_method=send_invoice` require `days_until_due` or "
            "`due_date`.",
            code="parameter_missing",
            param="days_until_due",
        )
    if method == "charge_automatically" and invoice["due_date"] is not None:
        p = {**p, "due_date": None}
        ctx.account.counters.pop(DAYS_KEY + invoice["id"], None)
    if p.get("number"):
        check_number(ctx.account, p["number"], other_than=invoice["id"])
    previous = apply(invoice, p, UPDATABLE)
    if "days_until_due" in p:
        ctx.account.counters[DAYS_KEY + invoice["id"]] = p["days_until_due"]
        due = ctx.now() + p["days_until_due"] * DAY
        if invoice["due_date"] != due:
            previous.setdefault("due_date", invoice["due_date"])
            invoice["due_date"] = due
    elif p.get("due_date"):
        ctx.account.counters.pop(DAYS_KEY + invoice["id"], None)
    if "discounts" in p:
        previous.update(
            discounts.update_invoice_discounts(ctx.sandbox, ctx.account, invoice, p["discounts"])
        )
        invoice_items.refresh_totals(invoice, ctx.account)
    if "payment_settings" in p:
        types = (p["payment_settings"] or {}).get("payment_method_types") or None
        account_settings.check_types(ctx.account, types, PM_TYPES_PARAM)
        if types != invoice["payment_settings"]["payment_method_types"]:
            previous["payment_settings"] = copy.deepcopy(invoice["payment_settings"])
            invoice["payment_settings"]["payment_method_types"] = types
    if previous:
        ctx.emit("invoice.updated", invoice, previous)
    return invoice


@router.route("DELETE", "/v1/invoices/{id}", "InvoiceDeleteParams")
def delete_invoice(ctx: Ctx) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    if invoice["status"] != "draft":
        raise StripeError(
            "You can only delete draft invoices. This invoice is "
            f"{invoice['status']}; void it instead.",
            code="invoice_not_editable",
        )
    for item in ctx.sandbox.all(ctx.account, "invoiceitem"):
        if item["invoice"] == invoice["id"]:
            ctx.sandbox.remove(ctx.account, item["id"])
    ctx.sandbox.remove(ctx.account, invoice["id"])
    ctx.emit("invoice.deleted", invoice)
    return {"id": invoice["id"], "object": "invoice", "deleted": True}


def _subscription_of(invoice: dict[str, Any]) -> str | None:
    parent = invoice.get("parent") or {}
    return (parent.get("subscription_details") or {}).get("subscription")


@router.route("GET", "/v1/invoices", "InvoiceListParams")
def list_invoices(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    items = ctx.sandbox.all(ctx.account, "invoice")
    for name in ("customer", "status", "collection_method"):
        if name in p:
            items = [i for i in items if i[name] == p[name]]
    if "subscription" in p:
        items = [i for i in items if _subscription_of(i) == p["subscription"]]
    return listing.page(items, p, "/v1/invoices", kind="invoice")


@router.route("POST", "/v1/invoices/{id}/finalize", "InvoiceFinalizeInvoiceParams")
def finalize_invoice(ctx: Ctx) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    return finalize(
        ctx.sandbox, ctx.account, invoice, ctx.base_url, auto_advance=ctx.params.get("auto_advance")
    )


@router.route("POST", "/v1/invoices/{id}/send", "InvoiceSendInvoiceParams")
def send_invoice(ctx: Ctx) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    if invoice["collection_method"] != "send_invoice":
        raise StripeError(
            "You can only manually send an invoice if its collection method is 'send_invoice'.",
        )
    if invoice["status"] == "draft":
        finalize(ctx.sandbox, ctx.account, invoice, ctx.base_url)
    if invoice["status"] in ("void", "uncollectible"):
        raise StripeError(f"You can't send an invoice that is {invoice['status']}.")
    ctx.emit("invoice.sent", invoice)
    return invoice


def _payable(invoice: dict[str, Any]) -> None:
    if invoice["status"] == "paid":
        raise StripeError("Invoice is already paid.")
    if invoice["status"] == "void":
        raise StripeError("This invoice has been voided and can no longer be paid.")


# What names a payment to make: meaningless when the invoice was paid outside Stripe.
CHARGE_PARAMS = ("payment_method", "source", "mandate")


def _check_out_of_band(ctx: Ctx, invoice: dict[str, Any]) -> None:
    """`paid_out_of_band=true` marks an open (or uncollectible) invoice paid with no charge.
    A draft is refused rather than finalized (Stripe's transitions table lists `pay` only
    from open and uncollectible, and its staff answer "finalize it, then change its status
    to paid"), and so is a payment to make named with it (docs silent: the strict
    reading)."""
    for name in CHARGE_PARAMS:
        if ctx.params.get(name):
            raise StripeError(
                f"You cannot pass `{name}` when marking an invoice paid out of band: no "
                "payment is made.",
                param=name,
            )
    if invoice["status"] == "draft":
        raise StripeError(
            "You can only pass in open or uncollectible invoices. This invoice is a draft: "
            "finalize it first."
        )


@router.route("POST", "/v1/invoices/{id}/pay", "InvoicePayParams")
def pay_invoice(ctx: Ctx) -> dict[str, Any]:
    sandbox, account = ctx.sandbox, ctx.account
    invoice = ctx.get("invoice", ctx.path["id"])
    _payable(invoice)
    if ctx.params.get("paid_out_of_band"):
        _check_out_of_band(ctx, invoice)
    if invoice["status"] == "draft":
        finalize(sandbox, account, invoice, ctx.base_url)
        if invoice["status"] == "paid":
            return invoice
    if payments.processing_intent(account, invoice) is not None:
        raise StripeError(
            "This invoice has a payment that is processing; wait for it to settle.",
            code="invoice_payment_intent_requires_action",
        )
    if ctx.params.get("paid_out_of_band"):
        previous = {"status": invoice["status"], "amount_paid": invoice["amount_paid"]}
        now = ctx.now()
        invoice["amount_paid"] += invoice["amount_remaining"]
        invoice["amount_remaining"] = 0
        invoice["status"] = "paid"
        invoice["status_transitions"]["paid_at"] = now
        payments.cancel_open_intents(sandbox, account, invoice)
        ctx.emit("invoice.paid", invoice, previous)
        return invoice
    pm_id = (
        ctx.params.get("payment_method")
        or invoice.get("default_payment_method")
        or payment_methods.customer_default_id(
            sandbox.find(account, "customer", invoice["customer"])
        )
    )
    if not pm_id:
        raise StripeError(
            "This customer has no attached payment source or default payment method. Please "
            "consider adding a default payment method.",
            status=402,
            type="card_error",
        )
    # One of Stripe's test tokens stands for a new card (or bank account); a stored
    # PaymentMethod is charged itself.
    method = payment_methods.token_method(pm_id)
    if method is not None:
        intent = payments.pay_invoice(sandbox, account, invoice, method=method)
    else:
        intent = payments.pay_invoice(sandbox, account, invoice, payment_method=pm_id)
    if intent["status"] == "requires_payment_method":
        error = intent["last_payment_error"] or {}
        raise StripeError(
            error.get("message") or "Your card was declined.",
            status=402,
            type="card_error",
            code=error.get("code") or "card_declined",
            extra={
                "decline_code": error.get("decline_code"),
                "charge": intent["latest_charge"],
                "payment_intent": copy.deepcopy(intent),
            },
        )
    return invoice


@router.route("POST", "/v1/invoices/{id}/void", "InvoiceVoidInvoiceParams")
def void_invoice(ctx: Ctx) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    if invoice["status"] == "draft":
        raise StripeError(
            "You can't void a draft invoice; delete it instead.", code="invoice_not_editable"
        )
    if invoice["status"] in ("paid", "void"):
        raise StripeError(
            f"You can't void an invoice that is {invoice['status']}.",
            code="invoice_not_editable",
        )
    if payments.processing_intent(ctx.account, invoice) is not None:
        raise StripeError(
            "This invoice has a payment that is processing and can't be voided.",
            code="invoice_payment_intent_requires_action",
        )
    previous = {"status": invoice["status"]}
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = ctx.now()
    payments.cancel_open_intents(ctx.sandbox, ctx.account, invoice)
    ctx.emit("invoice.voided", invoice, previous)
    return invoice


@router.route("POST", "/v1/invoices/{id}/mark_uncollectible", "InvoiceMarkUncollectibleParams")
def mark_uncollectible(ctx: Ctx) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    if invoice["status"] != "open":
        raise StripeError(
            f"You can only mark open invoices as uncollectible; this invoice is "
            f"{invoice['status']}.",
            code="invoice_not_editable",
        )
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = ctx.now()
    ctx.emit("invoice.marked_uncollectible", invoice, {"status": "open"})
    return invoice


@router.route("GET", "/v1/invoices/{id}/lines", "InvoiceListLinesParams")
def list_lines(ctx: Ctx) -> dict[str, Any]:
    invoice = ctx.get("invoice", ctx.path["id"])
    url = f"/v1/invoices/{invoice['id']}/lines"
    return listing.page(invoice["lines"]["data"], ctx.params, url, kind="line_item")


# ---- invoice payments ---------------------------------------------------------------------
@router.route("GET", "/v1/invoice_payments/{id}", "InvoicePaymentRetrieveParams")
def retrieve_invoice_payment(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("invoice_payment", ctx.path["id"])


@router.route("GET", "/v1/invoice_payments", "InvoicePaymentListParams")
def list_invoice_payments(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    items = ctx.sandbox.all(ctx.account, "invoice_payment")
    if "invoice" in p:
        items = [i for i in items if i["invoice"] == p["invoice"]]
    if "status" in p:
        items = [i for i in items if i["status"] == p["status"]]
    payment = p.get("payment") or {}
    if payment.get("payment_intent"):
        items = [
            i for i in items if i["payment"].get("payment_intent") == payment["payment_intent"]
        ]
    if payment.get("type"):
        items = [i for i in items if i["payment"]["type"] == payment["type"]]
    return listing.page(items, p, "/v1/invoice_payments", kind="invoice_payment")
