"""Invoice items, invoice lines and invoice totals.

An item with an `invoice` is shown on that (draft) invoice as a line item; an item without
one is pending and is pulled into the customer's next invoice created with
`pending_invoice_items_behavior=include` (the default is `exclude`). Lines live embedded in
the invoice's `lines` list; `add_line` and `refresh_totals` are also used by subscriptions.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from regentra.sandbox.stripe import currencies, listing
from regentra.sandbox.stripe.errors import StripeError, missing_parameter
from regentra.sandbox.stripe.resources import discounts
from regentra.sandbox.stripe.resources._util import currency, merge_metadata
from regentra.sandbox.stripe.routing import Ctx, Router
from regentra.sandbox.stripe.state import Account, Sandbox, random_token

router = Router()

# Changelog 2016-02-22: "Returns an error on attempts to add more than 250 invoice items to an
# invoice". Stripe does not publish the error's wording; ours names the limit and the counts.
MAX_INVOICE_ITEMS = 250


def invoice_item_count(invoice: dict[str, Any]) -> int:
    """How many invoice items the invoice holds (its lines made from invoice items)."""
    return sum(
        1 for line in invoice["lines"]["data"] if line["parent"]["type"] == "invoice_item_details"
    )


def check_room(invoice: dict[str, Any], adding: int, *, param: str = "invoice") -> None:
    """Refuse to put `adding` more invoice items on `invoice` past Stripe's 250."""
    count = invoice_item_count(invoice)
    if count + adding > MAX_INVOICE_ITEMS:
        raise StripeError(
            f"Invoice {invoice['id']} has {count} invoice items and an invoice can have at most "
            f"{MAX_INVOICE_ITEMS}: adding {adding} more would make {count + adding}.",
            param=param,
        )


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _pricing(price: dict[str, Any] | None, unit: Decimal) -> dict[str, Any]:
    return {
        "price_details": {"price": price["id"], "product": price["product"]} if price else None,
        "type": "price_details",
        "unit_amount_decimal": _decimal_text(unit),
    }


def refresh_totals(invoice: dict[str, Any], account: Account | None = None) -> None:
    """Recompute an invoice's amounts from its lines and (given the account, where its
    coupons are) its discounts; no taxes. The customer's balance is applied at
    finalization (`balances`)."""
    subtotal = sum(line["amount"] for line in invoice["lines"]["data"])
    if account is not None:
        invoice["total_discount_amounts"] = discounts.discount_amounts(account, invoice)
    total = subtotal - sum(d["amount"] for d in invoice.get("total_discount_amounts") or [])
    paid = invoice.get("amount_paid", 0)
    invoice.update(
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal,
        total=total,
        total_excluding_tax=total,
        amount_due=max(total, 0),
        amount_remaining=max(max(total, 0) - paid, 0),
    )


def add_line(
    sandbox: Sandbox,
    account: Account,
    invoice: dict[str, Any],
    *,
    amount: int,
    description: str | None,
    quantity: int = 1,
    price: dict[str, Any] | None = None,
    period: dict[str, int] | None = None,
    invoice_item: str | None = None,
    subscription: str | None = None,
    subscription_item: str | None = None,
    proration: bool = False,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Append a line item to a draft invoice and refresh its totals. A line comes from an
    invoice item, or (with `subscription_item`) from a subscription item."""
    now = sandbox.now()
    if subscription_item:
        parent: dict[str, Any] = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": invoice_item,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
                "subscription_item": subscription_item,
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": invoice_item or "",
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    unit = Decimal(amount) / Decimal(quantity or 1)
    line = {
        "id": "il_" + random_token(),
        "object": "line_item",
        "amount": amount,
        "currency": invoice["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": amount >= 0,
        "discounts": [],
        "invoice": invoice["id"],
        "livemode": account.livemode,
        "metadata": dict(metadata or {}),
        "parent": parent,
        "period": dict(period or {"end": now, "start": now}),
        "pretax_credit_amounts": [],
        "pricing": _pricing(price, unit),
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "subscription": subscription,
        "subtotal": amount,
        "taxes": [],
    }
    invoice["lines"]["data"].append(line)
    refresh_totals(invoice, account)
    return line


def attach_item(
    sandbox: Sandbox, account: Account, item: dict[str, Any], invoice: dict[str, Any]
) -> None:
    """Put a pending invoice item on a draft invoice."""
    item["invoice"] = invoice["id"]
    price_id = (item["pricing"].get("price_details") or {}).get("price")
    price = account.objects.get(price_id) if price_id else None
    add_line(
        sandbox,
        account,
        invoice,
        amount=item["amount"],
        description=item["description"],
        quantity=item["quantity"],
        price=price,
        period=item["period"],
        invoice_item=item["id"],
        metadata=item["metadata"],
    )


def pull_pending_items(sandbox: Sandbox, account: Account, invoice: dict[str, Any]) -> None:
    """`pending_invoice_items_behavior=include`: the customer's pending items, oldest first.
    More than the 250 an invoice can hold: refused, and the new invoice is not kept."""
    pending = [
        item
        for item in reversed(sandbox.all(account, "invoiceitem"))
        if item["invoice"] is None
        and item["customer"] == invoice["customer"]
        and item["currency"] == invoice["currency"]
    ]
    try:
        check_room(invoice, len(pending), param="pending_invoice_items_behavior")
    except StripeError:
        sandbox.remove(account, invoice["id"])
        raise
    for item in pending:
        attach_item(sandbox, account, item, invoice)


def _draft_invoice(ctx: Ctx, invoice_id: str) -> dict[str, Any]:
    invoice = ctx.get("invoice", invoice_id, "invoice")
    if invoice["status"] != "draft":
        raise StripeError(
            f"Invoice {invoice_id} is no longer editable: you can only add invoice items to "
            "draft invoices.",
            code="invoice_not_editable",
            param="invoice",
        )
    return invoice


@router.route("POST", "/v1/invoiceitems", "InvoiceItemCreateParams")
def create_invoice_item(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    invoice = _draft_invoice(ctx, p["invoice"]) if p.get("invoice") else None
    if invoice:
        check_room(invoice, 1)
    customer_id = p.get("customer") or (invoice["customer"] if invoice else None)
    if not customer_id:
        raise missing_parameter("customer")
    ctx.get("customer", customer_id, "customer")
    if invoice and invoice["customer"] != customer_id:
        raise StripeError(
            "The invoice item's customer must match the invoice's customer.", param="invoice"
        )
    given = [k for k in ("amount", "pricing", "price_data", "unit_amount_decimal") if k in p]
    if len(given) != 1:
        raise StripeError(
            "You must pass exactly one of `amount`, `pricing[price]`, `price_data` or "
            "`unit_amount_decimal`.",
            param="amount",
        )
    if "amount" in p and "quantity" in p:
        # `amount` is the item's total; a quantity needs a unit price (stripe-php#777).
        raise StripeError(
            "You may only specify one of these parameters: amount, quantity.", param="quantity"
        )
    quantity = p.get("quantity", 1)
    if quantity < 0:
        raise StripeError("Invalid integer: quantity must be >= 0", param="quantity")
    price: dict[str, Any] | None = None
    description = p.get("description")
    if "pricing" in p:
        price_id = p["pricing"].get("price")
        if not price_id:
            raise missing_parameter("pricing[price]")
        price = ctx.get("price", price_id, "pricing[price]")
        if price["type"] != "one_time":
            raise StripeError(
                f"The price specified ({price_id}) is set to `type=recurring` but this field "
                "only accepts prices with `type=one_time`.",
                param="pricing[price]",
            )
        unit = Decimal(price["unit_amount_decimal"])
        cur = price["currency"]
    elif "price_data" in p:
        data = p["price_data"]
        product = ctx.get("product", data["product"], "price_data[product]")
        raw = data.get("unit_amount", data.get("unit_amount_decimal"))
        if raw is None:
            raise missing_parameter("price_data[unit_amount]")
        unit = Decimal(str(raw))
        cur = currency(data["currency"], "price_data[currency]")
        price = ctx.add(
            {
                "object": "price",
                "active": False,
                "billing_scheme": "per_unit",
                "created": ctx.now(),
                "currency": cur,
                "custom_unit_amount": None,
                "lookup_key": None,
                "metadata": {},
                "nickname": None,
                "product": product["id"],
                "recurring": None,
                "tax_behavior": data.get("tax_behavior", "unspecified"),
                "tiers_mode": None,
                "transform_quantity": None,
                "type": "one_time",
                "unit_amount": int(unit),
                "unit_amount_decimal": _decimal_text(unit),
            }
        )
    else:
        if "currency" not in p:
            raise missing_parameter("currency")
        cur = currency(p["currency"])
        if "amount" in p:
            unit = Decimal(p["amount"]) / Decimal(quantity or 1)
        else:
            unit = Decimal(str(p["unit_amount_decimal"]))
    if "currency" in p and currency(p["currency"]) != cur:
        raise StripeError("The currency must match the price's currency.", param="currency")
    if invoice and invoice["currency"] != cur:
        raise StripeError(
            f"The currency of this invoice item ({cur}) must match the currency of invoice "
            f"{invoice['id']} ({invoice['currency']}).",
            param="currency",
        )
    if price and description is None:
        named = ctx.sandbox.find(ctx.account, "product", price["product"])
        description = named["name"] if named else None
    amount = (
        p["amount"]
        if "amount" in p
        else int((unit * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    )
    # What the item charges must be an amount the currency allows (ISK, three-decimal).
    if "price_data" in p:
        currencies.check_amount(unit, cur, "price_data[unit_amount]")
    given_param = {"pricing": "pricing[price]", "price_data": "price_data[unit_amount]"}
    currencies.check_amount(amount, cur, given_param.get(given[0], given[0]))
    now = ctx.now()
    item = ctx.add(
        {
            "object": "invoiceitem",
            "amount": amount,
            "currency": cur,
            "customer": customer_id,
            "customer_account": None,
            "date": now,
            "description": description,
            "discountable": p.get("discountable", amount >= 0),
            "discounts": [],
            "invoice": None,
            "metadata": merge_metadata({}, p.get("metadata", {})),
            "net_amount": amount,
            "parent": None,
            "period": p.get("period", {"end": now, "start": now}),
            "pricing": _pricing(price, unit),
            "proration": False,
            "quantity": quantity,
            "quantity_decimal": str(quantity),
            "tax_rates": [],
            "test_clock": None,
        }
    )
    if invoice:
        attach_item(ctx.sandbox, ctx.account, item, invoice)
    ctx.emit("invoiceitem.created", item)
    return item


@router.route("GET", "/v1/invoiceitems/{id}", "InvoiceItemRetrieveParams")
def retrieve_invoice_item(ctx: Ctx) -> dict[str, Any]:
    return ctx.get("invoiceitem", ctx.path["id"])


@router.route("DELETE", "/v1/invoiceitems/{id}", "InvoiceItemDeleteParams")
def delete_invoice_item(ctx: Ctx) -> dict[str, Any]:
    item = ctx.get("invoiceitem", ctx.path["id"])
    invoice = ctx.sandbox.find(ctx.account, "invoice", item["invoice"] or "")
    if invoice is not None:
        if invoice["status"] != "draft":
            raise StripeError(
                "You can't delete an invoice item that is attached to an invoice that is no "
                "longer editable.",
                code="invoice_not_editable",
                param="id",
            )
        invoice["lines"]["data"] = [
            line
            for line in invoice["lines"]["data"]
            if (line["parent"].get("invoice_item_details") or {}).get("invoice_item") != item["id"]
        ]
        refresh_totals(invoice, ctx.account)
    ctx.sandbox.remove(ctx.account, item["id"])
    ctx.emit("invoiceitem.deleted", item)
    return {"id": item["id"], "object": "invoiceitem", "deleted": True}


@router.route("GET", "/v1/invoiceitems", "InvoiceItemListParams")
def list_invoice_items(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    items = ctx.sandbox.all(ctx.account, "invoiceitem")
    if "customer" in p:
        items = [i for i in items if i["customer"] == p["customer"]]
    if "invoice" in p:
        items = [i for i in items if i["invoice"] == p["invoice"]]
    if "pending" in p:
        items = [i for i in items if (i["invoice"] is None) == p["pending"]]
    return listing.page(items, p, "/v1/invoiceitems", kind="invoiceitem")
